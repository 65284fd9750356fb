"""Misuse is named once, at the caller's line: every public method, called wrongly, logs one
WARNING naming the method, the problem and this file's line; never an "internal error", never an
exception, and a call site that keeps doing it is not allowed to flood the logs."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import posthog_client
from posthog_client import Client
from posthog_client._runtime import misuse
from posthog_client.testing import FakePostHog

CLIENT_METHODS = sorted(
    name
    for name, value in inspect.getmembers(Client)
    if not name.startswith("_") and callable(value) and not isinstance(value, type)
)
MODULE_FUNCTIONS = sorted(
    name for name in posthog_client.__all__ if inspect.isfunction(getattr(posthog_client, name))
)
# Methods that take no argument at all; the others are also called with none.
NO_ARGUMENTS = {"get_client", "get_tags", "load_feature_flags", "stats"}
# Valid required arguments, so that the unknown keyword is the call's only problem.
VALID: dict[str, tuple[Any, ...]] = {
    "alias": ("anon-1", "u1"),
    "evaluate_flags": ("u1",),
    "explain_flags": ("u1",),
    "feature_enabled": ("beta", "u1"),
    "get_all_flags": ("u1",),
    "get_all_flags_and_payloads": ("u1",),
    "get_feature_flag": ("beta", "u1"),
    "get_feature_flag_payload": ("beta", "u1"),
    "get_feature_flag_result": ("beta", "u1"),
    "group_identify": ("company", "acme"),
    "identify": ("u1",),
    "identify_context": ("u1",),
    "set_context_device_id": ("device-1",),
    "set_context_session": ("session-1",),
    "set_group_properties_for_flags": ({"company": {"plan": "pro"}},),
    "set_person_properties_for_flags": ({"plan": "pro"},),
    "tag": ("route", "/"),
}


def test_the_lists_are_complete() -> None:
    """A new public method is tested below without anyone having to remember it."""
    assert {"capture", "feature_enabled", "new_context", "join", "tag"} <= set(CLIENT_METHODS)
    assert {"capture", "get_client", "new_context", "flush"} <= set(MODULE_FUNCTIONS)
    assert len(CLIENT_METHODS) >= 24 and len(MODULE_FUNCTIONS) >= 24


@pytest.fixture
def client(fake: FakePostHog) -> Client:
    return fake.client(personal_api_key=None)


@pytest.fixture
def module(fake: FakePostHog) -> Iterator[FakePostHog]:
    with fake.patch_module(personal_api_key=None):
        yield fake


def call_here(method: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``method`` and return its result and the line it was called from."""
    line = sys._getframe().f_lineno + 1
    result = method(*args, **kwargs)
    return result, line


def one_warning(caplog: pytest.LogCaptureFixture, name: str, line: int) -> str:
    records = [r for r in caplog.records if r.name == "posthog_client"]
    messages = [r.getMessage() for r in records]
    assert len(records) == 1, messages
    assert records[0].levelno == logging.WARNING
    message = messages[0]
    assert f"{name}() at " in message, message
    assert f"test_misuse.py:{line}:" in message, message
    assert "internal error" not in message and "please report" not in message
    assert records[0].exc_info is None  # no traceback
    return message


def neutral(result: Any) -> None:
    if hasattr(result, "__enter__"):  # new_context: a context manager that does nothing
        with result:
            pass
    elif callable(result):  # scoped: a decorator that changes nothing
        assert result(len) is len
    elif isinstance(result, posthog_client.FeatureFlagEvaluations):  # evaluate_flags: no flags
        assert result.keys == []
    else:
        assert result in (None, False, True, {}, posthog_client.Stats()) or isinstance(
            result, (dict, posthog_client.Stats)
        )


@pytest.mark.parametrize("name", CLIENT_METHODS)
def test_every_client_method_named_an_unknown_keyword(
    client: Client, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    result, line = call_here(getattr(client, name), *VALID.get(name, ()), not_an_argument=1)
    message = one_warning(caplog, name, line)
    assert "unknown keyword argument 'not_an_argument'" in message
    neutral(result)


@pytest.mark.parametrize("name", MODULE_FUNCTIONS)
def test_every_module_function_named_an_unknown_keyword(
    module: FakePostHog, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    function = getattr(posthog_client, name)
    result, line = call_here(function, *VALID.get(name, ()), not_an_argument=1)
    message = one_warning(caplog, name, line)
    assert "unknown keyword argument 'not_an_argument'" in message
    neutral(result)


@pytest.mark.parametrize("name", sorted(set(CLIENT_METHODS) - NO_ARGUMENTS))
def test_every_client_method_with_too_many_arguments(
    client: Client, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    result, line = call_here(getattr(client, name), *range(12))
    one_warning(caplog, name, line)
    neutral(result)


REQUIRED = {
    "alias": "previous_id",
    "capture": "event",
    "feature_enabled": "key",
    "get_feature_flag": "key",
    "get_feature_flag_payload": "key",
    "get_feature_flag_result": "key",
    "group_identify": "group_type",
    "identify": "distinct_id",
    "identify_context": "distinct_id",
    "set_context_session": "session_id",
    "tag": "name",
}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_argument_is_named(
    module: FakePostHog, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    result, line = call_here(getattr(posthog_client, name))
    message = one_warning(caplog, name, line)
    assert REQUIRED[name] in message or "no event name" in message
    neutral(result)


BAD_VALUES: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("capture", ("u1", 42), {}, "event must be a non-empty string"),
    ("capture", ("", "e"), {}, "distinct_id is empty"),
    ("capture", ("e",), {"distinct_id": "u1", "properties": [1]}, "properties must be a dict"),
    ("capture", ("e",), {"distinct_id": "u1", "disable_geoip": "no"}, "disable_geoip must be"),
    ("capture", ("e",), {"distinct_id": "u1", "timestamp": "yesterday"}, "could not be read"),
    ("capture", ("u1", "e", {}), {"distinct_id": "u2"}, "ambiguous"),
    ("capture", ("e",), {"distinct_id": "u1", "propertes": {}}, "did you mean 'properties'"),
    ("set", (), {"properties": {"a": 1}}, "no distinct_id given"),
    ("alias", ("", "u2"), {}, "previous_id is empty"),
    ("group_identify", ("", "acme"), {}, "group_type must be"),
    ("capture_exception", (), {}, "no exception given, and none is being handled"),
    ("capture_exception", ("not an exception",), {}, "exception must be an exception"),
    ("feature_enabled", ("", "u1"), {}, "key must be a non-empty string"),
    ("get_feature_flag", ("beta",), {}, "no distinct_id given, and none in the context"),
    ("get_feature_flag", ("beta", "u1"), {"groups": "acme"}, "groups"),
    ("get_all_flags", ("u1",), {"flag_keys_to_evaluate": "beta"}, "flag_keys_to_evaluate"),
    ("identify_context", ("",), {}, "distinct_id must be a non-empty string"),
    ("tag", (None, 1), {}, "name must be a non-empty string"),
    ("new_context", ("yes",), {}, "fresh must be True or False"),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "problem"), BAD_VALUES)
def test_bad_values_are_named(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    problem: str,
) -> None:
    result, line = call_here(getattr(client, name), *args, **kwargs)
    message = one_warning(caplog, name, line)
    assert problem in message
    if "could not be read" in problem:  # the event is sent, with the current time
        assert isinstance(result, str)
    else:
        neutral(result)


def bad_calls(client: Client, times: int) -> None:
    for _ in range(times):
        client.capture("", "e")  # one call site


def test_a_call_site_that_keeps_failing_is_logged_once(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_calls(client, 1000)
    for _ in range(1000):
        client.capture("e", distinct_id="u1", not_an_argument=1)  # another call site
    lines = [r.getMessage() for r in caplog.records if r.name == "posthog_client"]
    assert len(lines) == 2, lines
    monkeypatch.setattr(misuse, "INTERVAL", 0.0)  # as if the interval had passed
    bad_calls(client, 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "posthog_client"]
    assert len(lines) == 3
    assert "(999 more such calls here since the last warning)" in lines[-1]


def test_feature_enabled_returns_its_default_on_a_bad_call(client: Client) -> None:
    assert client.feature_enabled("", "u1", default=True) is True
    assert client.feature_enabled("beta", "u1", default=False, groups="acme") is False
    assert posthog_client.feature_enabled("beta", "u1", default=True, bad=1) is True


def test_the_caller_line_through_the_module_level_api(
    module: FakePostHog, caplog: pytest.LogCaptureFixture
) -> None:
    line = sys._getframe().f_lineno + 1
    posthog_client.capture("u1", "e", distinct_id="u2")
    one_warning(caplog, "capture", line)


def test_a_real_defect_still_says_please_report(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    internal_errors_fail_the_test: list[BaseException],
) -> None:
    from posthog_client._runtime import internal

    def broken(*args: Any) -> None:
        raise TypeError("a bug inside the SDK, not a bad call")

    monkeypatch.setattr(internal, "hook", internal._log)
    monkeypatch.setattr(client._intake, "stamp", broken)
    assert client.capture("u1", "e") is None
    [record] = [r for r in caplog.records if r.name == "posthog_client"]
    assert record.levelno == logging.ERROR and "please report it" in record.getMessage()
    assert record.exc_info is not None
