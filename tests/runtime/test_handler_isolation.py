"""Misbehaving handlers are isolated: one that raises, hangs, or blocks its thread stops no other.

Driven over real pipes against ``tests/servers/faulty_server.py``. Time bounds are
generous (a noisy shared 2-core machine); the figures measured when this was written
are in ``docs/reliability.md``.
"""

from __future__ import annotations

import time

import trio
import trio.testing
from _support.faulty import EXIT_BOUND, GRACE, diag, exit_counts, wait_for
from _support.messages import tool_call
from _support.paths import FAULTY
from _support.process import spawn

LIMIT = 60


async def test_raising_hanging_and_blocking_handlers_do_not_stop_the_others() -> None:
    """A handler that raises, three that hang, two sync ones that block their threads
    (ignoring cancellation): 200 other calls are all served meanwhile. Then EOF: the
    shutdown is bounded by the grace, the stuck ones are answered, and the process exits."""
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--grace", str(GRACE)) as server:
            await server.initialize()
            await server.send(tool_call("boom", "boom"))
            for i in range(3):
                await server.send(tool_call(f"hang{i}", "hang"))
            for i in range(2):
                await server.send(tool_call(f"block{i}", "block", {"seconds": 60}))
            await wait_for(server, lambda d: d["hung"] == 3 and d["blocked"] == 2, "stuck")
            boom = await server.response("boom")
            assert boom["result"]["isError"] is True
            assert "boom on purpose" in boom["result"]["content"][0]["text"]
            for i in range(200):
                await server.send(tool_call(f"e{i}", "echo", {"text": str(i)}))
            for i in range(200):
                reply = await server.response(f"e{i}")
                assert reply["result"]["content"][0]["text"] == str(i)
            # A cancelled blocking call: the caller stops waiting at once, the server goes on.
            await server.send(tool_call("block-c", "block", {"seconds": 60}))
            await wait_for(server, lambda d: d["blocked"] == 3, "third block")
            await server.send(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": "block-c"},
                }
            )
            assert (await server.request("ping"))["result"] == {}
            d = await diag(server)
            assert d["blocked"] == 3  # the thread is still blocked: it cannot be stopped

            start = time.monotonic()
            await server.close_stdin()
            rest = await server.read_to_eof()
            code = await server.process.wait()
            took = time.monotonic() - start
        print(f"\nshutdown with 3 hung + 3 blocked threads, grace {GRACE}s: {took:.2f}s")
        assert code == 0, server.stderr_text()
        assert took < EXIT_BOUND, took
        answered = sorted(m["id"] for m in rest if "id" in m)
        # Each stuck request got exactly one answer; the cancelled one got none.
        assert answered == ["block0", "block1", "hang0", "hang1", "hang2"], rest
        for m in rest:
            assert "shutting down" in m["error"]["message"], m
        assert "Traceback" in server.stderr_text()  # boom's, logged on stderr only
        assert exit_counts(server)["blocked_finished"] == 0


async def test_abandoned_thread_is_reported_on_stderr() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--grace", str(GRACE)) as server:
            await server.initialize()
            await server.send(tool_call("b", "block", {"seconds": 60}))
            await wait_for(server, lambda d: d["blocked"] == 1, "block")
            await server.close_stdin()
            await server.read_to_eof()
            assert await server.process.wait() == 0
        err = server.stderr_text().lower()
        assert "thread" in err and "abandon" in err, server.stderr_text()
