"""The package layout is the data flow, and these tests keep it so.

Client -> _events (pure message building) -> _delivery (queue, consumer, transport) -> host;
Client -> _flags (query, resolver, poller, pure evaluation) -> _delivery.transport -> host.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import posthog_client

PACKAGE = pathlib.Path(posthog_client.__file__).parent
ROOT = PACKAGE.parent

# Flag modules allowed to have threads, clocks and I/O (through the transport, or to a
# definitions store): everything else under _flags/, and all of _events/ but its api (the
# Client's event methods), is pure. The store-backed poller ("coordinator") and the adapter for
# the official SDK's cache providers ("provider_store", which runs awaitables on a thread) are
# the fleet's threads and clocks; the snapshot format they share ("envelope") stays pure.
IMPURE_FLAG_MODULES = {
    "api",
    "resolver",
    "poller",
    "service",
    "reporting",
    "store",
    "redis_store",
    "file_store",
    "coordinator",
    "provider_store",
}
MAX_LINES = 400


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imports only the type checker sees)."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports at run time (lazy imports in functions included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # `from package import module`
                if f"{target}.{alias.name}" in MODULES:
                    found.add(f"{target}.{alias.name}")
    return found


def _is_pure(module: str) -> bool:
    parts = module.split(".")
    if len(parts) < 2:
        return False
    if parts[1] == "_events":  # but the public methods, as for flags
        return len(parts) == 3 and parts[2] != "api"
    return parts[1] == "_flags" and len(parts) == 3 and parts[2] not in IMPURE_FLAG_MODULES


PURE = sorted(m for m in MODULES if _is_pure(m))


def test_the_pure_parts_are_the_ones_expected() -> None:
    assert "posthog_client._events.messages" in PURE
    assert "posthog_client._flags.evaluation" in PURE
    assert "posthog_client._flags.resolver" not in PURE
    assert "posthog_client._flags.envelope" in PURE


@pytest.mark.parametrize("module", PURE)
def test_pure_parts_have_no_threads_no_network_no_sleep_and_no_clock(module: str) -> None:
    imported = {name.split(".")[0] for name in _imports(module)}
    assert not imported & {"threading", "requests", "urllib3", "socket", "http", "time"}, module
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in {"now", "utcnow", "today", "monotonic", "sleep"}, (
                module,
                node.lineno,
            )


def test_flags_reach_delivery_only_through_the_transport() -> None:
    for module in MODULES:
        if _within(module, "posthog_client._flags"):
            reached = {m for m in _imports(module) if _within(m, "posthog_client._delivery")}
            assert reached <= {"posthog_client._delivery", "posthog_client._delivery.transport"}, (
                module,
                reached,
            )


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_package_never_imports_the_cli_or_testing() -> None:
    outside = ("posthog_client._cli", "posthog_client.testing")
    for module in MODULES:
        if _within(module, *outside) or module == "posthog_client.__main__":
            continue
        bad = {m for m in _imports(module) if _within(m, *outside)}
        assert not bad, (module, bad)


def test_only_the_http_module_imports_requests() -> None:
    importers = {
        module
        for module in MODULES
        if not _within(module, "posthog_client.testing", "posthog_client.integrations")
        and any(m.split(".")[0] in ("requests", "urllib3") for m in _imports(module))
    }
    assert importers == {"posthog_client._delivery.http"}


def test_no_import_cycles() -> None:
    graph = {m: {i for i in _imports(m) if i in MODULES and i != m} for m in MODULES}
    # Importing a submodule runs its package's __init__ first; packages' own __init__ files
    # under posthog_client are empty (but the top one), so edges to them carry no code.
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = path[path.index(node) :] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)


def test_subpackage_inits_hold_no_code() -> None:
    for module, path in MODULES.items():
        if path.name == "__init__.py" and module.count(".") == 1:
            if module.endswith(("testing", "integrations")):
                continue
            tree = ast.parse(path.read_text("utf-8"))
            assert all(isinstance(n, ast.Expr) for n in tree.body), module  # a docstring only


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module: str) -> None:
    lines = MODULES[module].read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines"
