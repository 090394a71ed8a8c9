"""The architecture holds: lower layers never import higher ones (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import trio_mcp

ORDER = ["_errors", "_wire", "_schema", "_protocol", "_runtime", "_transports", "_app"]
NO_TRIO = {"_errors", "_wire", "_schema", "_protocol"}


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def imports_of(layer: str) -> set[str]:
    """Absolute names of everything a layer's source files import (static, via ast)."""
    root = Path(trio_mcp.__file__).parent
    paths = (
        [root / f"{layer}.py"]
        if (root / f"{layer}.py").exists()
        else list((root / layer).rglob("*.py"))
    )
    found: set[str] = set()
    for path in paths:
        package = ".".join(("trio_mcp", *path.relative_to(root).with_suffix("").parts[:-1]))
        if path.name == "__init__.py" or path.parent != root:
            package = ".".join(("trio_mcp", *path.relative_to(root).parent.parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    found.add(".".join([*base, *([node.module] if node.module else [])]))
                else:
                    found.add(node.module or "")
    return found


@pytest.mark.parametrize("layer", ORDER)
def test_layer_imports_only_lower_layers(layer: str) -> None:
    imported = imports_of(layer)
    higher = ORDER[ORDER.index(layer) + 1 :]
    offenders = {
        m
        for m in imported
        for h in [*higher, "testing", "client", "_cli", "_auth", "auth"]
        if m.startswith(f"trio_mcp.{h}")
    }
    assert not offenders, f"{layer} imports higher layers: {sorted(offenders)}"
    if layer in NO_TRIO:
        assert not {m for m in imported if m == "trio" or m.startswith("trio.")}, (
            f"{layer} is sans-IO but imports trio"
        )


def test_client_never_imports_the_server() -> None:
    """The client is beside the server stack, not on it: _errors, _wire, _schema and
    _protocol (constants), and trio; never _runtime, _transports or _app."""
    imported = imports_of("_client")
    forbidden = ["_runtime", "_transports", "_app", "testing", "client", "_cli"]
    offenders = {
        m
        for m in imported
        for f in forbidden
        if m == f"trio_mcp.{f}" or m.startswith(f"trio_mcp.{f}.")
    }
    assert not offenders, f"_client imports {sorted(offenders)}"
    lower = {
        m for m in imported if m.startswith("trio_mcp.") and not m.startswith("trio_mcp._client")
    }
    assert {m.split(".")[1] for m in lower} <= {"_errors", "_wire", "_schema", "_protocol"}


def test_import_trio_mcp_imports_only_its_dependencies() -> None:
    """trio, attrs, cattrs, orjson: httpx only once an HTTP client is made."""
    code = (
        "import sys; before = set(sys.modules); import trio_mcp, trio_mcp.client;"
        " print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tops = {m.split(".")[0] for m in out.stdout.split()}
    third_party = {m for m in tops if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert third_party <= {
        "trio_mcp",
        "trio",
        "attrs",
        "attr",
        "cattrs",
        "cattr",
        "orjson",
        "outcome",
        "sniffio",
        "sortedcontainers",
        "idna",
        "exceptiongroup",
        "typing_extensions",
    }, third_party
    assert "httpx" not in tops


def test_import_trio_mcp_never_imports_the_official_sdk() -> None:
    modules = loaded_after_import("trio_mcp")
    assert not {m for m in modules if m == "mcp" or m.startswith("mcp.")}
    assert "trio_mcp.testing" not in modules
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "annotated_types")}
    assert not {m for m in modules if m.split(".")[0] == "opentelemetry"}


def test_serving_without_tracing_never_imports_opentelemetry() -> None:
    # The default (tracing="auto") with an application that never imported
    # opentelemetry: requests over the real runtime, in both eras, with
    # middleware and a dependency (the paths that would make spans), and the
    # proxy's inject_meta: opentelemetry is looked up in sys.modules, never imported.
    code = """
import sys
from typing import Annotated
import trio
from trio_mcp import Depends, Server
from trio_mcp._app._tracing import inject_meta
from trio_mcp.testing import connect

async def through(ctx, call_next):
    return await call_next(ctx)

async def dep() -> int:
    return 1

server = Server("plain", middleware=[through])

@server.tool
async def add(a: int, b: Annotated[int, Depends(dep)]) -> int:
    return a + b

async def main():
    for era in ("legacy", "modern"):
        async with connect(server, era=era) as client:
            result = await client.call_tool("add", {"a": 1}, meta={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
            assert result["content"][0]["text"] == "2", result
            await client.notify("notifications/roots/list_changed", {})
            await client.list_tools()
    assert inject_meta({}) == {}

trio.run(main)
print("\\n".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(out.stdout.split())
    assert "trio_mcp._app._tracing" in modules
    assert not {m for m in modules if m.split(".")[0] == "opentelemetry"}


def test_auto_tracing_follows_the_application_provider() -> None:
    # An application that set a global SDK provider gets spans with no trio_mcp
    # call at all; TRIO_MCP_TRACING=off turns them off again.
    code = """
import trio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from trio_mcp import Server
from trio_mcp.testing import connect

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
server = Server("auto")

@server.tool
async def add(a: int, b: int) -> int:
    return a + b

async def main():
    async with connect(server) as client:
        await client.call_tool("add", {"a": 1, "b": 2})

trio.run(main)
print(",".join(s.name for s in exporter.get_finished_spans()))
"""
    import os

    run = [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if k != "TRIO_MCP_TRACING"}
    out = subprocess.run(run, capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "tools/call add"
    env["TRIO_MCP_TRACING"] = "off"
    out = subprocess.run(run, capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""


def test_typed_tools_without_pydantic_never_import_it() -> None:
    # Every type trio_mcp supports natively, registered and called: pydantic and
    # annotated-types are looked up in sys.modules, never imported.
    code = """
import dataclasses, datetime, decimal, pathlib, sys, uuid
from typing import Annotated, NamedTuple
import trio
from trio_mcp import Pattern, Server
from trio_mcp.testing import connect

@dataclasses.dataclass
class Box:
    size: int

class Pair(NamedTuple):
    a: int

server = Server("typed")

@server.tool
def typed(box: Box, pair: Pair, when: datetime.datetime, who: uuid.UUID, price: decimal.Decimal,
          where: pathlib.Path, data: bytes, code: Annotated[str, Pattern("^[a-z]+$")]) -> Box:
    return box

async def main():
    async with connect(server) as client:
        args = {"box": {"size": 1}, "pair": {"a": 1}, "when": "2024-01-02T03:04:05Z",
                "who": str(uuid.uuid4()), "price": "1.5", "where": "/", "data": "aGk=", "code": "ab"}
        result = await client.call_tool("typed", args)
        assert result["structuredContent"] == {"size": 1}, result
        bad = await client.call_tool("typed", {**args, "code": "AB"})
        assert bad["isError"], bad

trio.run(main)
print("\\n".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(out.stdout.split())
    assert "trio_mcp" in modules
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "annotated_types")}


def test_redis_is_imported_only_when_a_server_runs_with_a_redis_url() -> None:
    """coredis (and anyio) load once ``TRIO_MCP_REDIS_URL`` is used, never on import or build."""
    code = """
import os, sys
os.environ["TRIO_MCP_REDIS_URL"] = "redis://127.0.0.1:1/0"
import trio_mcp, trio_mcp.lowlevel
server = trio_mcp.Server("t")

@server.tool(task="optional")
async def slow() -> str:
    return "done"

print("\\n".join(sorted(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tops = {m.split(".")[0] for m in out.stdout.split()}
    assert "trio_mcp" in tops
    assert not tops & {"coredis", "anyio"}, tops & {"coredis", "anyio"}


def _module_graph() -> dict[str, set[str]]:
    """Every trio_mcp module -> the trio_mcp modules it imports at run time.

    Imports under ``if TYPE_CHECKING:`` are left out (they never run); imports
    inside functions count (they do). An edge names the module imported, so a
    package's ``__init__`` importing its children is not a cycle by itself.
    """
    root = Path(trio_mcp.__file__).parent
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = ("trio_mcp", *path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        skipped = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                for alias in node.names:  # ``from . import x`` may name a submodule
                    if f"{target}.{alias.name}" in modules:
                        edges.add(f"{target}.{alias.name}")
                if target in modules:
                    edges.add(target)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def test_package_imports_form_a_dag() -> None:
    """No import cycle anywhere in the package, function-level imports included."""
    graph = _module_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


#: A module that grows past this is split by what it holds (docs/architecture.md names each).
MAX_MODULE_LINES = 450


def test_every_module_reads_in_one_sitting() -> None:
    root = Path(trio_mcp.__file__).parent
    long = {
        str(path.relative_to(root)): n
        for path in sorted(root.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"
