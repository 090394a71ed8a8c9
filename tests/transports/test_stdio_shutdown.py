"""Shutdown of a stdio server process: stdin EOF, a broken stdout, a dead parent, signals.

Each case with calls in flight: the server exits 0 within its grace (plus slack on a
loaded machine), every request cut short gets exactly one answer, and every answer
completed before the end is flushed. Real subprocesses over real pipes
(``tests/servers/slow_server.py``, ``tests/servers/faulty_server.py``, ``examples/hello.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
import trio
import trio.testing
from _support.faulty import EXIT_BOUND, GRACE, diag, exit_counts, wait_for
from _support.messages import tool_call
from _support.paths import FAULTY, HELLO, ROOT, SLOW
from _support.process import ServerProcess, alive, spawn, wait_exit

# Generous bound per test, so that a hang fails instead of blocking the run.
LIMIT = 60


def check_in_flight_answered(server: ServerProcess, ids: list[int]) -> None:
    """Each request cut short by shutdown got exactly one answer before EOF."""
    answered = [m["id"] for m in server.final_messages if "id" in m]
    assert sorted(answered) == ids, answered
    for msg in server.final_messages:
        # The handlers were sleeping 30 s: none can have completed normally.
        assert "error" in msg or msg["result"].get("isError"), msg


async def start_sleeps(server: ServerProcess, n: int, seconds: float) -> list[int]:
    """Send ``n`` sleep calls; return once the server has started all of them."""
    ids = list(range(1, n + 1))
    for i in ids:
        await server.send(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "sleep", "arguments": {"seconds": seconds}},
            }
        )
    while True:
        stats = await server.request("tools/call", {"name": "stats", "arguments": {}})
        if stats["result"]["structuredContent"]["started"] >= n:
            return ids
        await trio.sleep(0.05)


async def test_stdin_eof_with_calls_in_flight_exits_promptly() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(SLOW) as server:
            await server.initialize()
            ids = await start_sleeps(server, 100, 30)
            await server.close_stdin()
            # Default grace is 2 s: well under the 30 s the calls would take.
            code, took = await wait_exit(server, 10)
            assert code == 0, server.stderr_text()
            assert took < 10
            check_in_flight_answered(server, ids)
            assert "Traceback" not in server.stderr_text(), server.stderr_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_with_calls_in_flight_exits_zero(signum: signal.Signals) -> None:
    with trio.fail_after(LIMIT):
        async with spawn(SLOW) as server:
            await server.initialize()
            ids = await start_sleeps(server, 10, 30)
            server.process.send_signal(signum)
            code, took = await wait_exit(server, 10)
            assert code == 0, server.stderr_text()
            assert took < 10
            check_in_flight_answered(server, ids)
            assert "Traceback" not in server.stderr_text(), server.stderr_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_when_idle_exits_zero(signum: signal.Signals) -> None:
    with trio.fail_after(LIMIT):
        async with spawn(HELLO) as server:
            await server.initialize()
            assert (await server.request("ping"))["result"] == {}
            server.process.send_signal(signum)
            code, took = await wait_exit(server, 10)
            assert code == 0, server.stderr_text()
            assert took < 5


async def test_second_signal_cancels_at_once() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(SLOW) as server:
            await server.initialize()
            await start_sleeps(server, 10, 30)
            server.process.send_signal(signal.SIGTERM)
            await trio.sleep(0.1)
            server.process.send_signal(signal.SIGINT)
            code, took = await wait_exit(server, 10)
            assert code == 0, server.stderr_text()
            assert took < 10
            assert "Traceback" not in server.stderr_text(), server.stderr_text()


async def test_stdin_from_dev_null_exits_zero() -> None:
    with trio.fail_after(LIMIT):
        result = await trio.run_process(
            [sys.executable, str(HELLO)],
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=str(ROOT),
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""


async def test_stdin_eof_and_broken_stdout_with_work_in_flight() -> None:
    """The parent's ends of both pipes close at once (as when it dies): with sleeps, a
    hung handler and a blocked thread in flight, the server exits within grace + 1 s."""
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--grace", str(GRACE)) as server:
            await server.initialize()
            for i in range(50):
                await server.send(tool_call(i, "sleep", {"seconds": 30}))
            await server.send(tool_call("h", "hang"))
            await server.send(tool_call("b", "block", {"seconds": 60}))
            await wait_for(
                server, lambda d: d["started"] == 50 and d["hung"] and d["blocked"], "work"
            )
            pid = server.process.pid
            start = time.monotonic()
            assert server.process.stdout is not None
            await server.process.stdout.aclose()  # its writes now fail: broken pipe
            await server.close_stdin()  # its reads now see EOF
            while alive(pid):
                await trio.sleep(0.01)
            took = time.monotonic() - start
            code = await server.process.wait()
        print(f"\nparent's pipes closed, grace {GRACE}s: exited in {took:.2f}s")
        assert code == 0, server.stderr_text()
        assert took < EXIT_BOUND, took


PARENT = r"""
import json, subprocess, sys, time
server = subprocess.Popen(
    [sys.executable, sys.argv[1], "--grace", sys.argv[2]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
)
def send(msg):
    server.stdin.write((json.dumps(msg) + "\n").encode()); server.stdin.flush()
send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
      "params": {"protocolVersion": "2025-11-25", "capabilities": {}}})
server.stdout.readline()
for i in range(20):
    send({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
          "params": {"name": "sleep", "arguments": {"seconds": 30}}})
send({"jsonrpc": "2.0", "id": "b", "method": "tools/call",
      "params": {"name": "block", "arguments": {"seconds": 60}}})
send({"jsonrpc": "2.0", "id": "d", "method": "tools/call",
      "params": {"name": "diag", "arguments": {}}})
while True:  # wait until the work is in flight
    line = json.loads(server.stdout.readline())
    if line.get("id") == "d":
        d = json.loads(line["result"]["content"][0]["text"])
        if d["started"] == 20 and d["blocked"] == 1:
            break
        send({"jsonrpc": "2.0", "id": "d", "method": "tools/call",
              "params": {"name": "diag", "arguments": {}}})
print(server.pid, flush=True)
time.sleep(600)  # killed by the test
"""


async def test_parent_killed_server_exits_no_orphan() -> None:
    """A real parent process starts the server and work, then is SIGKILLed: the server
    (now an orphan) sees EOF and a broken pipe, and exits within grace + 1 s."""
    with trio.fail_after(LIMIT):
        parent = await trio.lowlevel.open_process(
            [sys.executable, "-c", PARENT, str(FAULTY), str(GRACE)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert parent.stdout is not None
            data = b""
            while not data.endswith(b"\n"):
                chunk = await parent.stdout.receive_some(100)
                assert chunk, "the parent died before starting the server"
                data += chunk
            pid = int(data)
            assert alive(pid)
            parent.kill()
            start = time.monotonic()
            await parent.wait()
            while alive(pid) and time.monotonic() - start < 20:
                await trio.sleep(0.01)
            took = time.monotonic() - start
        finally:
            if parent.returncode is None:
                parent.kill()
            with trio.CancelScope(shield=True):
                await parent.wait()
                if parent.stdout is not None:
                    await parent.stdout.aclose()
        print(f"\nparent SIGKILLed, grace {GRACE}s: orphaned server exited in {took:.2f}s")
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"server {pid} outlived its parent by {took:.1f}s")
        assert took < EXIT_BOUND, took


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_under_load_exits_zero_and_flushes_completed(signum: signal.Signals) -> None:
    """Echo calls stream in (32 in flight) with 5 long sleeps running; a signal arrives.
    Exit 0 within the grace (+ slack). Every echo the server completed was flushed:
    the client received exactly as many echo results as handlers finished."""
    grace = 1.0
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--grace", str(grace)) as server:
            await server.initialize()
            for i in range(5):
                await server.send(tool_call(f"s{i}", "sleep", {"seconds": 30}))
            await wait_for(server, lambda d: d["started"] == 5, "sleeps")
            base_quick = (await diag(server))["quick"]
            slots = trio.Semaphore(32)
            received: list[dict[str, Any]] = []
            signalled = trio.Event()

            async def pump() -> None:
                i = 0
                try:
                    while True:
                        await slots.acquire()
                        await server.send(tool_call(i, "echo", {"text": str(i)}))
                        i += 1
                except (trio.BrokenResourceError, trio.ClosedResourceError, BrokenPipeError):
                    pass  # the server closed stdin: it stopped reading

            async def reader() -> None:
                while (line := await server.read_line()) is not None:
                    msg = json.loads(line)
                    received.append(msg)
                    slots.release()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                nursery.start_soon(pump)
                while len(received) < 300:
                    await trio.sleep(0.01)
                server.process.send_signal(signum)
                start = time.monotonic()
                signalled.set()
                code = await server.process.wait()
                took = time.monotonic() - start
                with trio.fail_after(10):
                    while not server.stdout_eof:
                        await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
        name = signal.Signals(signum).name
        echoes = [m for m in received if type(m.get("id")) is int]
        print(
            f"\n{name} under load, grace {grace}s: exit {code} in {took:.2f}s; {len(echoes)} echoes"
        )
        assert code == 0, server.stderr_text()
        assert took < grace + 2.5, took
        ids = Counter(m["id"] for m in received)
        assert max(ids.values()) == 1, [k for k, v in ids.items() if v > 1]
        ok = [m for m in echoes if "result" in m]
        for m in ok:
            assert m["result"]["content"][0]["text"] == str(m["id"])
        # Completed before the signal (or during the grace) == flushed to the client.
        assert len(ok) == exit_counts(server)["quick"] - base_quick
        sleeps = sorted(m["id"] for m in received if str(m.get("id")).startswith("s"))
        assert sleeps == [f"s{i}" for i in range(5)]
        assert "Traceback" not in server.stderr_text(), server.stderr_text()
