"""Memory under a stalled client and in the HTTP event store, trio_mcp beside the official SDK.

Two scenarios (issue 13, item 6), each against a fresh server process
(``benchmarks/servers/memory_trio_mcp.py`` and ``memory_sdk.py``, every option
at its default), printing one JSON object per peer:

* ``stall`` (stdio): after a warm-up, the client writes ``--calls`` ``echo``
  calls of ``--size`` bytes each and reads nothing. Once its writes stop
  making progress (the server pushed back) or all are written, the server's
  RSS growth is sampled; then the client reads: every answer must arrive.
* ``eventstore`` (legacy Streamable HTTP, one session): ``--calls`` calls of
  ``blob(--size)`` (1 MiB by default), each answer read whole (delivered), and
  then as many again whose stream the client drops after the first event
  (undelivered: kept for resumption), one at a time. RSS growth after each
  phase.

Run: ``.venv/bin/python -m benchmarks.memory stall`` and
``.venv/bin/python -m benchmarks.memory eventstore`` (``--peers trio_mcp,sdk``;
``floor``, the blocking-read floor of ``benchmarks/servers``, for ``stall``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

SERVERS = Path(__file__).resolve().parent / "servers"
PEERS = {
    "trio_mcp": SERVERS / "memory_trio_mcp.py",
    "sdk": SERVERS / "memory_sdk.py",
    "floor": SERVERS / "floor_server.py",  # stdio only: blocking reads, no buffering at all
}
PROTOCOL = "2025-06-18"
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "memory-bench", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _call(rid: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": args}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


# ------------------------------------------------------------------ stdio stall


class _Lines:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def next(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError("the server closed stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, Any] = orjson.loads(line)
        return msg


def stall(peer: str, calls: int, size: int) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, str(PEERS[peer])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    win, rout = proc.stdin.fileno(), proc.stdout.fileno()
    lines = _Lines(rout)

    def send(msg: dict[str, Any]) -> None:
        data = orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE)
        view = memoryview(data)
        while view:
            view = view[os.write(win, view) :]

    try:
        send(INIT)
        lines.next()
        send(INITIALIZED)
        text = "x" * size
        for i in range(500):  # warm up with the same kind of call, read normally
            send(_call(-1 - i, "echo", {"text": text}))
            lines.next()
        time.sleep(0.5)
        base = rss_kib(proc.pid)
        sent = 0

        def sender() -> None:
            nonlocal sent
            for i in range(calls):
                send(_call(i, "echo", {"text": text}))
                sent += 1

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        peak, last, still = base, -1, 0.0
        while still < 2.0 and thread.is_alive():  # until the writes stop making progress
            time.sleep(0.1)
            peak = max(peak, rss_kib(proc.pid))
            still = still + 0.1 if sent == last else 0.0
            last = sent
        for _ in range(10):  # and a second more, for what is still in flight
            time.sleep(0.1)
            peak = max(peak, rss_kib(proc.pid))
        stuck_at = sent
        got = set()
        while len(got) < calls:
            msg = lines.next()
            got.add(msg["id"])
        thread.join()
        return {
            "scenario": "stall",
            "peer": peer,
            "calls": calls,
            "size": size,
            "writes_blocked_after": stuck_at if stuck_at < calls else None,
            "answers": len(got),
            "rss_base_mib": round(base / 1024, 1),
            "rss_growth_mib": round((peak - base) / 1024, 2),
        }
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------- HTTP event store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def eventstore(peer: str, calls: int, size: int) -> dict[str, Any]:
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(PEERS[peer]), "http", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    accept = "application/json, text/event-stream"
    try:
        with httpx.Client(timeout=60) as c:
            for _ in range(200):
                try:
                    r = c.post(url, json=INIT, headers={"accept": accept})
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            sid = r.headers["mcp-session-id"]
            headers = {"accept": accept, "mcp-session-id": sid, "mcp-protocol-version": PROTOCOL}
            c.post(url, json=INITIALIZED, headers=headers)

            def delivered(rid: int) -> None:
                r = c.post(url, json=_call(rid, "blob", {"size": size}), headers=headers)
                assert r.status_code == 200 and f'"id":{rid}' in r.text.replace(" ", ""), r.text

            def dropped(rid: int) -> None:
                body = _call(rid, "blob", {"size": size})
                with c.stream("POST", url, json=body, headers=headers) as r:
                    for _ in r.iter_bytes():
                        break  # the first event (or chunk), then drop the connection

            for i in range(5):
                delivered(-1 - i)
            time.sleep(0.5)
            base = rss_kib(proc.pid)
            for i in range(calls):
                delivered(i)
            time.sleep(0.5)
            after_delivered = rss_kib(proc.pid)
            for i in range(calls):
                dropped(calls + i)
                time.sleep(0.05)  # one at a time: the handler ends, its answer is stored
            time.sleep(1.0)  # the handlers finish; their answers are stored
            after_dropped = rss_kib(proc.pid)
        return {
            "scenario": "eventstore",
            "peer": peer,
            "calls": calls,
            "size": size,
            "rss_base_mib": round(base / 1024, 1),
            "growth_delivered_mib": round((after_delivered - base) / 1024, 1),
            "growth_plus_dropped_mib": round((after_dropped - base) / 1024, 1),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=["stall", "eventstore"])
    parser.add_argument("--peers", default="trio_mcp,sdk")
    parser.add_argument("--calls", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.reps):
        for peer in args.peers.split(","):
            if args.scenario == "stall":
                out = stall(peer, args.calls or 20_000, args.size or 1000)
            else:
                out = eventstore(peer, args.calls or 100, args.size or 1 << 20)
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
