"""What every command shares: settings, usage errors, exit codes and a short-deadline client."""

from __future__ import annotations

import dataclasses
import json
from typing import IO, TYPE_CHECKING, Any

from .._client import Client
from .._errors import ConfigError

if TYPE_CHECKING:
    import requests

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DOCTOR_ID = "posthog-client-doctor"  # the made-up user doctor's requests are for
# What doctor learned of the host from the /flags request.
UNREACHABLE, REFUSED, ANSWERED = "unreachable", "refused", "answered"


class UsageError(Exception):
    """A problem with how the command was called or configured (exit status 2)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a command needs besides its own arguments."""

    api_key: str
    personal_api_key: str
    host: str
    timeout: float
    json: bool
    out: IO[str]
    err: IO[str]
    session: requests.Session | None
    spool: str | None = None  # doctor --spool
    store: str = ""  # a definitions store URL (--store or POSTHOG_DEFINITIONS_STORE)

    def emit(self, text: str) -> None:
        self.out.write(text + "\n")

    def dump(self, data: object) -> None:
        self.out.write(json.dumps(data, indent=2, default=str) + "\n")


def make_client(settings: Settings, **options: Any) -> Client:
    if not settings.api_key:
        raise UsageError("POSTHOG_API_KEY is not set (your project API key, phc_...)")
    try:
        return Client(
            settings.api_key,
            host=settings.host,
            session=settings.session,
            timeout=settings.timeout,
            flags_timeout=settings.timeout,
            max_retries=1,
            retry_base_delay=0.5,
            retry_max_delay=1.0,
            exit_timeout=1.0,
            **options,
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class Check:
    status: str  # ok, info, warn, fail, skip
    message: str
    fix: str | None = None
