"""In-process closed loop: C ``tools/call echo`` in flight over a cheap fake stream.

The server is trio_mcp's real runtime (``serve_streams``) with the stdio framing;
only the pipe is replaced by an in-memory stream, so the figure is the server's
own cost per request. Under ``valgrind --tool=callgrind`` it gives instruction
counts, which the load of a shared machine cannot inflate (``benchmarks/compare.py
--instructions`` runs it in two checkouts).

usage: python -m benchmarks.inproc N [C]   # CPU µs per request for N requests after N//5 warm-up

Tracing (docs/how-to/tracing.md) is off unless told: ``TRIO_MCP_TRACING=on`` traces with
the OpenTelemetry API's no-op provider; ``BENCH_TRACING=sdk`` sets the SDK's provider as
the global one (spans made, sampled and ended, then handed to a processor that drops
them), which the default ``tracing="auto"`` picks up.
"""

from __future__ import annotations

import gc
import os
import sys
import time

import orjson
import trio

from trio_mcp import Server

N = int(sys.argv[1])
C = int(sys.argv[2]) if len(sys.argv) > 2 else 64
WARM = N // 5

if os.environ.get("BENCH_TRACING") == "sdk":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())  # the base class: on_end does nothing
    trace.set_tracer_provider(provider)

server = Server("bench", version="0.1.0", max_in_flight=20000)


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


def call(rid):
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "hello"}},
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


INIT = orjson.dumps(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "b", "version": "1"},
        },
    },
    option=orjson.OPT_APPEND_NEWLINE,
)
INITED = orjson.dumps(
    {"jsonrpc": "2.0", "method": "notifications/initialized"}, option=orjson.OPT_APPEND_NEWLINE
)


class Client:
    def __init__(self):
        self.send_ch, self.recv_ch = trio.open_memory_channel(1 << 20)
        self.next_id = 1
        self.answered = 0
        self.t0 = None
        self.done = trio.Event()
        self.result = None

    # the server's receive stream
    async def receive_some(self, max_bytes=None):
        data = await self.recv_ch.receive()
        try:
            while True:
                data += self.recv_ch.receive_nowait()
        except trio.WouldBlock:
            pass
        return data

    # the server's send stream
    async def send_all(self, data):
        await trio.lowlevel.checkpoint()
        n = data.count(b"\n")
        if self.answered == 0 and self.next_id == 1:  # the initialize answer
            self.answered = -1
            self.send_ch.send_nowait(INITED + b"".join(call(self.next_id + i) for i in range(C)))
            self.next_id += C
            return
        self.answered += n
        if self.answered >= WARM and self.t0 is None:
            self.t0 = time.process_time()
            self.a0 = self.answered
        if self.answered >= WARM + N:
            if self.result is None:
                self.result = (time.process_time() - self.t0) / (self.answered - self.a0) * 1e6
                self.done.set()
            return
        self.send_ch.send_nowait(b"".join(call(self.next_id + i) for i in range(n)))
        self.next_id += n

    async def wait_send_all_might_not_block(self):
        pass

    async def aclose(self):
        pass


async def main():
    client = Client()
    client.send_ch.send_nowait(INIT)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_streams, client, client)
        await client.done.wait()
        nursery.cancel_scope.cancel()
    print(f"{client.result:.3f}")


gc.collect()
gc.freeze()
_, g1, g2 = gc.get_threshold()
gc.set_threshold(10_000, g1, g2)
trio.run(main)
