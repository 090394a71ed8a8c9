# ruff: noqa: RUF001, RUF002
"""Run the benchmark suite: every peer, interleaved, repeated; write JSON lines, Markdown, PNGs.

    python -m benchmarks.run                 # quick profile (default, < 5 minutes)
    python -m benchmarks.run --full          # everything (10,000 sleeps, 256 in flight, longer windows)
    python -m benchmarks.run --peers trio_mcp,sdk_asyncio

Each measurement runs in a fresh load-generator process (``benchmarks.loadgen``)
against a freshly spawned server. A repetition ("rep") measures every peer once,
in an order rotated per rep, so slow drifts of a shared machine hit all peers
alike. Ratios are taken against the official SDK (asyncio) *within the same
rep*, then summarised (median, min–max) across reps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .peers import BASELINE, ORDER, PEERS

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


# --------------------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()

    def show(self, label: str) -> None:
        width = 30
        filled = int(width * self.done / max(1, self.total))
        elapsed = time.monotonic() - self.t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{elapsed:5.0f}s elapsed, ~{eta:4.0f}s left  {label:<34}"
        )
        if self.tty:
            sys.stderr.write("\r" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def step(self, label: str) -> None:
        self.done += 1
        self.show(label)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


# --------------------------------------------------------------------------- running


def loadgen(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.loadgen", *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent, check=False
        )
    except subprocess.TimeoutExpired:
        return {"failure": f"load generator timed out after {timeout}s: {' '.join(args)}"}
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"failure": f"load generator failed ({proc.returncode}): {proc.stderr[-500:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plan(opts: argparse.Namespace, peers: list[str]) -> list[tuple[int, str, str, list[str]]]:
    """(rep, peer, scenario, loadgen args), interleaved: the peer order rotates every rep."""
    jobs = []
    for rep in range(opts.reps):
        k = rep % len(peers)
        order = peers[k:] + peers[:k]
        for scenario in ("suite", "sleep", "imports"):
            for peer in order:
                logs = ["--stderr", str(RESULTS / "logs" / f"{peer}.stderr")]
                if scenario == "suite":
                    args = [
                        "suite",
                        "--peer",
                        peer,
                        "--concs",
                        opts.concs,
                        "--duration",
                        str(opts.duration),
                        "--warmup",
                        str(opts.warmup),
                        "--exit-cap",
                        str(opts.exit_cap),
                        *logs,
                    ]
                    jobs.append((rep, peer, scenario, args))
                elif scenario == "sleep":
                    for i, n in enumerate(int(x) for x in opts.sleep_n.split(",")):
                        cancels = str(opts.cancels if i == 0 else 0)
                        args = ["sleep", "--peer", peer, "--n", str(n), "--cancels", cancels, *logs]
                        jobs.append((rep, peer, scenario, args))
                else:
                    jobs.append((rep, peer, scenario, ["imports", "--peer", peer]))
    return jobs


# --------------------------------------------------------------------------- summarising


def figures(record: dict[str, Any]) -> dict[str, float | None]:
    """The scalar figures of one loadgen result."""
    out: dict[str, float | None] = {}
    if "failure" in record:
        return out
    sc = record["scenario"]
    if sc == "suite":
        out["cold_start_ms"] = record["cold_start_ms"]
        out["peak_rss_mb"] = record["peak_rss_kb"] / 1024
        out["exit_s"] = record["exit_s"] if record["exit_s"] is not None else math.inf
        for pt in record["points"]:
            c = pt["concurrency"]
            for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "server_cpu"):
                out[f"{key}@{c}"] = pt[key]
            out[f"client_cpu@{c}"] = pt["client_cpu"]
            if pt["server_cpu"] and pt["rps"]:
                out[f"cpu_us_per_req@{c}"] = pt["server_cpu"] / pt["rps"] * 1e6
        out["errors"] = sum(pt["errors"] for pt in record["points"]) + len(record["smoke_problems"])
    elif sc == "sleep":
        n = record["n"]
        out[f"sleep{n}_wall_s"] = record["wall_s"] if record["wall_s"] is not None else math.inf
        out[f"sleep{n}_kb_per_call"] = record["rss_per_call_kb"]
        out[f"sleep{n}_errors"] = record["errors"] + (n - record["completed"])
        samples = [x for x in record.get("cancel_ms", []) if x is not None]
        if record.get("cancel_ms"):
            out["cancel_ms"] = statistics.median(samples) if samples else math.inf
            out["cancel_missed"] = len(record["cancel_ms"]) - len(samples)
    else:
        out["import_ms"] = record["import_ms"]
    return out


def spread(values: list[float]) -> dict[str, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def summarise(records: list[dict[str, Any]], peers: list[str]) -> dict[str, Any]:
    per: dict[str, dict[int, dict[str, float | None]]] = {p: {} for p in peers}
    for r in records:
        per[r["peer"]].setdefault(r["rep"], {}).update(figures(r))
    keys = sorted({k for reps in per.values() for f in reps.values() for k in f})
    summary: dict[str, Any] = {"values": {}, "ratios": {}}
    for p in peers:
        summary["values"][p] = {k: spread([f.get(k) for f in per[p].values()]) for k in keys}
        if BASELINE in per:
            ratios: dict[str, Any] = {}
            for k in keys:
                rs = []
                for rep, f in per[p].items():
                    base = per[BASELINE].get(rep, {}).get(k)
                    v = f.get(k)
                    if v is not None and base not in (None, 0) and math.isfinite(base):
                        rs.append(v / base)
                ratios[k] = spread(rs)
            summary["ratios"][p] = ratios
    return summary


# --------------------------------------------------------------------------- reporting


ROWS = [
    # key, label, format
    ("rps@1", "req/s, 1 in flight", "{:,.0f}"),
    ("rps@4", "req/s, 4 in flight", "{:,.0f}"),
    ("rps@16", "req/s, 16 in flight", "{:,.0f}"),
    ("rps@64", "req/s, 64 in flight", "{:,.0f}"),
    ("rps@256", "req/s, 256 in flight", "{:,.0f}"),
    ("p50_ms@1", "p50 ms, 1 in flight", "{:.3g}"),
    ("p99_ms@1", "p99 ms, 1 in flight", "{:.3g}"),
    ("p50_ms@64", "p50 ms, 64 in flight", "{:.3g}"),
    ("p90_ms@64", "p90 ms, 64 in flight", "{:.3g}"),
    ("p99_ms@64", "p99 ms, 64 in flight", "{:.3g}"),
    ("max_ms@64", "max ms, 64 in flight", "{:.3g}"),
    ("server_cpu@64", "server CPU (cores), 64 in flight", "{:.2f}"),
    ("client_cpu@64", "load-generator CPU (cores), 64 in flight", "{:.2f}"),
    ("cpu_us_per_req@1", "server CPU µs per request, 1 in flight", "{:.1f}"),
    ("cpu_us_per_req@64", "server CPU µs per request, 64 in flight", "{:.1f}"),
    ("errors", "errors (echo + smoke)", "{:.0f}"),
    ("cold_start_ms", "spawn → initialize response, ms", "{:,.0f}"),
    ("import_ms", "framework import, ms", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS (VmHWM) after echo load, MB", "{:.1f}"),
    ("exit_s", "stdin closed → exit, 64 sleeps in flight, s", "{:.3g}"),
    ("sleep1000_wall_s", "1,000 × sleep(1.0): wall s", "{:.2f}"),
    ("sleep1000_kb_per_call", "1,000 × sleep(1.0): KB RSS per call", "{:.1f}"),
    ("sleep10000_wall_s", "10,000 × sleep(1.0): wall s", "{:.2f}"),
    ("sleep10000_kb_per_call", "10,000 × sleep(1.0): KB RSS per call", "{:.1f}"),
    ("sleep10000_errors", "10,000 × sleep(1.0): errors/missing", "{:.0f}"),
    ("cancel_ms", "cancel → handler observes, median ms", "{:.2f}"),
]


def _fmt(s: dict[str, float] | None, fmt: str) -> str:
    if s is None:
        return "–"
    if not math.isfinite(s["median"]):
        return "timeout"
    med = fmt.format(s["median"])
    if s["n"] > 1 and s["min"] != s["max"]:
        hi = fmt.format(s["max"]) if math.isfinite(s["max"]) else "timeout"
        return f"{med} ({fmt.format(s['min'])}–{hi})"
    return med


def _ratio(s: dict[str, float] | None) -> str:
    if s is None or not math.isfinite(s["median"]):
        return "–"
    fmt = "{:.3g}×"
    if s["n"] > 1 and s["min"] != s["max"] and math.isfinite(s["max"]):
        return f"{fmt.format(s['median'])} ({s['min']:.3g}–{s['max']:.3g})"
    return fmt.format(s["median"])


def targets(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The issue's goals for trio_mcp, checked against this run."""
    if "trio_mcp" not in summary["values"]:
        return []
    val = summary["values"]["trio_mcp"]
    rat = summary["ratios"].get("trio_mcp", {})
    rows = []

    def ratio_row(key: str, label: str, goal: str, ok) -> None:
        r = rat.get(key)
        if r is None:
            rows.append((label, goal, "not measured"))
        else:
            rows.append(
                (label, goal, f"{r['median']:.3g}× → {'met' if ok(r['median']) else 'NOT met'}")
            )

    ratio_row("rps@64", "req/s @64 vs SDK", "≥ 20×", lambda x: x >= 20)
    raw = summary["values"].get("raw_asyncio", {}).get("rps@64")
    mine = val.get("rps@64")
    if raw and mine:
        x = mine["median"] / raw["median"]
        rows.append(
            ("req/s @64 vs raw asyncio", "≥ 0.4×", f"{x:.3g}× → {'met' if x >= 0.4 else 'NOT met'}")
        )
    ratio_row("rps@1", "req/s @1 vs SDK", "≥ 3×", lambda x: x >= 3)
    ratio_row("p99_ms@64", "p99 @64 vs SDK", "≤ 0.1×", lambda x: x <= 0.1)
    ratio_row("cold_start_ms", "spawn → initialize vs SDK", "≤ 0.3×", lambda x: x <= 0.3)
    ratio_row("peak_rss_mb", "peak RSS vs SDK", "≤ 0.5×", lambda x: x <= 0.5)
    w, kb = val.get("sleep10000_wall_s"), val.get("sleep10000_kb_per_call")
    if w and kb:
        ok = w["median"] <= 2.5 and kb["median"] < 8
        rows.append(
            (
                "10,000 × sleep(1.0)",
                "≤ 2.5 s wall, < 8 KB/call",
                f"{w['median']:.2f} s, {kb['median']:.1f} KB → {'met' if ok else 'NOT met'}",
            )
        )
    else:
        rows.append(("10,000 × sleep(1.0)", "≤ 2.5 s wall, < 8 KB/call", "only with --full"))
    c = val.get("cancel_ms")
    if c:
        ok = c["median"] < 5
        rows.append(
            (
                "cancel latency, idle",
                "< 5 ms",
                f"{c['median']:.2f} ms → {'met' if ok else 'NOT met'}",
            )
        )
    return rows


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    vers = {}
    for dist in ("trio_mcp", "mcp", "mcp-types", "fastmcp", "trio", "anyio", "pydantic", "orjson"):
        try:
            vers[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            vers[dist] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "versions": ", ".join(f"{k} {v}" for k, v in vers.items()),
    }


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def markdown(summary: dict[str, Any], peers: list[str], info: dict[str, str], cmd: str) -> str:
    lines = [
        f"Run of {info['date']} · `{cmd}` · commit {info['commit']}",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), Linux {info['kernel']}, "
        f"Python {info['python']}. Load average {info.get('loadavg', '?')}. "
        f"Versions: {info['versions']}.",
        "",
        "Cells: median (min–max) over reps. Peers: "
        + "; ".join(f"`{p}` = {PEERS[p][0]}" for p in peers)
        + ".",
        "",
        "### Figures",
        "",
        "| figure | " + " | ".join(f"`{p}`" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    vals = summary["values"]
    for key, label, fmt in ROWS:
        if all(vals[p].get(key) is None for p in peers):
            continue
        lines.append(
            f"| {label} | " + " | ".join(_fmt(vals[p].get(key), fmt) for p in peers) + " |"
        )
    if summary["ratios"]:
        lines += [
            "",
            f"### Ratios to `{BASELINE}` (same rep), median (min–max)",
            "",
            "| figure | " + " | ".join(f"`{p}`" for p in peers if p != BASELINE) + " |",
            "|---|" + "---|" * (len(peers) - 1),
        ]
        for key, label, _ in ROWS:
            if key in ("errors", "client_cpu@64", "server_cpu@64", "sleep10000_errors"):
                continue
            cells = [_ratio(summary["ratios"][p].get(key)) for p in peers if p != BASELINE]
            if all(c == "–" for c in cells):
                continue
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    fails = summary.get("failures") or []
    if fails:
        lines += ["", "### Failures (excluded from the figures above)", ""]
        lines += [f"- rep {r + 1}, `{peer}` {sc}: {why}" for r, peer, sc, why in fails]
    t = targets(summary)
    if t:
        lines += [
            "",
            "### trio_mcp against the goals of issue 4",
            "",
            "| goal | target | this run |",
        ]
        lines.append("|---|---|---|")
        lines += [f"| {a} | {b} | {c} |" for a, b, c in t]
    return "\n".join(lines) + "\n"


def plots(summary: dict[str, Any], peers: list[str], concs: list[int]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    vals = summary["values"]

    fig, ax = plt.subplots(figsize=(8, 5))
    for p in peers:
        xs, ys, lo, hi = [], [], [], []
        for c in concs:
            s = vals[p].get(f"rps@{c}")
            if s:
                xs.append(c)
                ys.append(s["median"])
                lo.append(s["median"] - s["min"])
                hi.append(s["max"] - s["median"])
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=p)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(concs, [str(c) for c in concs])
    ax.set_xlabel("requests in flight")
    ax.set_ylabel("echo req/s (median, min–max bars)")
    ax.set_title("Throughput vs in-flight requests (stdio)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "throughput.png", dpi=110)
    plt.close(fig)
    made.append("throughput.png")

    pcts = ["p50_ms", "p90_ms", "p99_ms", "max_ms"]
    shown = [c for c in (1, 64) if c in concs]
    fig, axes = plt.subplots(1, len(shown), figsize=(6 * len(shown), 5), squeeze=False)
    width = 0.8 / max(1, len(peers))
    for ax, c in zip(axes[0], shown, strict=True):
        for i, p in enumerate(peers):
            ys = [(vals[p].get(f"{k}@{c}") or {"median": float("nan")})["median"] for k in pcts]
            ax.bar([j + i * width for j in range(len(pcts))], ys, width, label=p)
        ax.set_xticks([j + width * (len(peers) - 1) / 2 for j in range(len(pcts))])
        ax.set_xticklabels([k.split("_")[0] for k in pcts])
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (median over reps)")
        ax.set_title(f"echo latency, {c} in flight")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "latency.png", dpi=110)
    plt.close(fig)
    made.append("latency.png")

    keys = [
        ("cold_start_ms", "spawn → initialize, ms"),
        ("peak_rss_mb", "peak RSS, MB"),
        ("import_ms", "framework import, ms"),
        ("cancel_ms", "cancel latency, ms"),
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 4.5))
    for ax, (k, label) in zip(axes, keys, strict=True):
        ys = [(vals[p].get(k) or {"median": 0})["median"] for p in peers]
        ax.bar(range(len(peers)), [y if math.isfinite(y) else 0 for y in ys])
        ax.set_xticks(range(len(peers)), peers, rotation=45, ha="right", fontsize=8)
        ax.set_title(label)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "startup_memory_cancel.png", dpi=110)
    plt.close(fig)
    made.append("startup_memory_cancel.png")
    return made


def measure(jobs: list[tuple[int, str, str, list[str]]], bar: Progress) -> list[dict[str, Any]]:
    """Run every job in order, appending each result to results/runs.jsonl as it arrives."""
    records = []
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with (RESULTS / "runs.jsonl").open("w") as out:
        for rep, peer, scenario, args in jobs:
            bar.show(f"rep {rep + 1}: {peer} {scenario}")
            rec = loadgen(args, timeout=180.0)
            rec.setdefault("peer", peer)
            rec["scenario"] = scenario
            rec.update(rep=rep, started=started, argv=args)
            records.append(rec)
            out.write(json.dumps(rec) + "\n")
            out.flush()
            if "failure" in rec:
                print(f"\n{peer} {scenario}: {rec['failure']}", file=sys.stderr)
            bar.step(f"rep {rep + 1}: {peer} {scenario}")
    return records


def update_readme(md: str) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README has no {START} … {END} markers; not updated", file=sys.stderr)
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{md}{END}{tail}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="quick profile (default)")
    mode.add_argument("--full", action="store_true", help="run everything")
    p.add_argument("--peers", default=",".join(ORDER), help="comma-separated subset of peers")
    p.add_argument("--reps", type=int, help="repetitions (default 3)")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rebuild results.md and plots from results/runs.jsonl",
    )
    p.add_argument("--update-readme", action="store_true", help="paste results.md into README.md")
    opts = p.parse_args(argv)

    peers = [x.strip() for x in opts.peers.split(",") if x.strip()]
    unknown = [x for x in peers if x not in PEERS]
    if unknown:
        p.error(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    if opts.full:
        opts.concs, opts.duration, opts.warmup = "1,4,16,64,256", 2.0, 0.3
        opts.sleep_n, opts.cancels, opts.exit_cap = "1000,10000", 20, 10.0
        opts.reps = opts.reps or 3
    else:
        opts.concs, opts.duration, opts.warmup = "1,4,16,64", 1.0, 0.2
        opts.sleep_n, opts.cancels, opts.exit_cap = "1000", 10, 5.0
        opts.reps = opts.reps or 3
    cmd = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "logs").mkdir(exist_ok=True)
    jobs = plan(opts, peers)
    load0 = _loadavg()
    if opts.report_only:
        records = [json.loads(x) for x in (RESULTS / "runs.jsonl").read_text().splitlines()]
        peers = [p for p in peers if any(r["peer"] == p for r in records)]
        jobs = []
        concs = sorted({pt["concurrency"] for r in records for pt in r.get("points", [])})
        opts.concs = ",".join(map(str, concs))
    bar = Progress(len(jobs))
    if not opts.report_only:
        for f in (RESULTS / "logs").glob("*.stderr"):
            f.unlink()
        bar.show("starting")
        records = measure(jobs, bar)
        bar.close()

    summary = summarise(records, peers)
    summary["failures"] = [
        (r["rep"], r["peer"], r["scenario"], r["failure"]) for r in records if "failure" in r
    ]
    info = machine()
    info["loadavg"] = f"{load0} at start, {_loadavg()} at end"
    md = markdown(summary, peers, info, cmd)
    (RESULTS / "summary.json").write_text(
        json.dumps({"machine": info, "command": cmd, **summary}, indent=1, default=str)
    )
    (RESULTS / "results.md").write_text(md)
    made = plots(summary, peers, [int(x) for x in opts.concs.split(",")])
    if opts.update_readme:
        update_readme(md)
    print(md)
    print(
        f"Wrote {RESULTS}/runs.jsonl, summary.json, results.md, {', '.join(made)} "
        f"in {time.monotonic() - bar.t0:.0f}s",
        file=sys.stderr,
    )
    # A failing peer is reported (stderr, results.md) but does not fail the run.
    return 0


if __name__ == "__main__":
    sys.exit(main())
