"""``trio-mcp dev``: a real process serving over HTTP, restarted by real file changes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_mcp import Client
from trio_mcp._cli import main

SERVER = """\
from trio_mcp import Server

server = Server("dev-demo")


@server.tool
async def first() -> str:
    return "first"
"""

SECOND = """

@server.tool
async def second() -> str:
    return "second"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def tool_names(url: str) -> set[str] | None:
    """The server's tools, or None while nothing answers at ``url``."""
    try:
        async with Client(url, timeout=5) as client:
            return {tool.name for tool in await client.list_tools()}
    except Exception:
        return None


async def wait_for_tools(url: str, expected: set[str]) -> None:
    with trio.fail_after(60):  # a generous bound on a loaded machine, not a timing assertion
        while await tool_names(url) != expected:
            await trio.sleep(0.2)


async def test_dev_restarts_on_change_survives_a_broken_edit_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    source = tmp_path / "server.py"
    source.write_text(SERVER)
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        dev = subprocess.Popen(
            [sys.executable, "-m", "trio_mcp", "dev", str(source), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            await wait_for_tools(url, {"first"})
            source.write_text(SERVER + SECOND)
            await wait_for_tools(url, {"first", "second"})

            source.write_text(SERVER + "\nsyntax error(\n")  # dev survives a broken edit
            with trio.fail_after(60):
                while b"waiting for a change" not in stderr.read_bytes():
                    await trio.sleep(0.2)
            assert dev.poll() is None
            source.write_text(SERVER)
            await wait_for_tools(url, {"first"})
        finally:
            dev.send_signal(signal.SIGTERM)
            code = await trio.to_thread.run_sync(dev.wait, 60)
    log = stderr.read_text()
    assert code == 0, log
    assert f"--transport http --server-url {url}" in log  # the Inspector command line
    assert "failed to import: SyntaxError" in log  # the child's one-line error
    assert "Traceback" not in log
    assert await tool_names(url) is None  # the child server is gone with dev


def test_dev_without_watchfiles_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "server.py"
    source.write_text(SERVER)
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import watchfiles -> ImportError
    assert main(["dev", str(source)]) == 2
    assert capsys.readouterr().err == (
        "trio-mcp: error: trio-mcp dev needs watchfiles (the 'reload' extra):"
        " pip install watchfiles\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dev", "nosuch.py"], "no such file: nosuch.py"),
        (["dev", "{source}", "--port", "0"], "trio-mcp dev needs a fixed port"),
        (["dev", "{source}", "--watch", "nowhere"], "cannot watch"),
    ],
)
def test_dev_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "server.py"
    source.write_text(SERVER)
    assert main([a.format(source=source) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trio-mcp: error: {message}"), err
    assert err.count("\n") == 1
