"""``$exception`` properties: shape, chains, in-app detection, privacy, robustness, end to end."""

from __future__ import annotations

import builtins
import json
import os
import sys
import types
from typing import Any

import pytest

from posthog_client._events.exceptions import (
    MAX_EXCEPTIONS,
    MAX_FRAMES,
    exception_properties,
    in_app,
)
from posthog_client.testing import FakePostHog

HERE = os.path.abspath(__file__)


def caught(func: Any, *args: Any) -> BaseException:
    try:
        func(*args)
    except BaseException as exc:
        return exc
    raise AssertionError("no exception")


def fail_here(message: str) -> None:
    raise ValueError(message)


def props(exc: BaseException, **options: Any) -> dict[str, Any]:
    result = exception_properties(
        exc, handled=options.get("handled", True), mechanism=options.get("mechanism", "generic")
    )
    json.dumps(result)  # always JSON as it is
    return result


def frames(entry: dict[str, Any]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = entry["stacktrace"]["frames"]
    return frames


# -- shape -------------------------------------------------------------------------------------


def test_shape_of_a_raised_exception() -> None:
    exc = caught(fail_here, "boom")
    result = props(exc, handled=False, mechanism="excepthook")
    assert result["$exception_type"] == "ValueError"
    assert result["$exception_message"] == "boom"
    assert result["$exception_level"] == "error"
    [entry] = result["$exception_list"]
    assert entry["type"] == "ValueError" and entry["value"] == "boom"
    assert entry["module"] is None  # builtins
    assert entry["mechanism"] == {
        "handled": False,
        "type": "excepthook",
        "synthetic": False,
        "exception_id": 0,
    }
    assert entry["stacktrace"]["type"] == "raw"
    outer, inner = frames(entry)  # oldest call first, like a Python traceback
    assert outer["function"] == "caught" and inner["function"] == "fail_here"
    assert inner["abs_path"] == HERE
    assert inner["filename"].endswith("test_exceptions.py")
    assert inner["module"] == __name__
    assert inner["platform"] == "python" and inner["in_app"] is True
    assert inner["context_line"] == "    raise ValueError(message)"
    assert inner["pre_context"][-1] == "def fail_here(message: str) -> None:"
    assert len(inner["pre_context"]) == 5 and len(inner["post_context"]) == 5
    assert inner["lineno"] == fail_here.__code__.co_firstlineno + 1
    if sys.version_info >= (3, 11):
        assert inner["colno"] == 5
    assert set(inner) >= {
        "filename",
        "abs_path",
        "function",
        "module",
        "lineno",
        "in_app",
        "platform",
        "context_line",
        "pre_context",
        "post_context",
    }


def test_custom_exception_type_keeps_its_module() -> None:
    class PaymentDeclined(Exception):
        pass

    def pay() -> None:
        raise PaymentDeclined("card expired")

    [entry] = props(caught(pay))["$exception_list"]
    assert entry["type"] == "PaymentDeclined"
    assert entry["module"] == __name__
    assert frames(entry)[-1]["function"].endswith("pay")


def test_explicit_cause_is_listed_after_the_outer_exception() -> None:
    def wrap() -> None:
        try:
            fail_here("inner")
        except ValueError as exc:
            raise RuntimeError("outer") from exc

    result = props(caught(wrap))
    outer, inner = result["$exception_list"]
    assert (outer["type"], outer["value"]) == ("RuntimeError", "outer")
    assert (inner["type"], inner["value"]) == ("ValueError", "inner")
    assert inner["mechanism"] == {  # PostHog's exception metadata contract
        "type": "chained",
        "source": "cause",
        "synthetic": False,
        "exception_id": 1,
        "parent_id": 0,
    }
    assert frames(inner)[-1]["function"] == "fail_here"
    assert result["$exception_type"] == "RuntimeError"


def test_implicit_context_is_listed() -> None:
    def during() -> None:
        try:
            fail_here("first")
        except ValueError:
            raise KeyError("second")  # noqa: B904 - the implicit context is the point

    outer, inner = props(caught(during))["$exception_list"]
    assert outer["type"] == "KeyError" and inner["type"] == "ValueError"
    assert inner["mechanism"]["source"] == "context"


def test_suppressed_context_is_left_out() -> None:
    def hide() -> None:
        try:
            fail_here("hidden")
        except ValueError:
            raise KeyError("shown") from None

    [entry] = props(caught(hide))["$exception_list"]
    assert entry["type"] == "KeyError"


def test_cycles_in_the_chain_end() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    entries = props(first)["$exception_list"]
    assert [e["value"] for e in entries] == ["a", "b"]


def test_long_chain_is_capped() -> None:
    exc: BaseException = ValueError("0")
    for i in range(1, 50):
        new = ValueError(str(i))
        new.__cause__ = exc
        exc = new
    entries = props(exc)["$exception_list"]
    assert len(entries) == MAX_EXCEPTIONS
    assert entries[0]["value"] == "49"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are Python 3.11+")
def test_exception_group_members_follow_the_group() -> None:
    group = builtins.ExceptionGroup("several", [ValueError("one"), KeyError("two")])
    entries = props(group)["$exception_list"]
    assert [e["type"] for e in entries] == ["ExceptionGroup", "ValueError", "KeyError"]
    assert entries[0]["mechanism"]["is_exception_group"] is True
    assert entries[2]["mechanism"]["source"] == "member"
    assert entries[2]["mechanism"]["parent_id"] == 0


def test_deep_traceback_keeps_outermost_and_innermost_frames() -> None:
    def recurse(n: int) -> None:
        if n == 0:
            raise ValueError("bottom")
        recurse(n - 1)

    [entry] = props(caught(recurse, 300))["$exception_list"]
    kept = frames(entry)
    assert len(kept) == MAX_FRAMES
    assert kept[0]["function"] == "caught"
    assert kept[-1]["context_line"].strip() == 'raise ValueError("bottom")'


# -- in-app detection ------------------------------------------------------------------------


def test_stdlib_frames_are_not_in_app() -> None:
    def parse() -> None:
        json.loads("{not json")

    [entry] = props(caught(parse))["$exception_list"]
    app = [f["function"] for f in frames(entry) if f["in_app"]]
    library = [f for f in frames(entry) if not f["in_app"]]
    assert app[-1].endswith("parse")
    assert library and all("json" in f["module"] for f in library)
    assert library[0]["filename"] == "json/__init__.py"  # install location left out


def test_in_app_rules() -> None:
    import posthog_client._client

    assert in_app(HERE) is True
    assert in_app(json.__file__) is False
    assert in_app(os.path.abspath(posthog_client._client.__file__)) is False
    assert in_app("/srv/venv/lib/python3.12/site-packages/django/core/handlers.py") is False
    assert in_app("/usr/lib/python3/dist-packages/requests/api.py") is False
    assert in_app("/srv/app/views.py") is True
    assert in_app("<frozen importlib._bootstrap>") is False
    assert in_app("<string>") is True


# -- privacy ----------------------------------------------------------------------------------


def test_frame_variables_are_never_sent() -> None:
    secret = "".join(["hunter", "2-", str(40 + 2)])  # built at runtime: not in any source line

    def leak(token: str) -> None:
        also_secret = token.upper()
        raise ValueError(f"failed ({len(also_secret)} chars)")

    text = json.dumps(props(caught(leak, secret)))
    assert secret not in text and secret.upper() not in text


# -- robustness -------------------------------------------------------------------------------


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class ReallyUnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class NotAStringError(Exception):
    def __str__(self) -> Any:
        return 42


class BrokenAttributesError(Exception):
    def __getattribute__(self, name: str) -> Any:
        if name in ("__cause__", "__context__", "__traceback__", "__notes__"):
            raise RuntimeError(name)
        return super().__getattribute__(name)


@pytest.mark.parametrize(
    "exc",
    [
        UnprintableError("x"),
        ReallyUnprintableError("x"),
        NotAStringError(),
        BrokenAttributesError("x"),
        ValueError(),  # never raised: no traceback
        ValueError("x" * 100_000),
        ValueError("\ud800 lone surrogate"),
        KeyboardInterrupt(),
        SystemExit(3),
    ],
)
def test_weird_exceptions_never_raise(exc: BaseException) -> None:
    result = exception_properties(exc, handled=True, mechanism="generic")
    [entry] = result["$exception_list"]
    assert entry["type"] == type(exc).__name__
    assert isinstance(entry["value"], str) and len(entry["value"]) < 10_000
    assert "stacktrace" not in entry  # nothing was raised: no frames


def test_unprintable_exceptions_fall_back_to_repr_or_a_placeholder() -> None:
    assert props(UnprintableError("x"))["$exception_message"] == "UnprintableError('x')"
    message = props(ReallyUnprintableError())["$exception_message"]
    assert message == "<unprintable ReallyUnprintableError object>"


def test_frames_whose_file_is_gone_have_no_context() -> None:
    code = compile("def vanish():\n    raise ValueError('gone')\n", "/nowhere/gone.py", "exec")
    namespace: dict[str, Any] = {"__name__": "gone"}
    exec(code, namespace)
    [entry] = props(caught(namespace["vanish"]))["$exception_list"]
    last = frames(entry)[-1]
    assert last["abs_path"] == "/nowhere/gone.py" and last["filename"] == "gone.py"
    assert last["lineno"] == 2 and last["in_app"] is True
    for key in ("context_line", "pre_context", "post_context"):  # omitted, not null
        assert key not in last


def test_a_loader_that_raises_is_survived() -> None:
    class BadLoader:
        def get_source(self, name: str) -> str:
            raise OSError("disk on fire")

    module = types.ModuleType("bad_loader_mod")
    module.__loader__ = BadLoader()  # type: ignore[assignment]
    code = compile("def go():\n    raise ValueError('x')\n", "bad_loader_mod.py", "exec")
    exec(code, module.__dict__)
    [entry] = props(caught(module.go))["$exception_list"]
    assert "context_line" not in frames(entry)[-1]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="add_note() is Python 3.11+")
def test_notes_are_part_of_the_message() -> None:
    exc = ValueError("main")
    exc.add_note("while loading config.yaml")  # type: ignore[attr-defined]
    assert props(exc)["$exception_message"] == "main\nwhile loading config.yaml"


# -- end to end -------------------------------------------------------------------------------


def test_capture_exception_reaches_posthog(fake: FakePostHog) -> None:
    client = fake.client(personal_api_key=None)
    uid = client.capture_exception(caught(fail_here, "checkout failed"), distinct_id="u1")
    assert uid is not None
    assert client.flush(5)
    [event] = fake.events.named("$exception")
    assert event.distinct_id == "u1" and event.uuid == uid
    [entry] = event.properties["$exception_list"]
    assert entry["type"] == "ValueError" and entry["value"] == "checkout failed"
    assert entry["mechanism"]["handled"] is True
    assert frames(entry)[-1]["function"] == "fail_here"
    assert event.properties["$exception_type"] == "ValueError"


def test_capture_exception_without_argument_takes_the_one_being_handled(
    fake: FakePostHog,
) -> None:
    client = fake.client(personal_api_key=None)
    try:
        {}["missing"]  # noqa: B018
    except KeyError:
        client.capture_exception(distinct_id="u2", properties={"route": "/cart"})
    assert client.flush(5)
    [event] = fake.events.named("$exception")
    assert event.properties["$exception_type"] == "KeyError"
    assert event.properties["route"] == "/cart"
    assert event.properties["$exception_list"][0]["mechanism"]["handled"] is True
