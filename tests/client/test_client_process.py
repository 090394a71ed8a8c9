"""A server as a subprocess: supervised, and every way it can go wrong said in one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from trio_mcp import Client
from trio_mcp.client import ConnectionClosed, RequestTimeout, ServerMisbehaved, Subprocess
from trio_mcp.testing import connect_process

ROOT = Path(__file__).resolve().parents[2]
HELLO = str(ROOT / "examples" / "hello.py")
LIMIT = 60

BANNER = (
    "print('Welcome to my MCP server v1.0!', flush=True)\nimport sys\nfor _ in sys.stdin: pass\n"
)
NUMBER = "import sys\nfor _ in sys.stdin: print(42, flush=True)\n"
EXITS = "import sys\nprint('fatal: config file missing', file=sys.stderr)\nsys.exit(3)\n"
SILENT = "import sys\nfor _ in sys.stdin: pass\n"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(3600)\n"

#: A modern server slow to start: it reads the probe only once the client, its probe timed
#: out, sent ``initialize``; it answers the probe (so takes the modern era, as fastmcp 4
#: does) and refuses ``initialize`` with -32022; a second ``server/discover`` is answered.
LATE = """
import json, sys
held, modern = None, False
def send(rid, **answer):
    print(json.dumps({"jsonrpc": "2.0", "id": rid, **answer}), flush=True)
for line in sys.stdin:
    msg = json.loads(line)
    method = msg.get("method")
    if method == "server/discover" and held is None and not modern:
        held = msg["id"]
        continue
    if held is not None:
        send(held, result={"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}})
        held, modern = None, True
    if method == "initialize":
        error = {"code": -32022, "message": "connection is serving 2026-07-28",
                 "data": {"supported": ["2026-07-28"]}}
        send(msg["id"], error=error)
    elif method == "server/discover":
        send(msg["id"], result={"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}})
    elif method == "ping":
        send(msg["id"], result={})
"""


def script(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "server.py"
    path.write_text(text)
    return [sys.executable, str(path)]


async def test_over_stdio_and_the_process_ends_with_the_client() -> None:
    transport = Subprocess([sys.executable, HELLO])
    with trio.fail_after(LIMIT):
        async with Client(transport) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).text == "3.0"
            assert transport.process is not None
    assert transport.process.returncode == 0  # it exited on EOF, as an MCP server does


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (BANNER, ServerMisbehaved, "printed something that is not JSON on stdout: 'Welcome to"),
        (NUMBER, ServerMisbehaved, "the server sent 42, which is not a JSON-RPC message"),
        (EXITS, ConnectionClosed, "exited with code 3; its stderr ends: fatal: config file"),
    ],
)
async def test_a_misbehaving_server_is_one_clear_error(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    with trio.fail_after(LIMIT), pytest.raises(error) as info:
        async with Client(script(tmp_path, text), timeout=20):
            pass
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    if isinstance(info.value, ConnectionClosed):
        assert info.value.exit_code == 3
        assert "fatal: config file missing" in info.value.stderr_tail


async def test_a_silent_server_is_no_answer_within_the_timeout(tmp_path: Path) -> None:
    with trio.fail_after(LIMIT), pytest.raises(RequestTimeout) as info:
        async with Client(script(tmp_path, SILENT), timeout=0.5, probe_timeout=0.5):
            pass
    assert str(info.value) == "no answer to server/discover or initialize within 0.5 s"


async def test_a_probe_answered_after_its_timeout_is_asked_again(tmp_path: Path) -> None:
    """A server still starting when the probe timed out took the modern era on it, and
    refuses ``initialize``: the client probes again (it went legacy before: -32022)."""
    with trio.fail_after(LIMIT):
        async with Client(script(tmp_path, LATE), timeout=20, probe_timeout=0.2) as client:
            assert (client.era, client.protocol_version) == ("modern", "2026-07-28")
            assert client.server_capabilities == {"tools": {}}
            await client.ping()


async def test_a_server_that_never_answered_gets_no_grace_after_eof(tmp_path: Path) -> None:
    # It ignores EOF; with its hour of grace a polite close would wait an hour: a server
    # that never answered the handshake is terminated at once instead.
    transport = Subprocess(script(tmp_path, "import time\ntime.sleep(3600)\n"), grace=3600)
    with trio.fail_after(LIMIT), pytest.raises(RequestTimeout):
        async with Client(transport, timeout=0.5, probe_timeout=0.5):
            pass
    assert transport.process is not None and transport.process.returncode == -15  # SIGTERM


async def test_a_server_that_ignores_eof_and_sigterm_is_killed(tmp_path: Path) -> None:
    transport = Subprocess(script(tmp_path, STUBBORN), grace=0.2)
    with trio.fail_after(LIMIT), pytest.raises(RequestTimeout):
        async with Client(transport, timeout=0.5, probe_timeout=0.2):
            pass
    assert transport.process is not None and transport.process.returncode == -9


async def test_a_program_that_does_not_exist() -> None:
    with pytest.raises(ConnectionClosed, match="cannot start 'no-such-mcp-server'"):
        async with Client("no-such-mcp-server --flag"):
            pass


async def test_connect_process_on_a_wrong_path_says_so() -> None:
    with trio.fail_after(LIMIT), pytest.raises(ConnectionClosed) as info:
        async with connect_process([sys.executable, "no/such/server.py"]):
            pass
    assert "exited with code 2" in str(info.value)
    assert "can't open file" in str(info.value)


async def test_environment_and_working_directory(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples")}
    command = [sys.executable, "-c", "from hello import server; server.run()"]
    with trio.fail_after(LIMIT):
        async with Client(command, env=env, cwd=str(tmp_path)) as client:
            assert (await client.call_tool("echo", {"text": "here"})).text == "here"
