# ruff: noqa: RUF001, RUF002
"""Memory of idle legacy sessions over HTTP: RSS per session, trio_mcp against the SDK.

    python -m benchmarks.http_sessions                       # 1,000 sessions, 3 reps
    python -m benchmarks.http_sessions --sessions 2000 --peers native,sdk

Per peer and rep (peers interleaved, the order rotated every rep): spawn the
server (``benchmarks/http_bench.py``'s peers, legacy mode with JSON answers
where the server has the choice), open one session by hand and read the
server's ``VmRSS`` (its processes, workers included), then open N more sessions
(``initialize`` then ``notifications/initialized``, each with its own
``Mcp-Session-Id``, over one keep-alive connection) and read ``VmRSS`` again,
after a short settle. **KB per session** = the difference / N. Nothing is sent
on the sessions afterwards: they stay open and idle. Ratios to the SDK within
each rep, medians with min–max. Output: a table on stdout and
``benchmarks/results/http_sessions.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .http_bench import (
    MODAL,
    PEERS,
    RESULTS,
    SERVERS,
    free_port,
    interleaved,
    load,
    logs_dir,
    rep_ratios,
    stop,
    wait_listening,
)

DEFAULT_PEERS = "native,hypercorn,sdk,fastmcp"
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "http_sessions", "version": "1"},
    },
}
INITED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def rss_kb(pid: int) -> int:
    """``VmRSS`` of ``pid`` and its live children, in KB."""
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def open_sessions(port: int, n: int) -> None:
    """``n`` legacy sessions, initialised, over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps(INIT).encode()
    for _ in range(n):
        conn.request("POST", "/mcp", body, HEADERS)
        r = conn.getresponse()
        sid = r.getheader("mcp-session-id")
        r.read()
        if r.status != 200 or not sid:
            raise RuntimeError(f"initialize answered {r.status} without a session id")
        conn.request(
            "POST",
            "/mcp",
            INITED,
            {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"},
        )
        r = conn.getresponse()
        r.read()
        if r.status != 202:
            raise RuntimeError(f"notifications/initialized answered {r.status}")
    conn.close()


def measure(peer: str, n: int, logs: Path) -> dict[str, Any]:
    port = free_port()
    argv = [a.format(port=port) for a in PEERS[peer][1]]
    if peer in MODAL:
        argv.append("session-json")
    env = {**os.environ, "PYTHONPATH": str(SERVERS.parent.parent)}
    with (logs / f"sessions-{peer}.stderr").open("ab") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=SERVERS, env=env)
        try:
            wait_listening(port, proc)
            open_sessions(port, 1)  # imports and first-use caches out of the figure
            time.sleep(0.3)
            before = rss_kb(proc.pid)
            t0 = time.monotonic()
            open_sessions(port, n)
            took = time.monotonic() - t0
            time.sleep(0.5)
            after = rss_kb(proc.pid)
        finally:
            stop(proc)
    return {
        "peer": peer,
        "sessions": n,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_session": (after - before) / n,
        "open_s": took,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", default=DEFAULT_PEERS)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    peers = args.peers.split(",")
    logs = logs_dir("http_sessions", peers)
    if logs is None:
        return 2
    load_start = load()
    runs = interleaved(
        peers,
        args.reps,
        lambda peer: measure(peer, args.sessions, logs),
        lambda row: (
            f"{row['kb_per_session']:.1f} KB/session (RSS {row['rss_before_kb'] / 1024:.1f}"
            f" -> {row['rss_after_kb'] / 1024:.1f} MB), opened in {row['open_s']:.1f} s"
        ),
    )
    lines = [
        f"Run of {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC} · {args.sessions:,} idle legacy"
        f" sessions per server · {args.reps} reps, peers interleaved · load {load_start} at"
        f" start, {load()} at end",
        "",
        "| peer | KB RSS per session | ratio to `sdk` | RSS before → after, MB |",
        "|---|---|---|---|",
    ]
    for peer in peers:
        mine = [r for r in runs if r["peer"] == peer]
        if not mine:
            continue
        kb = [r["kb_per_session"] for r in mine]
        ratios = rep_ratios(runs, mine, "kb_per_session")
        ratio = (
            f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
            if ratios
            else "–"
        )
        before = statistics.median(r["rss_before_kb"] for r in mine) / 1024
        after = statistics.median(r["rss_after_kb"] for r in mine) / 1024
        lines.append(
            f"| `{peer}` | {statistics.median(kb):.1f} ({min(kb):.1f}–{max(kb):.1f})"
            f" | {ratio} | {before:.1f} → {after:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "http_sessions.json").write_text(json.dumps(runs, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
