"""In-process closed loop over HTTP: C keep-alive connections, one POST in flight on each.

The server is trio_mcp's real native HTTP/1.1 server (:class:`NativeServer`,
its :class:`Connection` and the transport core); only the socket is replaced
by an in-memory stream, so the figure is the server's own cost per request
(parsing, guards, the era, the handler, the response), without the kernel's.
Under ``valgrind --tool=callgrind`` it gives instruction counts, which the
load of a shared machine cannot inflate (``benchmarks/compare.py
--instructions --inproc http``).

usage: python -m benchmarks.inproc_http N [C] [WORKLOAD] [PIPE]

WORKLOAD: ``modern`` (stateless POST ``tools/call echo``, the default) or
``legacy`` (a session's POST ``tools/call echo``, answered with SSE).
PIPE: ``fake`` (the default: an in-memory stream, only the server's own code
runs) or ``socket`` (a ``socketpair`` per connection, the client a task in the
same loop: the server's real write path, plus the system calls and the client).
Prints the CPU µs per request for N requests after N//5 warm-up.
"""

from __future__ import annotations

import gc
import socket
import sys
import time

import orjson
import trio

from trio_mcp import Server
from trio_mcp._transports._native._server import NativeServer, ServerLimits

N = int(sys.argv[1])
C = int(sys.argv[2]) if len(sys.argv) > 2 else 64
WORKLOAD = sys.argv[3] if len(sys.argv) > 3 else "modern"
PIPE = sys.argv[4] if len(sys.argv) > 4 else "fake"
WARM = N // 5
VERSION = "2026-07-28"

server = Server("bench", version="0.1.0", max_in_flight=20000)


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


def post(body: bytes, headers: dict[str, str]) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n{head}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


MODERN = post(
    orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "echo",
                "arguments": {"text": "hello"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
    ),
    {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": VERSION,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "echo",
    },
)
INIT = post(
    orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "b", "version": "1"},
            },
        }
    ),
    {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
)


def legacy(sid: str, body: dict[str, object]) -> bytes:
    return post(
        orjson.dumps(body),
        {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
            "Mcp-Session-Id": sid,
        },
    )


CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"text": "hello"}},
}
INITED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Totals:
    answered = 0
    t0 = 0.0
    a0 = 0
    result: float | None = None
    done = trio.Event()

    def count(self) -> bool:
        """One more answer; False once the measurement is over."""
        self.answered += 1
        if self.answered == WARM:
            self.t0 = time.process_time()
            self.a0 = self.answered
        if self.answered >= WARM + N:
            if self.result is None:
                self.result = (time.process_time() - self.t0) / (self.answered - self.a0) * 1e6
                self.done.set()
            return False
        return True


class FakeStream(trio.abc.Stream):
    """The client side of one connection: answers each response with the next request."""

    def __init__(self, totals: Totals) -> None:
        self.totals = totals
        self.inbox: list[bytes] = [MODERN if WORKLOAD == "modern" else INIT]
        self.wake = trio.Event()
        self.out = b""
        self.request = MODERN
        self.state = "modern" if WORKLOAD == "modern" else "init"

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while not self.inbox:
            self.wake = trio.Event()
            await self.wake.wait()
        data = b"".join(self.inbox)
        self.inbox.clear()
        return data

    def push(self, data: bytes) -> None:
        self.inbox.append(data)
        self.wake.set()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        self.out += bytes(data)
        if not self._complete():
            return
        out, self.out = self.out, b""
        if self.state == "init":
            head = out.split(b"\r\n\r\n", 1)[0].decode()
            sid = next(
                ln.split(":", 1)[1].strip()
                for ln in head.split("\r\n")
                if ln.lower().startswith("mcp-session-id:")
            )
            self.request = legacy(sid, CALL)
            self.state = "inited"
            self.push(legacy(sid, INITED))
            return
        if self.state == "inited":  # the 202
            self.state = "legacy"
            self.push(self.request)
            return
        assert b'"hello"' in out, out
        if self.totals.count():
            self.push(self.request)

    def _complete(self) -> bool:
        """One whole response is in ``out`` (content-length, or the chunked terminator)."""
        head, sep, body = self.out.partition(b"\r\n\r\n")
        if not sep:
            return False
        if b"transfer-encoding: chunked" in head:
            return body.endswith(b"0\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.startswith(b"content-length: "):
                return len(body) >= int(line[16:])
        return True

    async def send_eof(self) -> None:
        pass

    async def wait_send_all_might_not_block(self) -> None:
        pass

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def drive(fake: FakeStream, client: trio.SocketStream) -> None:
    """Play ``fake``'s part over a real socket: its requests out, the server's answers in."""
    while True:
        await client.send_all(await fake.receive_some())
        fake.out = b""
        while not fake._complete():
            data = await client.receive_some(65536)
            if not data:
                return
            fake.out += data
        await fake.send_all(b"")


async def main() -> None:
    transport = server.asgi_app()
    # No timer may fire mid-run (valgrind is ~50x slower): an idle keep-alive
    # connection closing would change what is measured.
    native = NativeServer(transport, ServerLimits(keep_alive_timeout=1e6, header_timeout=1e6))
    totals = Totals()
    async with transport.running(), trio.open_nursery() as nursery:
        for _ in range(C):
            fake = FakeStream(totals)
            if PIPE == "socket":
                a, b = socket.socketpair()
                nursery.start_soon(
                    native.connection, trio.SocketStream(trio.socket.from_stdlib_socket(a))
                )
                nursery.start_soon(
                    drive, fake, trio.SocketStream(trio.socket.from_stdlib_socket(b))
                )
            else:
                nursery.start_soon(native.connection, fake)
        await totals.done.wait()
        nursery.cancel_scope.cancel()
    print(f"{totals.result:.3f}")


# Repeatable instruction counts: trio's scheduler shuffles each batch with this RNG.
trio._core._run._r.seed(0)
gc.collect()
gc.freeze()
_, g1, g2 = gc.get_threshold()
gc.set_threshold(10_000, g1, g2)
trio.run(main)
