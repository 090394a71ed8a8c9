"""The malformed-input table (``tests/_support/malformed.py``) against the real stdio process.

One line per row, each followed by ``ping``, answered at once: no input may wedge
or kill the server (``tests/servers/faulty_server.py``, initialized in 2025-11-25).
"""

from __future__ import annotations

from typing import Any

import trio
from _support.malformed import LEGACY, TABLE, TEN_MB, Row, check_answer
from _support.messages import MODERN_META
from _support.paths import FAULTY
from _support.process import ServerProcess, spawn

LIMIT = 60


async def answer_to(server: ServerProcess, row: Row) -> dict[str, Any] | None:
    """Send the row, then a ping; return the row's answer (``None``: nothing came).

    Errors found by the session come back in order, before the pong; requests
    handed to the application are answered by their own task, so in any order.
    """
    await server.write(row.line + b"\n")
    await server.send({"jsonrpc": "2.0", "id": "ping-after", "method": "ping"})
    answer: dict[str, Any] | None = None
    ponged = False
    while not ponged or (answer is None and row.expect != "no answer"):
        msg = await server.recv()
        if "method" in msg:
            continue  # a server notification: not an answer
        if msg.get("id") == "ping-after":
            assert msg == {"jsonrpc": "2.0", "id": "ping-after", "result": {}}, (row.name, msg)
            ponged = True
            continue
        assert answer is None, (row.name, "two answers", answer, msg)
        answer = msg
    return answer


async def test_real_process_answers_every_row_then_ping() -> None:
    """One server process takes the whole table, in order; each row, then ``ping``."""
    failures: list[str] = []
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY) as server:
            await server.initialize(LEGACY)
            for row in TABLE:
                if row.setup == "in_flight":
                    await server.send(
                        {
                            "jsonrpc": "2.0",
                            "id": "dup",
                            "method": "tools/call",
                            "params": {"name": "sleep", "arguments": {"seconds": 30}},
                        }
                    )
                try:
                    check_answer(row, await answer_to(server, row))
                except AssertionError as exc:
                    failures.append(f"{row.name}: {exc}")
                if row.setup == "in_flight":
                    await server.send(
                        {
                            "jsonrpc": "2.0",
                            "method": "notifications/cancelled",
                            "params": {"requestId": "dup"},
                        }
                    )
            assert not failures, "\n".join(failures)
            # A modern request is served too, after all of that.
            reply = await server.request("tools/list", {"_meta": MODERN_META})
            assert reply["result"]["resultType"] == "complete", reply
            assert (await server.request("ping"))["result"] == {}
            await server.close_stdin()
            with trio.fail_after(LIMIT):
                rest = await server.read_to_eof()
                code = await server.process.wait()
            # The cancelled "dup" sleep got no answer: nothing else was pending.
            assert [m for m in rest if "id" in m] == [], rest
            assert code == 0, server.stderr_text()
        assert "Traceback" not in server.stderr_text(), server.stderr_text()
    assert not failures, "\n".join(failures)


async def test_real_process_ten_megabyte_line_within_a_raised_limit() -> None:
    """With the limit raised, a 10 MB message is just a message: answered, then ping."""
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY, "--max-message-size", str(16 * 1024 * 1024)) as server:
            await server.initialize(LEGACY)
            text = "y" * TEN_MB
            reply = await server.request(
                "tools/call", {"name": "echo", "arguments": {"text": text}}
            )
            assert reply["result"]["content"][0]["text"] == text
            assert (await server.request("ping"))["result"] == {}


async def test_real_process_modern_first_then_malformed() -> None:
    """No initialize at all (modern era only): broken lines, then a modern request works."""
    with trio.fail_after(LIMIT):
        async with spawn(FAULTY) as server:
            for row in TABLE:
                if row.layer != "protocol" or row.setup or row.name.startswith("initialize"):
                    continue
                if row.name.startswith("logging/setLevel"):
                    continue  # legacy-only method: before initialize it is -32602 anyway
                await server.write(row.line + b"\n")
                reply = await server.request("tools/list", {"_meta": MODERN_META})
                assert reply["result"]["resultType"] == "complete", (row.name, reply)
