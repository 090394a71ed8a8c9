"""The official TypeScript SDK client (``@modelcontextprotocol/client`` v2) drives trio_mcp.

Over stdio (it spawns ``examples/everything.py``) and over Streamable HTTP (the
native server, run by ``trio-mcp run``), in the legacy era (the ``initialize``
handshake, 2025-11-25), the modern era pinned (2026-07-28), and ``auto`` (its
``server/discover`` probe). ``tests/peers/ts_client.mjs`` lists the tools, calls
two of them (one with progress) and an unknown one, and prints what the SDK saw.

Installed with the Inspector by ``scripts/install-inspector.sh`` (``make
inspector``); the tests skip when it is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from _support.paths import EVERYTHING, ROOT

TOOLS = Path(os.environ.get("TRIO_MCP_TOOLS_DIR", ROOT / ".tools"))
NODE = TOOLS / "node_modules" / ".bin" / "node"
SDK = TOOLS / "node_modules" / "@modelcontextprotocol" / "client" / "package.json"
PEER = ROOT / "tests" / "peers" / "ts_client.mjs"
LIMIT = 120

pytestmark = pytest.mark.skipif(
    not (NODE.exists() and SDK.exists()),
    reason=f"the TypeScript SDK client is not installed in {TOOLS}: run scripts/install-inspector.sh",
)

EXPECTED_ERA = {
    "legacy": ("legacy", "2025-11-25"),
    "modern": ("modern", "2026-07-28"),
    "auto": ("modern", "2026-07-28"),  # trio_mcp answers server/discover
}


async def ts_client(era: str, *target: str) -> dict[str, Any]:
    # Next to .tools/node_modules, so that its imports resolve.
    script = TOOLS / PEER.name
    shutil.copyfile(PEER, script)
    with trio.fail_after(LIMIT):
        done = await trio.run_process(
            [str(NODE), str(script), era, *target],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stderr.decode()
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def http_server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    log = tmp_path / "stderr"
    argv = [sys.executable, "-m", "trio_mcp", "run", str(EVERYTHING)]
    argv += ["--transport", "http", "--port", str(port)]
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            with trio.fail_after(LIMIT):
                while b"serving MCP over HTTP" not in log.read_bytes():
                    assert proc.poll() is None, log.read_text()
                    await trio.sleep(0.1)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await trio.to_thread.run_sync(proc.wait, LIMIT) == 0, log.read_text()


def check(out: dict[str, Any], era: str) -> None:
    assert (out["era"], out["version"]) == EXPECTED_ERA[era]
    assert out["serverName"] == "mcp-conformance-test-server"
    assert {"test_simple_text", "test_tool_with_progress", "test_sampling"} <= set(out["tools"])
    assert out["simple"] == ["This is a simple text response for testing."]
    # The server sends 0, 50 and 100 before the result (tests/e2e/test_sdk_client.py sees all
    # three); this SDK hands its callback the ones that arrive before it settles the call.
    assert out["progress"][:2] == [0, 50]
    assert set(out["progress"]) <= {0, 50, 100}
    assert out["unknown"] == {"code": -32602, "message": "Unknown tool: nosuch"}


@pytest.mark.parametrize("era", ["legacy", "modern", "auto"])
async def test_over_stdio(era: str) -> None:
    check(await ts_client(era, sys.executable, str(EVERYTHING)), era)


@pytest.mark.parametrize("era", ["legacy", "modern", "auto"])
async def test_over_http(era: str, tmp_path: Path) -> None:
    async with http_server(tmp_path) as url:
        check(await ts_client(era, url), era)
