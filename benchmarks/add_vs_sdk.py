"""The figures issue 3 asks for: ``add`` over stdio, trio_mcp against the official SDK.

    python -m benchmarks.add_vs_sdk [--reps 3] [--duration 2]

Interleaves the two peers, ``--reps`` times, each run a fresh server process
driven by ``benchmarks.loadgen`` (``--tool add``), and prints req/s at 1 and 64
in flight and spawn-to-initialize, as medians (min-max) with the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

PEERS = ("trio_mcp", "sdk_asyncio")


def measure(peer: str, duration: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "--peer",
            peer,
            "--tool",
            "add",
            "--concs",
            "1,64",
            "--duration",
            str(duration),
            "suite",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    rps = {p["concurrency"]: p["rps"] for p in data["points"]}
    return {"rps1": rps[1], "rps64": rps[64], "cold_ms": data["cold_start_ms"]}


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PEERS}
    ratios: dict[str, list[float]] = {"rps1": [], "rps64": [], "cold_ms": []}
    for rep in range(args.reps):
        order = PEERS if rep % 2 == 0 else PEERS[::-1]
        got = {peer: measure(peer, args.duration) for peer in order}
        for peer in PEERS:
            runs[peer].append(got[peer])
        for key in ratios:
            ratios[key].append(got["trio_mcp"][key] / got["sdk_asyncio"][key])
        print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
    print("| figure (tool `add`, stdio) | trio_mcp | official SDK MCPServer | ratio |")
    print("|---|---|---|---|")
    for key, label in (
        ("rps1", "req/s, 1 in flight"),
        ("rps64", "req/s, 64 in flight"),
        ("cold_ms", "spawn to initialize response, ms"),
    ):
        r = ratios[key]
        print(
            f"| {label} | {fmt([x[key] for x in runs['trio_mcp']])} | "
            f"{fmt([x[key] for x in runs['sdk_asyncio']])} | "
            f"{statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}) |"
        )


if __name__ == "__main__":
    main()
