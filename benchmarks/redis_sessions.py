"""Legacy-session ``tools/call`` with sessions shared through Redis against in-memory ones.

    python -m benchmarks.redis_sessions               # 1 and 64 connections, 5 s each, 3 reps
    python -m benchmarks.redis_sessions --conns 1,16,64 --duration 10 --reps 5

``trio-mcp run benchmarks/servers/trio_mcp_server.py --transport http`` (native
server); one legacy session (2025-06-18) is opened, then ``wrk`` (one thread) POSTs
``benchmarks/http/legacy_echo.lua``: ``tools/call echo`` in that session, every
answer checked. Three set-ups: in memory with one worker; Redis with one worker;
Redis with two workers on one port (``--workers 2``, ``SO_REUSEPORT``: the kernel
spreads the connections, so the session's POSTs land on both processes, which
only works because the session is shared). The Redis round trips per request are
the commands the server sent (``INFO commandstats``, scripts counted once) divided
by the requests answered. Prints one markdown table (median over reps).

Needs ``wrk`` and ``redis-server`` (Debian packages).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import http_bench
from .redis_tasks import start_redis

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "trio_mcp_server.py"
LUA = HERE / "http" / "legacy_echo.lua"
#: What trio_mcp sends itself (commandstats also counts the commands scripts run inside).
CLIENT_COMMANDS = frozenset(
    {"evalsha", "eval", "script|load", "ping", "hello", "subscribe", "publish", "xread", "xadd"}
)
SETUPS = {"memory": (False, 1), "redis": (True, 1), "redis, 2 workers": (True, 2)}


def redis_commands(port: int) -> int:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "info", "commandstats"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = 0
    for line in out.splitlines():
        name = line.split(":")[0].removeprefix("cmdstat_")
        if name in CLIENT_COMMANDS:
            total += int(line.split("calls=")[1].split(",")[0])
    return total


def measure(
    setup: str, redis_port: int, conns: list[int], duration: float, logs: Path
) -> dict[int, dict[str, Any]]:
    shared, workers = SETUPS[setup]
    port = http_bench.free_port()
    env = dict(os.environ)
    env.pop("TRIO_MCP_REDIS_URL", None)
    if shared:
        env["TRIO_MCP_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    argv = [sys.executable, "-m", "trio_mcp", "run", str(SERVER), "--transport", "http"]
    argv += ["--port", str(port), "--log-level", "WARNING", "--workers", str(workers)]
    url = f"http://127.0.0.1:{port}/mcp"
    with (logs / f"{setup}.stderr").open("ab") as err:
        proc = subprocess.Popen(argv, env=env, stdout=err, stderr=err)
    try:
        http_bench.wait_listening(port, proc)
        time.sleep(0.5 if workers > 1 else 0)  # every worker listening
        sid = http_bench.open_session(url)
        http_bench.wrk(url, 16, 1.0, LUA, (sid,))  # warm-up (and the answers checked)
        out = {}
        for c in conns:
            before = redis_commands(redis_port) if shared else 0
            got = http_bench.wrk(url, c, duration, LUA, (sid,))
            if shared:
                got["round_trips"] = (redis_commands(redis_port) - before) / got["requests"]
            out[c] = got
        return out
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", default="1,64")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    for tool in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print(f"redis_sessions: {tool} not found (apt-get install wrk redis-server)")
            return 1
    conns = [int(c) for c in args.conns.split(",")]
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {s: {} for s in SETUPS}
    with tempfile.TemporaryDirectory() as tmp:
        redis, redis_port = start_redis(Path(tmp))
        try:
            for rep in range(args.reps):
                order = list(SETUPS) if rep % 2 == 0 else list(reversed(SETUPS))
                for setup in order:
                    got = measure(setup, redis_port, conns, args.duration, Path(tmp))
                    for c, row in got.items():
                        runs[setup].setdefault(c, []).append(row)
        finally:
            redis.terminate()
            redis.wait(30)
    print("| sessions | connections | requests/s | p99 ms | errors | Redis round trips / request |")
    print("|---|---:|---:|---:|---:|---:|")
    for setup, (shared, _) in SETUPS.items():
        for c in conns:
            reps = runs[setup][c]
            rps = statistics.median(r["rps"] for r in reps)
            p99 = statistics.median(r["p99_us"] for r in reps) / 1000
            errors = sum(r["errors"] for r in reps)
            trips = f"{statistics.median(r['round_trips'] for r in reps):.3f}" if shared else "0"
            print(f"| {setup} | {c} | {rps:,.0f} | {p99:.1f} | {errors} | {trips} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
