"""Before/after: trio_mcp at two commits, side by side, interleaved, in one run.

Each tree is a checkout with its own ``.venv`` (``make`` creates it). Per rep,
the load generator of each tree runs its own trio_mcp server over stdio, the
order alternating every rep; the figure compared is the server's CPU time per
request (utime+stime over the window / requests answered), the most
noise-resistant figure on a shared machine. Prints one JSON object per
measurement on stderr and a summary on stdout::

    git worktree add /tmp/base <commit> && make -C /tmp/base .venv/.installed-dev
    .venv/bin/python -m benchmarks.compare /tmp/base . --reps 5 --concs 1,64
    .venv/bin/python -m benchmarks.compare /tmp/base . --instructions   # valgrind counts

``--instructions`` counts the instructions per request of ``benchmarks/inproc.py``
(the real runtime over an in-memory stream) under callgrind: the difference
between a run of 8,000 and one of 2,000 requests, divided by 6,000, so start-up
cancels out. Exact and repeatable; slow (minutes). ``--inproc http`` (or
``http-legacy``) counts ``benchmarks/inproc_http.py`` instead: the native HTTP
server and the transport core, modern stateless POSTs (or a legacy session's)
over a ``socketpair`` per connection (the client is a task in the same process,
the same in both trees), the difference between 3,000 and 1,000 requests
divided by 2,000::

    .venv/bin/python -m benchmarks.compare /tmp/base . --instructions --inproc http --concs 1,64

``--peer`` picks the server (a name of ``benchmarks/peers.py``) for both trees,
``--after-peer`` another one for the second: ``benchmarks.compare . . --peer
trio_mcp --after-peer trio_mcp_middleware`` is the cost of three middlewares.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def measure(
    tree: Path, concs: str, duration: float, tool: str, peer: str = "trio_mcp"
) -> dict[str, float]:
    """One load-generator run in ``tree``; µs of server CPU per request at each concurrency."""
    out = subprocess.run(
        [
            str(tree / ".venv/bin/python"),
            "-m",
            "benchmarks.loadgen",
            "suite",
            "--peer",
            peer,
            "--concs",
            concs,
            "--duration",
            str(duration),
            "--tool",
            tool,
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    print(json.dumps({"tree": str(tree), **result}), file=sys.stderr)
    return {
        str(p["concurrency"]): p["server_cpu"] * p["duration_s"] / p["requests"] * 1e6
        for p in result["points"]
    }


#: ``--inproc`` name -> (module, extra argv, the two request counts whose difference is taken)
INPROC: dict[str, tuple[str, list[str], tuple[int, int]]] = {
    "stdio": ("benchmarks.inproc", [], (8000, 2000)),
    "http": ("benchmarks.inproc_http", ["modern", "socket"], (3000, 1000)),
    "http-legacy": ("benchmarks.inproc_http", ["legacy", "socket"], (3000, 1000)),
}


def instructions(tree: Path, n: int, conc: int, inproc: str = "stdio") -> int:
    """Instructions callgrind counts for ``benchmarks/inproc.py N C`` (or ``inproc``'s) in ``tree``."""
    module, extra, _ = INPROC[inproc]
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            str(tree / ".venv/bin/python"),
            "-m",
            module,
            str(n),
            str(conc),
            *extra,
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # repeatable counts
    )
    line = next(ln for ln in out.stderr.splitlines() if "Collected" in ln)
    return int(line.split()[-1])


def main_instructions(trees: dict[str, Path], concs: str, inproc: str = "stdio") -> int:
    module, _, (hi, lo) = INPROC[inproc]
    print(f"instructions per request (callgrind, {module} {inproc}, (N={hi} - N={lo}) / {hi - lo})")
    for conc in (int(c) for c in concs.split(",")):
        per = {}
        for name, tree in trees.items():
            per[name] = (
                instructions(tree, hi, conc, inproc) - instructions(tree, lo, conc, inproc)
            ) / (hi - lo)
        print(
            f"  {conc:>4} in flight: before {per['before']:,.0f}  after {per['after']:,.0f}"
            f"  after/before {per['after'] / per['before']:.3f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="checkout of the base commit (with .venv)")
    parser.add_argument("after", type=Path, help="checkout of the new commit (with .venv)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--concs", default="64")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--tool", default="echo", choices=["echo", "add"])
    parser.add_argument("--peer", default="trio_mcp", help="server of benchmarks/peers.py")
    parser.add_argument("--after-peer", default=None, help="another server for 'after'")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind instead"
    )
    parser.add_argument(
        "--inproc",
        default="stdio",
        choices=sorted(INPROC),
        help="with --instructions: the in-process loop to count (stdio, http, http-legacy)",
    )
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    if args.instructions:
        return main_instructions(trees, args.concs, args.inproc)
    peers = {"before": args.peer, "after": args.after_peer or args.peer}
    samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for rep in range(args.reps):
        order = ["before", "after"] if rep % 2 == 0 else ["after", "before"]
        for name in order:
            figures = measure(trees[name], args.concs, args.duration, args.tool, peers[name])
            for conc, us in figures.items():
                samples[name].setdefault(conc, []).append(us)
    print(f"server CPU µs per request ({args.tool}, median of {args.reps} interleaved reps)")
    for conc in samples["before"]:
        before = statistics.median(samples["before"][conc])
        after = statistics.median(samples["after"][conc])
        print(
            f"  {conc:>4} in flight: before {before:.1f}  after {after:.1f}"
            f"  after/before {after / before:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
