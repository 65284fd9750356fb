"""``Client``: the public methods, and the wiring of the parts.

Events: public method -> ``_events`` (argument binding, pure message building) -> ``_delivery``
(bounded queue, consumer thread, transport). Flags: public method -> ``_flags.service``
(validation, resolver, poller) -> pure evaluation, and the transport only when local evaluation
cannot decide.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._config import Config, call_timeout, check_session, make_config
from ._delivery.consumer import Consumer
from ._delivery.intake import Intake
from ._delivery.transport import Transport
from ._events import api as _event_api
from ._events import messages
from ._flags import api as _flag_api
from ._flags.service import FlagService
from ._runtime import lifecycle as _lifecycle
from ._runtime import scopes as _scopes
from ._runtime.guard import guard
from ._runtime.logs import set_debug_logging
from ._types import Stats
from ._version import VERSION

if TYPE_CHECKING:
    import os

    import requests

    from ._config import BeforeSend, OnError

logger = logging.getLogger("posthog_client")


class Client:
    """A PostHog client: capture events and evaluate feature flags.

    Create one per process and reuse it; it is thread-safe. Only the constructor raises (on a bad
    option); every other method logs problems on the ``posthog_client`` logger and returns a
    neutral value. ``Posthog`` is the same class, under the official SDK's name; its option
    names (``project_api_key``, ``secret_key``, ``feature_flags_request_timeout_seconds``) are
    accepted too.
    """

    def __init__(
        self,
        api_key: str | None = None,
        host: str | None = None,
        *,
        project_api_key: str | None = None,
        personal_api_key: str | None = None,
        flush_at: int = Config.flush_at,
        flush_interval: float = Config.flush_interval,
        max_queue_size: int = Config.max_queue_size,
        max_retries: int | None = Config.max_retries,
        retry_window: float = Config.retry_window,
        retry_base_delay: float = Config.retry_base_delay,
        retry_max_delay: float = Config.retry_max_delay,
        timeout: float = Config.timeout,
        flags_timeout: float = Config.flags_timeout,
        poll_interval: float = Config.poll_interval,
        definitions_store: str | object | None = None,
        exit_timeout: float = Config.exit_timeout,
        gzip: bool = Config.gzip,
        sync_mode: bool = Config.sync_mode,
        disabled: bool = Config.disabled,
        debug: bool = Config.debug,
        disable_geoip: bool = Config.disable_geoip,
        historical_migration: bool = Config.historical_migration,
        capture_mode: str = Config.capture_mode,
        spool_path: str | os.PathLike[str] | bool | None = None,
        spool_max_bytes: int = Config.spool_max_bytes,
        spool_max_age: float = Config.spool_max_age,
        super_properties: Mapping[str, Any] | None = None,
        on_error: OnError | None = None,
        before_send: BeforeSend | list[BeforeSend] | None = None,
        session: requests.Session | None = None,
        **official_options: Any,
    ) -> None:
        options = dict(locals())
        del options["self"], options["api_key"], options["session"], options["official_options"]
        self._config = config = make_config(api_key, **options, **official_options)
        check_session(session)
        if config.debug:
            set_debug_logging(True)
        if not config.api_key and not disabled:
            logger.warning("posthog_client: no api_key given; this client sends nothing")
        static = messages.static_properties(VERSION, config.disable_geoip)
        self._static = {**static, **config.super_properties}
        # The parts get the options without the user's callbacks: a callback that refers to its
        # client must not keep a dropped client alive through the parts' threads.
        core = dataclasses.replace(config, on_error=None, before_send=())
        self._transport = Transport(config.host, session)
        on_error_source = functools.partial(_on_error_of, weakref.ref(self))
        self._consumer = Consumer(core, self._transport, self._static, on_error_source)
        self._consumer.start_replay()  # with a spool: rows left by an earlier run go out now
        self._intake = Intake(self._consumer, self._static, config.before_send)
        self._flags = FlagService(core, self._transport, self._intake.emit)
        # A client dropped without shutdown() must not leave its threads behind (the stopper
        # stops whatever poller the flag service has then: one may start later, when enabled).
        stopper = self._flags.stopper
        self._finalizer = weakref.finalize(self, _lifecycle.release, self._consumer, stopper)
        _lifecycle.add_client(self)

    def __repr__(self) -> str:
        return f"<posthog_client.Client host={self._config.host!r} disabled={self.disabled!r}>"

    @property
    def disabled(self) -> bool:
        """True: every call is a no-op. Can be changed at any time."""
        return self._config.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        if not value and not self._config.api_key:
            logger.warning("posthog_client: a client without an api_key stays disabled")
            return
        self._config = dataclasses.replace(self._config, disabled=bool(value))
        self._flags.set_disabled(bool(value))

    @property
    def debug(self) -> bool:
        """True: log what the SDK does at debug level. Can be changed at any time."""
        return self._config.debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._config = dataclasses.replace(self._config, debug=bool(value))
        set_debug_logging(bool(value))

    @property
    def host(self) -> str:
        return self._config.host

    # -- events: the methods are in _events/api.py -------------------------------------------

    capture = _event_api.capture
    _capture = _event_api.capture_call
    identify = _event_api.identify
    set = _event_api.set
    set_once = _event_api.set_once
    alias = _event_api.alias
    group_identify = _event_api.group_identify
    capture_exception = _event_api.capture_exception
    _capture_exception = _event_api.capture_exception_with

    # -- feature flags: the methods are in _flags/api.py --------------------------------------

    feature_enabled = _flag_api.feature_enabled
    get_feature_flag = _flag_api.get_feature_flag
    get_feature_flag_result = _flag_api.get_feature_flag_result
    get_feature_flag_payload = _flag_api.get_feature_flag_payload
    get_all_flags = _flag_api.get_all_flags
    get_all_flags_and_payloads = _flag_api.get_all_flags_and_payloads
    evaluate_flags = _flag_api.evaluate_flags
    explain_flags = _flag_api.explain_flags
    load_feature_flags = _flag_api.load_feature_flags

    # -- request context (the same for every client; here as in the official SDK) -------------

    @_scopes.context_guard
    def new_context(
        self, fresh: bool = False, capture_exceptions: bool | None = None
    ) -> _scopes.Scope:
        """``with client.new_context(): ...``: a request context for the block (see the module
        function). ``capture_exceptions=True``: an exception leaving the block is captured with
        this client, then re-raised."""
        return _scopes.scope(fresh, self.capture_exception if capture_exceptions else None)

    @_scopes.decorator_guard
    def scoped(
        self, fresh: bool = False, capture_exceptions: bool | None = None
    ) -> Callable[[_scopes.F], _scopes.F]:
        """``@client.scoped()``: each call of the decorated function (sync or async) runs in a
        ``new_context`` of its own."""
        return _scopes.decorator(fresh, self.capture_exception if capture_exceptions else None)

    tag = staticmethod(_scopes.tag)
    get_tags = staticmethod(_scopes.get_tags)
    identify_context = staticmethod(_scopes.identify_context)
    set_context_session = staticmethod(_scopes.set_context_session)
    set_context_device_id = staticmethod(_scopes.set_context_device_id)

    # -- lifecycle -----------------------------------------------------------------------------

    @guard(False)
    def flush(self, timeout: float = 10.0, *, timeout_seconds: float | None = None) -> bool:
        """Deliver everything captured before this call; wait at most ``timeout`` seconds
        (``timeout_seconds``: the official SDK's name).

        Returns True when every such event was delivered; False when the deadline passed or
        some were dropped or of unknown outcome (``stats()`` and ``on_error`` tell which).
        """
        seconds = timeout if timeout_seconds is None else timeout_seconds
        return self._consumer.flush(call_timeout(seconds))

    @guard(False)
    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the background threads. Idempotent; bounded by ``timeout``.

        When it returns, every event is delivered, dropped (counted, given to ``on_error``) or
        of unknown outcome (counted). Returns True when every event was delivered.
        """
        if self._intake.closed:
            return self._consumer.pending() == 0
        self._intake.closed = True
        self._flags.stop()
        lost = self._consumer.ledger.lost
        left = self._consumer.shutdown(call_timeout(timeout))
        self._transport.close()
        return left == 0 and self._consumer.ledger.lost == lost

    @guard(False)
    def join(self, timeout: float = 10.0) -> bool:
        """``shutdown()``, under the official SDK's name."""
        return bool(self.shutdown(timeout))

    def _retire(self) -> None:
        """Stop taking events and let the background thread deliver what it holds, without
        waiting (the module-level client being replaced). The exit hook flushes what is left."""
        self._intake.closed = True
        self._flags.stop()
        self._consumer.release()

    @guard(Stats())
    def stats(self) -> Stats:
        """Delivery counters: accepted, sent, retried, pending, dropped by reason, requests;
        ``flags``: where flag definitions come from (role, fence, snapshot age, fetches, 304s,
        store errors, lease changes)."""
        return dataclasses.replace(self._consumer.stats(), flags=self._flags.stats())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


Posthog = Client  # the official SDK's name


def _on_error_of(ref: weakref.ref[Client]) -> OnError | None:
    """The client's ``on_error``, found through a weak reference (None once it is gone)."""
    client = ref()
    return None if client is None else client._config.on_error
