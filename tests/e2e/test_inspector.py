"""End to end: the MCP Inspector CLI drives ``examples/hello.py`` over stdio.

The Inspector (npm ``@modelcontextprotocol/inspector``) needs Node >= 22. Install it,
with a Node 22 from the npm package ``node@22``, into ``.tools/`` with::

    scripts/install-inspector.sh

These tests skip when it is not installed. Each run is one Inspector process that
spawns the server, does one request and exits, e.g.::

    .tools/node_modules/.bin/node \\
        .tools/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js \\
        --cli --protocol-era legacy --format json \\
        .venv/bin/python examples/hello.py --method tools/call --tool-name add \\
        --tool-arg a=1 b=2
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from _support.paths import HELLO, ROOT

TOOLS = Path(os.environ.get("TRIO_MCP_TOOLS_DIR", ROOT / ".tools"))
NODE = TOOLS / "node_modules" / ".bin" / "node"
INSPECTOR = (
    TOOLS
    / "node_modules"
    / "@modelcontextprotocol"
    / "inspector"
    / "clients"
    / "launcher"
    / "build"
    / "index.js"
)

# Node start-up plus a server spawn per run; generous so that a hang fails.
LIMIT = 120
SERVER_INFO = "io.modelcontextprotocol/serverInfo"

pytestmark = pytest.mark.skipif(
    not (NODE.exists() and INSPECTOR.exists()),
    reason=f"MCP Inspector not installed in {TOOLS}: run scripts/install-inspector.sh",
)


async def inspector(tmp_path: Path, era: str, *args: str) -> tuple[int, Any, str]:
    """Run the Inspector CLI against hello.py; return (exit code, JSON stdout, stderr)."""
    # Keep the Inspector's catalog and config files out of the real home directory.
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "catalog.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
    }
    command = [
        str(NODE),
        str(INSPECTOR),
        "--cli",
        "--protocol-era",
        era,
        "--format",
        "json",
        sys.executable,
        str(HELLO),
        *args,
    ]
    with trio.fail_after(LIMIT):
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False, env=env, cwd=ROOT
        )
    stdout = done.stdout.decode()
    stderr = done.stderr.decode()
    try:
        out = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        pytest.fail(f"Inspector stdout is not JSON:\n{stdout}\nstderr:\n{stderr}")
    return done.returncode, out, stderr


async def test_node_is_22(tmp_path: Path) -> None:
    done = await trio.run_process([str(NODE), "--version"], capture_stdout=True)
    assert done.stdout.decode().startswith("v22."), done.stdout


ERAS = ["legacy", "modern", "auto"]


@pytest.mark.parametrize("era", ERAS)
async def test_tools_list(tmp_path: Path, era: str) -> None:
    code, out, err = await inspector(tmp_path, era, "--method", "tools/list")
    assert code == 0, (out, err)
    tools = {t["name"]: t for t in out["result"]["tools"]}
    assert set(tools) == {"add", "echo"}
    assert tools["add"]["description"] == "Add two numbers."
    assert tools["add"]["inputSchema"]["properties"] == {
        "a": {"type": "number"},
        "b": {"type": "number"},
    }
    assert tools["echo"]["inputSchema"]["required"] == ["text"]


@pytest.mark.parametrize("era", ERAS)
async def test_tools_call_add(tmp_path: Path, era: str) -> None:
    code, out, err = await inspector(
        tmp_path, era, "--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=1", "b=2"
    )
    assert code == 0, (out, err)
    result = out["result"]
    assert not result.get("isError")
    assert float(result["content"][0]["text"]) == 3
    # Modern-era results carry the server's identity; legacy ones do not.
    # (So "auto" really discovered the modern era.)
    if era == "legacy":
        assert SERVER_INFO not in result.get("_meta", {})
    else:
        assert result["_meta"][SERVER_INFO] == {"name": "demo", "version": "0.1.0"}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_tools_call_echo(tmp_path: Path, era: str) -> None:
    code, out, err = await inspector(
        tmp_path,
        era,
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-args-json",
        json.dumps({"text": "hello, inspector"}),
    )
    assert code == 0, (out, err)
    assert out["result"]["content"] == [{"type": "text", "text": "hello, inspector"}]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_tools_call_invalid_arguments(tmp_path: Path, era: str) -> None:
    code, out, err = await inspector(
        tmp_path,
        era,
        "--method",
        "tools/call",
        "--tool-name",
        "add",
        "--tool-args-json",
        json.dumps({"a": 1}),
    )
    # The Inspector prints the isError result, then exits 5 (tool_is_error).
    assert code == 5, (out, err)
    result = out["result"]
    assert result["isError"] is True
    assert "$.b" in result["content"][0]["text"], result
