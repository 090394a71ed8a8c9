"""``trio-mcp dev``: a real process serving over HTTP, restarted by real file changes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_mcp import Client
from trio_mcp._cli import _dev, build_parser, main

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


DRAINING = """\
import os
from contextlib import asynccontextmanager

import trio

from trio_mcp import Server

MARKS = os.environ["DEV_TEST_MARKS"]


def mark(what: str) -> None:
    with open(MARKS, "a") as f:
        f.write(what + "\\n")


@asynccontextmanager
async def lifespan(server):
    yield
    mark("lifespan ended")


server = Server("draining", grace=4, lifespan=lifespan)


@server.tool
async def slow() -> str:
    mark("slow started")
    await trio.sleep(0.5)
    mark("slow finished")
    return "done"
"""


async def test_dev_gives_the_server_its_own_grace_and_it_drains(tmp_path: Path) -> None:
    source = tmp_path / "server.py"
    source.write_text(DRAINING)
    marks = tmp_path / "marks"
    marks.touch()
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    stderr = tmp_path / "stderr"
    result: list[str] = []
    sent = False

    async def call_slow() -> None:
        async with Client(url, timeout=30) as client:
            result.append((await client.call_tool("slow")).content[0].text)  # type: ignore[union-attr]

    with stderr.open("wb") as err:
        dev = subprocess.Popen(
            [sys.executable, "-m", "trio_mcp", "dev", str(source), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=dict(os.environ, DEV_TEST_MARKS=str(marks)),
        )
        try:
            await wait_for_tools(url, {"slow"})
            with trio.fail_after(60):  # a hang guard, not a timing assertion
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(call_slow)
                    while "slow started" not in marks.read_text():
                        await trio.sleep(0.05)
                    dev.send_signal(signal.SIGTERM)  # while the call is in flight
                    sent = True
        finally:
            if not sent:
                dev.send_signal(signal.SIGTERM)
            code = await trio.to_thread.run_sync(dev.wait, 60)
    log = stderr.read_text()
    assert code == 0, log
    assert result == ["done"]  # the in-flight call finished during the drain
    assert marks.read_text().splitlines() == ["slow started", "slow finished", "lifespan ended"]
    # dev knew the grace of Server(grace=4), set in the file it never imports itself
    assert "stopping the server: SIGTERM (its grace 4 s; SIGKILL after 7 s)" in log
    assert "killing it" not in log
    assert "Traceback" not in log


class FakeProcess:
    """What :func:`_dev.terminate` sees of a child: signals are recorded with the (mock) time."""

    def __init__(self, exits_after_term: float | None) -> None:
        self.signals: list[tuple[str, float]] = []
        self.exits_after_term = exits_after_term
        self.exited = trio.Event()

    def terminate(self) -> None:
        self.signals.append(("SIGTERM", trio.current_time()))

    def kill(self) -> None:
        self.signals.append(("SIGKILL", trio.current_time()))
        self.exited.set()

    async def wait(self) -> int:
        if self.exits_after_term is not None:
            await trio.sleep(self.exits_after_term)
            self.exited.set()
        await self.exited.wait()
        return 0


def test_the_kill_delay_is_the_grace_plus_a_margin() -> None:
    assert _dev.kill_delay(0) == _dev.KILL_MARGIN
    assert _dev.kill_delay(30) == 30 + _dev.KILL_MARGIN
    assert _dev.kill_delay(2) >= 5  # the default grace gets at least the old fixed 5 s


async def test_a_child_that_drains_within_its_grace_is_never_killed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    process = FakeProcess(exits_after_term=20.0)  # longer than the old fixed 5 s
    await _dev.terminate(process, grace=30.0)
    assert process.signals == [("SIGTERM", 0.0)]


async def test_a_child_still_running_after_grace_and_margin_is_killed(
    autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    process = FakeProcess(exits_after_term=None)
    await _dev.terminate(process, grace=10.0)
    assert process.signals == [("SIGTERM", 0.0), ("SIGKILL", 10.0 + _dev.KILL_MARGIN)]
    assert "did not exit within 13 s of SIGTERM (its grace 10 s + 3 s): killing it" in (
        capsys.readouterr().err
    )


async def test_a_second_signal_kills_at_once(
    autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    process = FakeProcess(exits_after_term=None)
    now = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_dev.terminate, process, 10.0, now)
        await trio.sleep(1)
        now.set()
    assert process.signals == [("SIGTERM", 0.0), ("SIGKILL", 1.0)]
    assert "second signal: killing the server now" in capsys.readouterr().err


def test_the_reported_grace_wins_and_a_missing_one_falls_back() -> None:
    read, write = os.pipe()
    try:
        os.set_blocking(read, False)
        assert _dev._reported(read, 2.0) == 2.0  # nothing written yet
        os.write(write, b"12.5\n")
        assert _dev._reported(read, 2.0) == 12.5
    finally:
        os.close(read)
        os.close(write)


def test_the_dev_grace_comes_from_the_environment_and_the_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parse = build_parser().parse_args
    monkeypatch.delenv("TRIO_MCP_GRACE", raising=False)
    assert _dev._default_grace(parse(["dev", "s.py"])) == 2.0
    monkeypatch.setenv("TRIO_MCP_GRACE", "7")
    assert _dev._default_grace(parse(["dev", "s.py"])) == 7.0
    args = parse(["dev", "s.py", "--grace", "9"])
    assert _dev._default_grace(args) == 9.0  # the flag wins, and the child is told
    assert _dev._child_argv(args)[-2:] == ["--grace", "9.0"]
    source = tmp_path / "server.py"
    source.write_text(SERVER)
    monkeypatch.setenv("TRIO_MCP_GRACE", "-1")
    assert main(["dev", str(source)]) == 2  # refused before anything starts
