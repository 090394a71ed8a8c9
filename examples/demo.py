"""`make demo`: a scripted session against examples/hello.py, over real stdio.

It spawns the server as a subprocess (as Claude Code would), speaks both protocol
eras to it, sends some bad input, then closes stdin and shows the clean exit.
Every line printed with ``->`` was written to the server's stdin; every ``<-``
line is exactly what came back on its stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

HERE = Path(__file__).resolve().parent
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "demo", "version": "1.0"},
}


def show(arrow: str, text: str, width: int = 150) -> None:
    print(f"  {arrow} {text if len(text) <= width else text[: width - 3] + '...'}", flush=True)


async def main() -> None:
    proc = await trio.lowlevel.open_process(
        [sys.executable, str(HERE / "hello.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdout = proc.stdout
    pending = b""

    async def read_line() -> dict[str, Any]:
        nonlocal pending
        while b"\n" not in pending:
            chunk = await stdout.receive_some(65536)
            if not chunk:
                raise RuntimeError("server closed stdout")
            pending += chunk
        line, _, pending = pending.partition(b"\n")
        show("<-", line.decode())
        return json.loads(line)  # type: ignore[no-any-return]

    async def send(raw: str) -> None:
        show("->", raw)
        assert proc.stdin is not None
        await proc.stdin.send_all(raw.encode() + b"\n")

    async def call(msg: dict[str, Any]) -> dict[str, Any]:
        await send(json.dumps(msg, separators=(",", ":")))
        return await read_line()

    started = time.perf_counter()
    print("\n== legacy era: the initialize handshake (what Claude Code does today)")
    init = await call(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "demo", "version": "1.0"},
            },
        }
    )
    print(f"     (initialize answered {1000 * (time.perf_counter() - started):.0f} ms after spawn)")
    assert init["result"]["protocolVersion"] == "2025-11-25"
    await send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    tools = await call({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert [t["name"] for t in tools["result"]["tools"]] == ["add", "echo"]
    added = await call(
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 2, "b": 40}},
        }
    )
    assert added["result"]["content"][0]["text"] == "42.0"

    print("\n== typed validation: a wrong argument type is a readable tool error")
    bad = await call(
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": "two", "b": 40}},
        }
    )
    assert bad["result"]["isError"] is True

    print("\n== bad input: exact JSON-RPC errors, and the server stays up")
    await send("this is not json")
    assert (await read_line())["error"]["code"] == -32700
    unknown = await call({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"})
    assert unknown["error"]["code"] == -32601
    pong = await call({"jsonrpc": "2.0", "id": 6, "method": "ping"})
    assert pong["result"] == {}

    print("\n== modern era (2026-07-28): stateless, every request carries its _meta")
    discover = await call(
        {"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {"_meta": MODERN_META}}
    )
    assert discover["result"]["supportedVersions"] == ["2026-07-28"]
    echoed = await call(
        {
            "jsonrpc": "2.0",
            "id": 8,
            "method": "tools/call",
            "params": {"_meta": MODERN_META, "name": "echo", "arguments": {"text": "hi"}},
        }
    )
    assert echoed["result"]["resultType"] == "complete"

    print("\n== shutdown: close stdin; the server drains and exits 0")
    await proc.stdin.aclose()
    t0 = time.perf_counter()
    code = await proc.wait()
    print(f"     exit code {code}, {1000 * (time.perf_counter() - t0):.0f} ms after stdin closed")
    assert code == 0
    print("\ndemo OK: examples/hello.py answered every step as the spec says.")


if __name__ == "__main__":
    trio.run(main)
