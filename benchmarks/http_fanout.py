# ruff: noqa: RUF001, RUF002
"""SSE notification fan-out over HTTP: one notification to many legacy sessions.

    python -m benchmarks.http_fanout                        # 500 sessions, 5 rounds, 3 reps
    python -m benchmarks.http_fanout --sessions 1000 --peers native,sdk

Per peer and rep (peers interleaved, the order rotated every rep): spawn the
server, open N legacy sessions (``initialize``, ``notifications/initialized``,
then ``tools/call register``), and on each a ``GET`` stream (``Accept:
text/event-stream``) on a connection of its own. A round: ``tools/call
broadcast`` on another connection, which makes the server send one
``notifications/tools/list_changed`` to every session's stream (trio_mcp: a
change of the tool list reaches every legacy session; the SDK has no broadcast,
so its ``broadcast`` tool loops over the sessions that called ``register``);
the client (one thread, ``selectors``) reads every stream until the
notification has arrived on it. Figures per round, medians over the rounds:
**ms until the last session has it** (from the POST), **ms until half have
it**, and **server CPU µs per delivery** (utime+stime over all rounds / N × rounds).
Ratios to the SDK within each rep, then medians with min–max over reps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .http_bench import (
    BASELINE,
    MODAL,
    PEERS,
    RESULTS,
    SERVERS,
    cpu_seconds,
    free_port,
    interleaved,
    load,
    logs_dir,
    rep_ratios,
    stop,
    wait_listening,
)
from .http_sessions import HEADERS, INIT, INITED

DEFAULT_PEERS = "native,hypercorn,sdk"
VERSION = "2025-06-18"
MARK = b"notifications/tools/list_changed"


def call(conn: http.client.HTTPConnection, sid: str, name: str, rid: int) -> None:
    body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name}}
    body["params"]["arguments"] = {}
    headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": VERSION}
    conn.request("POST", "/mcp", json.dumps(body).encode(), headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200 or b'"ok"' not in data:
        raise RuntimeError(f"tools/call {name} answered {r.status}: {data[:200]!r}")


def session(conn: http.client.HTTPConnection) -> str:
    conn.request("POST", "/mcp", json.dumps(INIT).encode(), HEADERS)
    r = conn.getresponse()
    sid = r.getheader("mcp-session-id")
    r.read()
    if r.status != 200 or not sid:
        raise RuntimeError(f"initialize answered {r.status}")
    headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": VERSION}
    conn.request("POST", "/mcp", INITED, headers)
    r = conn.getresponse()
    r.read()
    return sid


def stream(port: int, sid: str) -> socket.socket:
    """A GET stream of session ``sid``, its response head read."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
            f"Mcp-Session-Id: {sid}\r\nMCP-Protocol-Version: {VERSION}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the GET stream closed")
        head += data
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET answered {head[:60]!r}")
    sock.setblocking(False)
    return sock


def round_trip(
    socks: list[socket.socket], conn: http.client.HTTPConnection, sid: str, rid: int, pid: int
) -> dict[str, float]:
    sel = selectors.DefaultSelector()
    seen: dict[socket.socket, bytes] = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        seen[s] = b""
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    call(conn, sid, "broadcast", rid)
    arrived: list[float] = []
    while len(arrived) < len(socks):
        events = sel.select(timeout=30)
        if not events:
            raise RuntimeError(f"only {len(arrived)} of {len(socks)} sessions heard it")
        for key, _ in events:
            s = key.fileobj
            assert isinstance(s, socket.socket)
            data = s.recv(65536)
            if not data:
                raise RuntimeError("a GET stream closed")
            buf = seen[s] + data
            if MARK in buf:
                arrived.append(time.perf_counter() - t0)
                sel.unregister(s)
                seen[s] = b""
            else:
                seen[s] = buf[-len(MARK) :]
    cpu1 = cpu_seconds(pid)
    sel.close()
    arrived.sort()
    return {
        "last_ms": arrived[-1] * 1e3,
        "half_ms": arrived[len(arrived) // 2] * 1e3,
        "cpu_s": cpu1 - cpu0,
    }


def measure(peer: str, n: int, rounds: int, logs: Path) -> dict[str, Any]:
    port = free_port()
    argv = [a.format(port=port) for a in PEERS[peer][1]]
    if peer in MODAL:
        argv.append("session-json")
    env = {**os.environ, "PYTHONPATH": str(SERVERS.parent.parent)}
    socks: list[socket.socket] = []
    with (logs / f"fanout-{peer}.stderr").open("ab") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=SERVERS, env=env)
        try:
            wait_listening(port, proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sids = []
            for _ in range(n):
                sid = session(conn)
                call(conn, sid, "register", 1)
                sids.append(sid)
            socks = [stream(port, sid) for sid in sids]
            trigger = session(conn)
            time.sleep(0.3)
            got = [round_trip(socks, conn, trigger, i + 2, proc.pid) for i in range(rounds + 1)]
            got = got[1:]  # the first round warms up
        finally:
            for s in socks:
                s.close()
            stop(proc)
    return {
        "peer": peer,
        "sessions": n,
        "last_ms": statistics.median(r["last_ms"] for r in got),
        "half_ms": statistics.median(r["half_ms"] for r in got),
        # summed over the rounds: the CPU clock ticks in 10 ms
        "cpu_us_per_delivery": sum(r["cpu_s"] for r in got) * 1e6 / (n * rounds),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", default=DEFAULT_PEERS)
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    peers = args.peers.split(",")
    logs = logs_dir("http_fanout", peers)
    if logs is None:
        return 2
    load_start = load()
    runs = interleaved(
        peers,
        args.reps,
        lambda peer: measure(peer, args.sessions, args.rounds, logs),
        lambda row: (
            f"last {row['last_ms']:.1f} ms, half {row['half_ms']:.1f} ms,"
            f" {row['cpu_us_per_delivery']:.0f} µs CPU/delivery"
        ),
    )
    figures = {
        "last_ms": "ms to the last",
        "half_ms": "ms to half",
        "cpu_us_per_delivery": "µs CPU",
    }
    lines = [
        f"Run of {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC} · one notification to"
        f" {args.sessions:,} legacy sessions' GET streams · {args.rounds} rounds per server,"
        f" {args.reps} reps, peers interleaved · load {load_start} at start, {load()} at end",
        "",
        "| peer | " + " | ".join(f"{t} (ratio to `sdk`)" for t in figures.values()) + " |",
        "|---|" + "---|" * len(figures),
    ]
    for peer in peers:
        mine = [r for r in runs if r["peer"] == peer]
        if not mine:
            continue
        cells = []
        for fig in figures:
            values = [r[fig] for r in mine]
            ratios = rep_ratios(runs, mine, fig)
            cell = f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"
            if ratios and peer != BASELINE:
                cell += f" ({statistics.median(ratios):.2f}×)"
            cells.append(cell)
        lines.append(f"| `{peer}` | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "http_fanout.json").write_text(json.dumps(runs, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
