"""The stdio transport as a real subprocess, driven over raw pipes: framing and stdout.

Each test spawns a server script with ``trio.lowlevel.open_process`` and writes
bytes to its stdin. Every line the server writes to stdout is checked to be a
single JSON-RPC 2.0 message: nothing else may ever appear there. Shutdown (EOF,
signals, a dead parent) is in ``test_stdio_shutdown.py``.
"""

from __future__ import annotations

import trio
import trio.testing
from _support.messages import MODERN
from _support.paths import HELLO, SLOW, SMALL
from _support.process import spawn, wait_exit

# Generous bound per test, so that a hang fails instead of blocking the run.
LIMIT = 30


async def test_malformed_line_is_parse_error_with_null_id() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(HELLO) as server:
            # Before initialize, and after.
            await server.write(b"this is not json\n")
            reply = await server.recv()
            assert reply["id"] is None
            assert reply["error"]["code"] == -32700

            await server.initialize()
            for bad in (b'{"jsonrpc": "2.0", "id": 1, "method": "ping"\n', b"\xff\xfe\n", b"{]\n"):
                await server.write(bad)
                reply = await server.recv()
                assert reply["id"] is None, (bad, reply)
                assert reply["error"]["code"] == -32700, (bad, reply)

            ping = await server.request("ping")
            assert ping["result"] == {}
            await server.close_stdin()
            code, _ = await wait_exit(server, LIMIT)
            assert code == 0


async def test_invalid_requests() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(HELLO) as server:
            await server.initialize()
            # Valid JSON that is not a JSON-RPC request.
            for obj in ({"id": 5, "method": "ping"}, {"jsonrpc": "2.0", "id": 6, "method": 7}):
                await server.send(obj)
                reply = await server.recv()
                assert reply["error"]["code"] == -32600, (obj, reply)
            # Batches are refused unless 2025-03-26 was negotiated.
            await server.write(b'[{"jsonrpc": "2.0", "id": 8, "method": "ping"}]\n')
            reply = await server.recv()
            assert reply["error"]["code"] == -32600, reply
            assert (await server.request("ping"))["result"] == {}


async def test_unknown_method_after_initialize() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(HELLO) as server:
            await server.initialize()
            reply = await server.request("no/such/method", {})
            assert reply["error"]["code"] == -32601, reply
            # An unknown notification gets no answer at all; ping still works.
            await server.send({"jsonrpc": "2.0", "method": "notifications/no_such_thing"})
            assert (await server.request("ping"))["result"] == {}


async def test_unknown_method_modern_era() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(HELLO) as server:
            reply = await server.request("no/such/method", {}, era=MODERN)
            assert reply["error"]["code"] == -32601, reply
            reply = await server.request("tools/list", {}, era=MODERN)
            assert [t["name"] for t in reply["result"]["tools"]] == ["add", "echo"]
            assert reply["result"]["resultType"] == "complete"


async def test_oversized_line_then_ping() -> None:
    with trio.fail_after(LIMIT):
        async with spawn(SMALL) as server:
            await server.initialize()
            big = {
                "jsonrpc": "2.0",
                "id": 77,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "x" * 4000}},
            }
            await server.send(big)
            reply = await server.recv()
            assert reply["error"]["code"] == -32600, reply
            assert (await server.request("ping"))["result"] == {}

            # An oversized line trickled in pieces, then a valid one in the same write:
            # the stream resynchronises at the newline.
            for _ in range(8):
                await server.write(b"y" * 500)
                await trio.sleep(0.01)
            await server.write(b'zzz\n{"jsonrpc": "2.0", "id": 78, "method": "ping"}\n')
            reply = await server.recv()
            assert reply["error"]["code"] == -32600, reply
            assert await server.response(78) == {"jsonrpc": "2.0", "id": 78, "result": {}}

            # A message just under the limit is fine.
            text = "z" * 800
            reply = await server.request(
                "tools/call", {"name": "echo", "arguments": {"text": text}}
            )
            assert reply["result"]["content"][0]["text"] == text
            await server.close_stdin()
            code, _ = await wait_exit(server, LIMIT)
            assert code == 0


async def test_print_in_handler_goes_to_stderr() -> None:
    marker = "STRAY-PRINT-MARKER"
    with trio.fail_after(LIMIT):
        async with spawn(SLOW) as server:
            await server.initialize()
            for tool in ("shout", "shout_sync"):
                text = f"{marker}-{tool}"
                reply = await server.request(
                    "tools/call", {"name": tool, "arguments": {"text": text}}
                )
                assert reply["result"]["content"][0]["text"] == text
            await server.close_stdin()
            code, _ = await wait_exit(server, LIMIT)
            assert code == 0
        stdout = b"\n".join(server.stdout_lines).decode()
        stderr = server.stderr_text()
        for tool in ("shout", "shout_sync"):
            # On stdout only inside the JSON result, never as a bare line.
            assert f"{marker}-{tool}\n" in stderr
            assert all(not line.startswith(marker.encode()) for line in server.stdout_lines)
        assert stdout.count(marker) == 2  # the two results
