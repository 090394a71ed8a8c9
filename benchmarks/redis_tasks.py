"""Task-creating ``tools/call`` with the Redis task store against the in-memory one.

    python -m benchmarks.redis_tasks                  # 1 and 64 connections, 5 s each, 3 reps
    python -m benchmarks.redis_tasks --conns 1,16,64 --duration 10 --reps 5

One ``trio-mcp run benchmarks/servers/tasks_server.py --transport http`` worker
(native server) per store; ``wrk`` (one thread) POSTs ``benchmarks/http/modern_task.lua``:
a modern-era ``tools/call quick`` from a client that declares the tasks extension,
so every request creates a task (the tool answers at once: the task completes
right after). With Redis (a ``redis-server`` of its own on a free loopback port,
no persistence), the Redis round trips per request are the client commands the
server processed (``INFO commandstats``) divided by the requests answered.
Prints one markdown table: requests/s and p99 per store and connection count
(median over reps), round trips per request.

Needs ``wrk`` and ``redis-server`` (Debian packages; ``make bench-http`` and
``make test`` install them).
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

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "tasks_server.py"
LUA = HERE / "http" / "modern_task.lua"
#: What trio_mcp sends itself (commandstats also counts the commands scripts run inside).
CLIENT_COMMANDS = frozenset(
    {"evalsha", "eval", "script|load", "ping", "hello", "subscribe", "publish", "del"}
)


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


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = http_bench.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(tmp)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    http_bench.wait_listening(port, proc)
    return proc, port


def measure(
    store: str, redis_port: int, conns: list[int], duration: float, logs: Path
) -> dict[int, dict[str, Any]]:
    port = http_bench.free_port()
    env = dict(os.environ)
    env.pop("TRIO_MCP_REDIS_URL", None)
    if store == "redis":
        env["TRIO_MCP_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    argv = [sys.executable, "-m", "trio_mcp", "run", str(SERVER), "--transport", "http"]
    argv += ["--port", str(port), "--log-level", "WARNING"]
    url = f"http://127.0.0.1:{port}/mcp"
    with (logs / f"{store}.stderr").open("ab") as err:
        proc = subprocess.Popen(argv, env=env, stdout=err, stderr=err)
    try:
        http_bench.wait_listening(port, proc)
        http_bench.LUA = LUA
        http_bench.wrk(url, 16, 1.0)  # warm-up
        out = {}
        for c in conns:
            before = redis_commands(redis_port) if store == "redis" else 0
            got = http_bench.wrk(url, c, duration)
            time.sleep(0.2)  # the last flushes land
            if store == "redis":
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
            print(
                f"redis_tasks: {tool} not found (apt-get install wrk redis-server)", file=sys.stderr
            )
            return 1
    conns = [int(c) for c in args.conns.split(",")]
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {"memory": {}, "redis": {}}
    with tempfile.TemporaryDirectory() as tmp:
        redis, redis_port = start_redis(Path(tmp))
        try:
            for rep in range(args.reps):
                order = ["memory", "redis"] if rep % 2 == 0 else ["redis", "memory"]
                for store in order:
                    for c, got in measure(
                        store, redis_port, conns, args.duration, Path(tmp)
                    ).items():
                        runs[store].setdefault(c, []).append(got)
        finally:
            redis.terminate()
            redis.wait(30)
    print("| store | connections | requests/s | p99 ms | errors | Redis round trips / request |")
    print("|---|---:|---:|---:|---:|---:|")
    for store in ("memory", "redis"):
        for c in conns:
            reps = runs[store][c]
            rps = statistics.median(r["rps"] for r in reps)
            p99 = statistics.median(r["p99_us"] for r in reps) / 1000
            errors = sum(r["errors"] for r in reps)
            trips = (
                f"{statistics.median(r['round_trips'] for r in reps):.2f}"
                if store == "redis"
                else "0"
            )
            print(f"| {store} | {c} | {rps:,.0f} | {p99:.1f} | {errors} | {trips} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
