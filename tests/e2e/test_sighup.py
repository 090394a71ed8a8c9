"""SIGHUP drains like SIGTERM instead of killing the server (issue 13, item 11).

A terminal that closes, or a parent that goes away, sends SIGHUP; its default
action killed the process with requests in flight and nothing flushed.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import trio
from _support.rawproc import EXAMPLES, ROOT, SERVERS, spawn

EVERYTHING = EXAMPLES / "everything.py"
HANG_GUARD = 60  # a hang fails the test instead of stalling the run; not a timing assertion


async def test_sighup_drains_stdio() -> None:
    with trio.fail_after(HANG_GUARD):
        async with spawn(
            SERVERS / "faulty_server.py", "--grace", "30", stderr=subprocess.PIPE
        ) as server:
            stderr = server.process.stderr
            assert stderr is not None
            seen = bytearray()

            async def drain() -> None:
                while chunk := await stderr.receive_some(65536):
                    seen.extend(chunk)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                await server.initialize()
                answer: dict[str, object] = {}

                async def slow() -> None:
                    answer.update(await server.tool("sleep", {"seconds": 1.0}))

                nursery.start_soon(slow)
                while True:  # until the call is running in the server
                    diag = await server.tool("diag")
                    if json.loads(diag["result"]["content"][0]["text"])["started"] == 1:
                        break
                    await trio.sleep(0.01)
                server.signal(signal.SIGHUP)
                assert await server.process.wait() == 0  # drained and exited, not killed
            # The call in flight was let finish (drained), not cancelled.
            assert answer["result"]["content"][0]["text"] == "slept 1.0", answer
        assert b"SIGHUP received; draining" in seen
        assert b'"cancelled": 0' in seen  # the exit report of faulty_server


async def test_sighup_drains_http() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with trio.fail_after(HANG_GUARD):
        process = await trio.lowlevel.open_process(
            [sys.executable, str(EVERYTHING), "--transport", "http", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=str(ROOT),
        )
        try:
            assert process.stderr is not None
            seen = bytearray()
            while b"serving MCP over HTTP" not in seen:  # it listens (and handles signals)
                chunk = await process.stderr.receive_some(65536)
                assert chunk, bytes(seen)
                seen.extend(chunk)
            process.send_signal(signal.SIGHUP)
            while chunk := await process.stderr.receive_some(65536):
                seen.extend(chunk)
            assert await process.wait() == 0
            assert b"SIGHUP received; draining" in seen
        finally:
            if process.returncode is None:
                process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
                await process.stderr.aclose()  # type: ignore[union-attr]
