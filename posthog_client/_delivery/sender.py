"""One batch's request, and what its answer means for each of its events: sent, to retry
(after a backoff, honouring ``Retry-After``), dropped (counted, given to ``on_error``) or of
unknown outcome. The protocol details (v0 or v1, which statuses are retried, per-event verdicts)
are in ``wire``; the consumer calls ``post`` without its lock and ``settle`` under it."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._config import Config
from .._errors import redact
from .._events.messages import format_epoch
from .._version import VERSION
from .batches import Batch, Outbox
from .ledger import Ledger
from .retry import parse_retry_after, retry_delay
from .transport import HTTPResult, Transport
from .wire import PATHS, V1, judge, new_request_id, v0_body, v1_body, v1_headers

logger = logging.getLogger("posthog_client")

SDK_INFO = f"posthog-client/{VERSION}"  # capture v1: the server derives $lib/$lib_version


@dataclass
class Settlement:
    reports: list[Callable[[], None]]
    retry_delay: float | None  # the batch (what is left of it) is to be sent again after this
    failing: bool  # PostHog failed (no answer or an error status), not just some events


class Sender:
    def __init__(self, config: Config, transport: Transport, ledger: Ledger) -> None:
        self._config = config
        self._transport = transport
        self.ledger = ledger
        self._rng = random.Random()

    def post(self, batch: Batch, while_waiting: Callable[[], None] | None = None) -> HTTPResult:
        """Send one attempt of ``batch`` (v1 headers and ids stay the same across attempts);
        ``while_waiting`` may run while the answer is awaited (``Transport.post``)."""
        config = self._config
        batch.attempts += 1
        now = time.time()
        headers = None
        protocol = batch.protocol or config.capture_mode
        if protocol == V1:
            if batch.request_id is None:
                batch.request_id, batch.created_at = new_request_id(), format_epoch(now)
            body = v1_body(batch.events, batch.created_at, config.historical_migration)
            headers = v1_headers(config.api_key, SDK_INFO, batch.attempts, batch.request_id, now)
        else:
            body = v0_body(config.api_key, batch.events, now, config.historical_migration)
        result = self._transport.post(
            PATHS[protocol],
            body,
            deadline=config.timeout,
            compress=config.gzip,
            headers=headers,
            while_waiting=while_waiting,
        )
        if logger.isEnabledFor(logging.DEBUG):
            keys = (config.api_key, config.personal_api_key)
            logger.debug(
                "posthog_client: sent a batch of %d event(s), %d bytes, attempt %d: %s",
                len(batch.events),
                len(body),
                batch.attempts,
                "ok" if result.ok else redact(result.describe(), keys),
            )
        return result

    def settle(
        self, batch: Batch, result: HTTPResult, outbox: Outbox, spooling: bool
    ) -> Settlement:
        """Apply one answer to one batch (under the consumer's lock): count what was settled,
        keep what is to be retried (and say when); ``reports`` report the losses (run them
        outside the lock). With a spool (``spooling``) the retry window does not apply: the
        spool's own bounds do."""
        config = self._config
        verdict = judge(
            batch.protocol or config.capture_mode,
            result.status,
            result.body,
            result.describe(),
            batch.uuids,
        )
        if result.status is None and result.sent:
            batch.maybe_delivered = True  # written completely, never answered: PostHog may have it
        if result.ok:
            outbox.cool_until = 0.0
        count = self.ledger.replayed if batch.row_id is not None else self.ledger.sent
        if verdict.sent:
            count(len(verdict.sent))
        if verdict.unknown:
            self.ledger.unknown(len(verdict.unknown), verdict.detail)
        if verdict.split:
            outbox.requeue_first(batch.split())
            return Settlement([], None, False)
        by_reason: dict[str, list[tuple[int, str, str]]] = {}
        for drop in verdict.drop:  # one report (and one on_error call) per reason, in order
            by_reason.setdefault(drop[1], []).append(drop)
        reports = [self._report(batch, drops, result) for drops in by_reason.values()]
        if not verdict.retry:
            batch.done = True
            return Settlement(reports, None, False)
        now = time.monotonic()
        if batch.first_failure is None:
            batch.first_failure = now
        reason = None
        if config.max_retries is not None and batch.attempts > config.max_retries:
            reason = "retries_exhausted"
        elif not spooling and now - batch.first_failure >= config.retry_window:
            reason = "retry_window"
        if reason is not None:
            batch.done = True
            left = [(i, reason, result.describe()) for i in verdict.retry]
            if batch.maybe_delivered:
                self.ledger.unknown(len(left), f"{reason} after an unanswered attempt")
            else:
                reports.append(self._report(batch, left, result))
            return Settlement(reports, None, False)
        batch.keep(verdict.retry)
        delay = retry_delay(
            batch.attempts,
            config.retry_base_delay,
            config.retry_max_delay,
            parse_retry_after(result.headers.get("Retry-After"), dt.datetime.now(dt.timezone.utc)),
            self._rng.random(),
        )
        self.ledger.retrying(len(verdict.retry), result.describe())
        logger.debug(
            "posthog_client: %d event(s) failed (%s); retry in %.2f s",
            len(verdict.retry),
            self.ledger.last_error,
            delay,
        )
        return Settlement(reports, delay, not result.ok)

    def _report(
        self, batch: Batch, drops: list[tuple[int, str, str]], result: HTTPResult
    ) -> Callable[[], None]:
        """Count and report events of one batch dropped for one reason (run outside the lock)."""
        events = [batch.events[index] for index, _, _ in drops]
        uuids = [batch.uuids[index] for index, _, _ in drops]
        _, reason, detail = drops[0]
        if batch.row_id is not None:  # spooled events: counted apart
            return functools.partial(self.ledger.spool_drop, events, reason)
        return functools.partial(
            self.ledger.drop,
            events,
            reason,
            detail,
            result.status,
            uuids=uuids,
            request_id=batch.request_id,
            attempts=batch.attempts,
        )
