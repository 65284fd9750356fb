"""Exceptions raised by posthog_client.

Only the constructor raises (a bad option is a programming error worth failing fast on); every
other public method logs and returns a neutral value instead. The tree::

    PostHogError
    ├── ConfigError (ValueError)          an option has a bad value
    │   └── ConfigTypeError (TypeError)   an option has the wrong type
    └── APIError                          a request got an unusable answer (passed to on_error)
        └── QuotaLimitedError             the project is over its quota for this product
"""

from __future__ import annotations

from collections.abc import Sequence


class PostHogError(Exception):
    """Base class of every exception defined by posthog_client."""


class ConfigError(PostHogError, ValueError):
    """An option given to ``Client`` has a bad value."""


class ConfigTypeError(ConfigError, TypeError):
    """An option given to ``Client`` has the wrong type."""


class APIError(PostHogError):
    """The server answered with an error, or could not be reached.

    ``status`` is the HTTP status, or ``None`` when no answer arrived (refused connection,
    deadline exceeded). The message never contains keys or request bodies, and at most a short
    excerpt of the server's answer.
    """

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
        attempts: int = 0,
        uuids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason  # the drop reason counted in stats(): "rejected_4xx", ...
        self.request_id = request_id  # capture v1: the PostHog-Request-Id of the batch
        self.attempts = attempts
        self.uuids = list(uuids)  # of the events given up on

    @property
    def retry_exhausted(self) -> list[str]:
        """Uuids given up on after their last retry (as the official SDK's capture v1 error)."""
        return self.uuids if self.reason == "retries_exhausted" else []

    @property
    def drops(self) -> list[tuple[str, str]]:
        """(uuid, details) of events PostHog's capture v1 answer dropped."""
        return [(u, self.message) for u in self.uuids] if self.reason == "dropped_by_server" else []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class InvalidCall(ValueError):
    """A public call's arguments cannot be used (not public: never raised to the caller). The
    never-raise guard turns it into one rate-limited warning naming the caller's line."""


def redact(text: str, secrets: tuple[str | None, ...]) -> str:
    """Remove keys from text that came from elsewhere (a server's error message, say)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


class QuotaLimitedError(APIError):
    """The project is over its quota for this product (feature flags, usually)."""
