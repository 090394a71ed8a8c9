"""A parent that never reads the server's stderr cannot freeze it (issue 13, item 1).

Every failing tool call logs a traceback (~1.4 KB) on stderr. The pipe holds
64 KiB: with blocking writes, about 48 calls in, the Trio thread blocked in
``write(2)`` and nothing was answered any more, not even ``ping``. Logging now
goes through a bounded queue and a writer that waits for the pipe through Trio;
what does not fit is dropped and counted.
"""

from __future__ import annotations

import re
import subprocess

import trio
from _support.rawproc import SERVERS, spawn

SERVER = SERVERS / "traceback_server.py"
CALLS = 1000
HANG_GUARD = 120  # a hang fails the test instead of stalling the run; not a timing assertion


async def test_unread_stderr_never_blocks_answers() -> None:
    with trio.fail_after(HANG_GUARD):
        async with spawn(SERVER, stderr=subprocess.PIPE) as server:
            await server.initialize()
            answers: list[dict[str, object]] = []

            async def call() -> None:
                answers.append(await server.tool("fail"))

            for _ in range(CALLS // 50):  # 50 in flight at a time
                async with trio.open_nursery() as nursery:
                    for _ in range(50):
                        nursery.start_soon(call)
            assert len(answers) == CALLS
            for answer in answers:
                result = answer["result"]
                assert isinstance(result, dict) and result["isError"] is True, answer
                assert "failing on purpose" in result["content"][0]["text"]
            assert (await server.call("ping"))["result"] == {}
            assert (await server.tool("ok"))["result"]["content"][0]["text"] == "ok"

            # Now read stderr: what was dropped is reported once the pipe takes data again.
            stderr = server.process.stderr
            assert stderr is not None
            seen = bytearray()

            async def drain() -> None:
                while chunk := await stderr.receive_some(65536):
                    seen.extend(chunk)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                await server.tool("fail")  # one more record, after the reader caught up
                while b"dropped: stderr was not being read" not in seen:
                    await trio.sleep(0.01)
                await server.close_stdin()
                assert await server.process.wait() == 0
        text = seen.decode(errors="replace")
        assert "RuntimeError: failing on purpose" in text
        [dropped] = map(int, re.findall(r"trio_mcp: (\d+) log records? dropped", text))
        assert 0 < dropped <= CALLS


async def test_unread_stderr_does_not_block_the_exit() -> None:
    """EOF with the pipe still full: the queued records are dropped, the process exits."""
    with trio.fail_after(HANG_GUARD):
        async with spawn(SERVER, stderr=subprocess.PIPE) as server:
            await server.initialize()
            for _ in range(200):
                assert (await server.tool("fail"))["result"]["isError"] is True
            await server.close_stdin()
            assert await server.process.wait() == 0


async def test_unread_stderr_and_stray_prints() -> None:
    """A handler's ``print`` (fd 1, pointed at stderr while serving) cannot block either."""
    with trio.fail_after(HANG_GUARD):
        async with spawn(SERVERS / "slow_server.py", stderr=subprocess.PIPE) as server:
            await server.initialize()
            text = "p" * 1000
            for tool in ("shout", "shout_sync"):  # on the Trio thread, and from a worker thread
                for _ in range(300):  # 300 KB each: far more than the pipe holds
                    answer = await server.tool(tool, {"text": text})
                    assert answer["result"]["content"][0]["text"] == text
            assert (await server.call("ping"))["result"] == {}
            stderr = server.process.stderr
            assert stderr is not None
            seen = bytearray()

            async def drain() -> None:
                while chunk := await stderr.receive_some(65536):
                    seen.extend(chunk)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                await server.tool("shout", {"text": "the last one"})
                while b"the last one\n" not in seen:
                    await trio.sleep(0.01)
                await server.close_stdin()
                assert await server.process.wait() == 0
        assert (text + "\n").encode() in seen
        assert b"dropped: stderr was not being read" in seen
