"""``examples/seed_server.py`` end to end through the official ``mcp`` client, in both eras.

Over stdio, and over Streamable HTTP (``trio-mcp run seed.py:build --transport http``)
for the tools, the prompt and the resources.

Its tools and prompt; its resources confined to ``SEED_ROOT`` (no escape through a
symlink); ``api_get`` against a local fake API, with its key and its cache.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from _support.paths import SEED, SEED_TYPED

mcp = pytest.importorskip("mcp")

from _support.sdk_client import LIMIT, MODES, connect, connect_http, text  # noqa: E402
from mcp import Client, MCPError  # noqa: E402

SEEDS = pytest.mark.parametrize("seed", [SEED, SEED_TYPED], ids=["attrs", "pydantic"])
TRANSPORTS = pytest.mark.parametrize("transport", ["stdio", "http"])
TRIO_MCP = str(Path(sys.executable).with_name("trio-mcp"))


@asynccontextmanager
async def open_seed(
    transport: str, mode: str, seed: Path, env: dict[str, str]
) -> AsyncIterator[Client]:
    """The official client connected to ``seed`` over ``transport`` in ``mode``."""
    if transport == "stdio":
        async with connect(mode, seed, env=env) as client:
            yield client
        return
    async with connect_http(mode, [TRIO_MCP, "run", f"{seed}:build"], env=env) as (client, _):
        yield client


pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning"),
]


class _Api(http.server.BaseHTTPRequestHandler):
    hits: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        _Api.hits.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_api() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def seed_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("hello world")
    (root / "sub" / "a b.txt").write_text("nested")
    (root / "data.bin").write_bytes(b"\xff\x00\xfe")
    (tmp_path / "secret.txt").write_text("top secret")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    (root / "inside").symlink_to(root / "hello.txt")
    return root


@TRANSPORTS
@SEEDS
@pytest.mark.parametrize("mode", MODES)
async def test_seed_server_tools_and_prompt(
    mode: str, seed: Path, seed_root: Path, transport: str
) -> None:
    with trio.fail_after(LIMIT):
        async with open_seed(transport, mode, seed, {"SEED_ROOT": str(seed_root)}) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"add_numbers", "search", "api_get"}
            assert tools["add_numbers"].input_schema["properties"]["a"] == {
                "type": "number",
                "description": "First number",
            }
            assert text(await client.call_tool("add_numbers", {"a": 2, "b": 3.5})) == (
                "2.0 + 3.5 = 5.5"
            )
            found = await client.call_tool("search", {"query": "tr", "sort_by": "date"})
            assert text(found).splitlines() == [
                "Found 2 results for 'tr'",
                "- Structured concurrency",
                "- Trio tutorial",
            ]
            filtered = await client.call_tool(
                "search", {"query": "t", "filters": ["protocol"], "limit": 5}
            )
            assert text(filtered).splitlines()[0] == "Found 1 results for 't'"
            for bad in (
                {"query": ""},
                {"query": " padded "},
                {"query": "x", "limit": 0},
                {"query": "x", "limit": 101},
                {"query": "x", "sort_by": "size"},
                {"limit": 3},
            ):
                r = await client.call_tool("search", bad)
                assert r.is_error, bad
                assert text(r).startswith("Invalid arguments for tool search"), text(r)
            if seed == SEED_TYPED:  # pydantic's errors, as $.path lines
                r = await client.call_tool("search", {"query": " x", "limit": 0})
                assert text(r) == (
                    "Invalid arguments for tool search: $.query: Value error, query cannot "
                    "have leading/trailing whitespace; $.limit: Input should be greater than "
                    "or equal to 1"
                )
                schema = tools["search"].input_schema
                assert schema["properties"]["limit"]["maximum"] == 100
                assert schema["additionalProperties"] is False

            [prompt] = (await client.list_prompts()).prompts
            assert prompt.name == "code_review"
            assert [(a.name, a.required, a.description) for a in prompt.arguments or []] == [
                ("language", True, "Programming language"),
                ("code", True, "Code to review"),
            ]
            got = await client.get_prompt("code_review", {"language": "python", "code": "x=1"})
            assert got.messages[0].content.text == (  # type: ignore[union-attr]
                "Review this python code for best practices:\n\nx=1"
            )


@TRANSPORTS
@SEEDS
@pytest.mark.parametrize("mode", MODES)
async def test_seed_server_resources_confined(
    mode: str, seed: Path, seed_root: Path, transport: str
) -> None:
    not_found = -32002 if mode == "legacy" else -32602
    with trio.fail_after(LIMIT):
        async with open_seed(transport, mode, seed, {"SEED_ROOT": str(seed_root)}) as client:
            [settings] = (await client.read_resource("config://settings")).contents
            config = json.loads(settings.text)  # type: ignore[union-attr]
            assert config["api_key_configured"] is False
            assert config["root"] == str(seed_root.resolve())
            [tmpl] = (await client.list_resource_templates()).resource_templates
            assert tmpl.uri_template == "file:///{+path}"

            async def read(path: str) -> Any:
                [content] = (await client.read_resource(f"file:///{path}")).contents
                return content

            assert (await read("hello.txt")).text == "hello world"
            assert (await read("sub/a%20b.txt")).text == "nested"  # percent-decoded
            assert (await read("sub%2Fa%20b.txt")).text == "nested"
            assert (await read("sub/../hello.txt")).text == "hello world"  # stays inside
            assert (await read("inside")).text == "hello world"  # a symlink within the root
            assert (await read("data.bin")).blob == "/wD+"
            for escape in (
                "../secret.txt",
                "sub/../../secret.txt",
                "%2E%2E/secret.txt",
                "..%2Fsecret.txt",
                "%2Fetc%2Fpasswd",
                "escape",  # a symlink pointing out of the root
            ):
                with pytest.raises(MCPError) as info:
                    await read(escape)
                assert info.value.code == -32602, escape
                assert "outside the served directory" in info.value.error.message
            for missing in ("nope.txt", "sub"):
                with pytest.raises(MCPError) as info:
                    await read(missing)
                assert info.value.code == not_found, missing


@SEEDS
async def test_seed_server_api_key_required_only_for_api_get(seed: Path, seed_root: Path) -> None:
    with trio.fail_after(LIMIT):
        async with connect("legacy", seed, env={"SEED_ROOT": str(seed_root)}) as client:
            r = await client.call_tool("api_get", {"path": "items"})
            assert r.is_error
            assert "API_KEY environment variable is required" in text(r)
            assert (
                text(await client.call_tool("add_numbers", {"a": 1, "b": 1})) == "1.0 + 1.0 = 2.0"
            )


@SEEDS
@pytest.mark.parametrize("mode", MODES)
async def test_seed_server_api_get_cached(mode: str, seed: Path, seed_root: Path) -> None:
    _Api.hits.clear()
    with fake_api() as url, trio.fail_after(LIMIT):
        env = {"SEED_ROOT": str(seed_root), "API_KEY": "k-123", "API_ENDPOINT": url}
        async with connect(mode, seed, env=env) as client:
            first = await client.call_tool("api_get", {"path": "/items/1"})
            again = await client.call_tool("api_get", {"path": "items/1"})
            other = await client.call_tool("api_get", {"path": "items/2"})
            assert json.loads(text(first)) == json.loads(text(again)) == {"path": "/items/1"}
            assert json.loads(text(other)) == {"path": "/items/2"}
            # The second call was served from ctx.cache: the API saw two requests, not three.
            assert _Api.hits == [("/items/1", "Bearer k-123"), ("/items/2", "Bearer k-123")]
            [settings] = (await client.read_resource("config://settings")).contents
            assert "k-123" not in settings.text  # type: ignore[union-attr]
