# ruff: noqa: RUF001, RUF002
"""HTTP benchmarks: ``tools/call echo`` over Streamable HTTP, driven by ``wrk``.

    python -m benchmarks.http_bench                   # 3 reps, 1/16/64 connections, 5 s each
    python -m benchmarks.http_bench --reps 5 --duration 10 --conns 1,16,64,256
    python -m benchmarks.http_bench --peers native,sdk --update-readme
    python -m benchmarks.http_bench --workloads modern,legacy-json,legacy-sse

Workloads (``--workloads``): ``modern``, the modern era's stateless POST (the
default); ``legacy-json`` and ``legacy-sse``, a legacy session's POST, every
connection in one session opened beforehand (``initialize``, then
``notifications/initialized``), with the SDK answering JSON
(``json_response=True``) or an SSE stream. trio_mcp answers the same way: in
``legacy-json`` with its default (``json_response="auto"``: an answer that comes
first goes as plain JSON), in ``legacy-sse`` with
``TRIO_MCP_HTTP_JSON_RESPONSE=never`` (an SSE stream: a priming event to resume
from, then the answer). A session lives in one process, so
``native_w2`` and ``floor`` run the modern workload only.

Every peer serves the same ``echo`` tool (``benchmarks/servers/``). A rep
measures every peer once, in an order rotated per rep: spawn the server on a
free port, check one answer, warm up (1 s of wrk at 16 connections), then one
wrk run per connection count with ``benchmarks/http/modern_echo.lua`` (the
request carries ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` and
``_meta`` with the protocol version; every answer is checked to hold the echoed
text). wrk runs with one thread, leaving the other core to the server. Server
CPU is the utime+stime of the server's processes (workers included) over the
window, divided by the requests answered. Figures are divided by the SDK's from
the same rep, then summarised over reps (median, min–max).

wrk is the Debian package ``wrk``; ``make bench-http`` installs it when missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "servers"
LUA = HERE / "http" / "modern_echo.lua"
LEGACY_LUA = HERE / "http" / "legacy_echo.lua"
RESULTS = HERE / "results"
README = HERE / "README.md"
START, END = "<!-- http-results:start -->", "<!-- http-results:end -->"
BASELINE = "sdk"
PY = sys.executable

#: name -> (label, argv with {port})
PEERS: dict[str, tuple[str, list[str]]] = {
    "native": (
        "trio_mcp, native server",
        [PY, str(SERVERS / "trio_mcp_server.py"), "http", "native", "{port}"],
    ),
    "native_w2": (
        "trio_mcp, native server, 2 workers",
        [PY, str(SERVERS / "trio_mcp_server.py"), "http", "native", "{port}", "2"],
    ),
    "hypercorn": (
        "trio_mcp on Hypercorn (trio worker)",
        [PY, str(SERVERS / "trio_mcp_server.py"), "http", "hypercorn", "{port}"],
    ),
    "sdk": (
        "official SDK MCPServer streamable-http (uvicorn): stateless + JSON (modern);"
        " a session, JSON or SSE answers (legacy-json, legacy-sse)",
        [PY, str(SERVERS / "sdk_server.py"), "http", "{port}"],
    ),
    "fastmcp": (
        "fastmcp 4.x streamable HTTP (uvicorn): stateless + JSON (modern); a session,"
        " JSON or SSE answers (legacy-json, legacy-sse)",
        [PY, str(SERVERS / "fastmcp_server.py"), "http", "{port}"],
    ),
    "asgi": (
        "a raw ASGI app on uvicorn (httptools), canned answer (no MCP)",
        [PY, str(SERVERS / "http_asgi_server.py"), "{port}"],
    ),
    "floor": (
        "floor: trio.serve_tcp + httptools + orjson, canned answer",
        [PY, str(SERVERS / "http_floor_server.py"), "{port}"],
    ),
}
#: peers that take the SDK's mode argument (stateless, session-json, session-sse)
MODAL = frozenset({BASELINE, "fastmcp"})
DEFAULT_PEERS = "native,native_w2,hypercorn,sdk,fastmcp,asgi,floor"
#: workload -> (wrk script, the SDK server's mode, peers that serve it)
WORKLOADS: dict[str, tuple[Path, str, frozenset[str]]] = {
    "modern": (LUA, "stateless", frozenset(PEERS)),
    "legacy-json": (
        LEGACY_LUA,
        "session-json",
        frozenset({"native", "hypercorn", "sdk", "fastmcp"}),
    ),
    "legacy-sse": (LEGACY_LUA, "session-sse", frozenset({"native", "hypercorn", "sdk", "fastmcp"})),
}
#: what the tables say of each workload
WORKLOAD_TEXT = {
    "modern": "modern-era (2026-07-28) stateless POST `tools/call echo`, headers"
    " `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `_meta` with the protocol version",
    "legacy-json": "legacy-era (2025-06-18) session POST `tools/call echo`, all connections"
    " in one session; both answer JSON (the SDK `json_response=True`, trio_mcp its default"
    ' `json_response="auto"`)',
    "legacy-sse": "legacy-era (2025-06-18) session POST `tools/call echo`, all connections"
    " in one session; both answer with an SSE stream, a priming event then the result"
    " (trio_mcp with `TRIO_MCP_HTTP_JSON_RESPONSE=never`)",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its live children (workers), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def smoke(url: str) -> None:
    """One request by hand: the peer answers the echo correctly (else the peer is skipped)."""
    data = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",'
        b'"arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":'
        b'"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
    )
    req = urllib.request.Request(
        url,
        data=data,
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": "echo",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = json.loads(r.read())
    assert answer["result"]["content"][0]["text"] == "hello", answer


def wait_listening(port: int, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


def open_session(url: str) -> str:
    """A legacy session (``initialize``, ``notifications/initialized``): its ``Mcp-Session-Id``."""
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "http_bench", "version": "1"},
        },
    }
    req = urllib.request.Request(url, data=json.dumps(init).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        sid = r.headers["mcp-session-id"]
        r.read()
    headers = {**headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    req = urllib.request.Request(url, data=json.dumps(note).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
    return str(sid)


def wrk(
    url: str, conns: int, duration: float, script: Path = LUA, args: tuple[str, ...] = ()
) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script)]
    cmd += [url, *(["--", *args] if args else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON "))
    got: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    got["rps"] = got["requests"] / (got["duration_us"] / 1e6)
    # the load generator's own CPU (cores): what it takes from the server on 2 cores
    got["wrk_cores"] = wrk_cpu / (got["duration_us"] / 1e6)
    got["errors"] = (
        sum(
            got[k]
            for k in ("bad_answers", "read_errors", "write_errors", "status_errors", "timeouts")
        )
        + got["connect_errors"]
    )
    return got


def measure(
    peer: str, conns: list[int], duration: float, logs: Path, workload: str = "modern"
) -> list[dict[str, Any]]:
    script, sdk_mode, _ = WORKLOADS[workload]
    port = free_port()
    argv = [a.format(port=port) for a in PEERS[peer][1]]
    if peer in MODAL:
        argv.append(sdk_mode)
    url = f"http://127.0.0.1:{port}/mcp"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    if workload == "legacy-sse" and peer != BASELINE:
        env["TRIO_MCP_HTTP_JSON_RESPONSE"] = "never"  # trio_mcp's SSE answer, priming first
    with (logs / f"http-{peer}.stderr").open("ab") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=SERVERS, env=env)
        try:
            wait_listening(port, proc)
            args: tuple[str, ...] = ()
            if workload == "modern":
                smoke(url)
            else:
                args = (open_session(url),)
            wrk(url, 16, 1.0, script, args)  # warm-up (and the answers checked)
            rows = []
            for c in conns:
                cpu0 = cpu_seconds(proc.pid)
                got = wrk(url, c, duration, script, args)
                cpu1 = cpu_seconds(proc.pid)
                got.update(
                    peer=peer,
                    workload=workload,
                    conns=c,
                    cpu_us_per_req=(cpu1 - cpu0) * 1e6 / max(1, got["requests"]),
                    server_cores=(cpu1 - cpu0) / (got["duration_us"] / 1e6),
                )
                rows.append(got)
            return rows
        finally:
            stop(proc)


# --------------------------------------------------------------------------- report


def summarise(runs: list[dict[str, Any]], peers: list[str], conns: list[int]) -> dict[str, Any]:
    def cell(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    out: dict[str, Any] = {}
    reps = sorted({r["rep"] for r in runs})
    for peer in peers:
        for c in conns:
            mine = [r for r in runs if r["peer"] == peer and r["conns"] == c]
            if not mine:
                continue
            key = f"{peer}@{c}"
            out[key] = {
                fig: cell([r[fig] for r in mine])
                for fig in (
                    "rps",
                    "p50_us",
                    "p99_us",
                    "cpu_us_per_req",
                    "errors",
                    "server_cores",
                    "wrk_cores",
                )
            }
            ratios = []
            p99_ratios = []
            for rep in reps:
                a = [r for r in mine if r["rep"] == rep]
                b = [
                    r for r in runs if r["peer"] == BASELINE and r["conns"] == c and r["rep"] == rep
                ]
                if a and b:
                    ratios.append(a[0]["rps"] / b[0]["rps"])
                    p99_ratios.append(a[0]["p99_us"] / b[0]["p99_us"])
            if ratios:
                out[key]["rps_ratio"] = cell(ratios)
                out[key]["p99_ratio"] = cell(p99_ratios)
    return out


def fmt(c: dict[str, float], digits: int = 0, scale: float = 1.0) -> str:
    m, lo, hi = c["median"] * scale, c["min"] * scale, c["max"] * scale
    f = f"{{:,.{digits}f}}"
    return f"{f.format(m)} ({f.format(lo)}–{f.format(hi)})"


def markdown(
    summaries: dict[str, dict[str, Any]], meta: dict[str, Any], peers: list[str], conns: list[int]
) -> str:
    lines = [
        f"Run of {meta['when']} · `python -m benchmarks.http_bench {' '.join(meta['argv'])}`"
        f" · commit {meta['commit']}",
        "",
        f"Machine: {meta['machine']}. Load average {meta['load_start']} at start,"
        f" {meta['load_end']} at end. wrk {meta['wrk']}, one thread; {meta['duration']:g} s per"
        f" point, {meta['reps']} reps, peers interleaved.",
    ]
    for workload, summary in summaries.items():
        lines += ["", *workload_tables(workload, summary, peers, conns)]
    lines += ["", "Peers: " + "; ".join(f"`{p}` = {PEERS[p][0]}" for p in peers) + "."]
    return "\n".join(lines) + "\n"


def workload_tables(
    workload: str, summary: dict[str, Any], peers: list[str], conns: list[int]
) -> list[str]:
    lines = [
        f"Workload `{workload}`: {WORKLOAD_TEXT[workload]}. Cells: median (min–max) over reps.",
        "",
        "| peer | " + " | ".join(f"req/s, {c} conn" for c in conns) + " | p50 / p99 ms at "
        f"{conns[-1]} | server CPU µs/req at {conns[-1]} | cores: server + wrk at {conns[-1]}"
        " | errors |",
        "|---|" + "---|" * (len(conns) + 4),
    ]
    for peer in peers:
        cells = [summary.get(f"{peer}@{c}") for c in conns]
        if not all(cells):
            continue
        last = cells[-1]
        assert last is not None
        errors = int(sum(s["errors"]["max"] for s in cells if s))
        lines.append(
            f"| `{peer}` | "
            + " | ".join(fmt(s["rps"]) for s in cells if s)
            + f" | {last['p50_us']['median'] / 1000:.2f} / {last['p99_us']['median'] / 1000:.2f}"
            + f" | {last['cpu_us_per_req']['median']:.0f}"
            + f" | {last['server_cores']['median']:.2f} + {last['wrk_cores']['median']:.2f}"
            + f" | {errors} |"
        )
    lines += [
        "",
        f"Ratios to `{BASELINE}` (same rep), median (min–max):",
        "",
        "| peer | " + " | ".join(f"req/s, {c} conn" for c in conns) + f" | p99 at {conns[-1]} |",
        "|---|" + "---|" * (len(conns) + 1),
    ]
    for peer in peers:
        if peer == BASELINE:
            continue
        cells = [summary.get(f"{peer}@{c}") for c in conns]
        if not all(s and "rps_ratio" in s for s in cells):
            continue
        last = cells[-1]
        assert last is not None
        lines.append(
            f"| `{peer}` | "
            + " | ".join(fmt(s["rps_ratio"], 2) + "×" for s in cells if s)
            + f" | {fmt(last['p99_ratio'], 2)}× |"
        )
    return lines


def plot(
    summaries: dict[str, dict[str, Any]],
    meta: dict[str, Any],
    peers: list[str],
    conns: list[int],
    path: Path,
) -> str:
    """One panel per workload: req/s against connections, every peer, median with min–max bars.

    Returns what it did (matplotlib, from the ``bench`` extra, may be missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "http_bench: no plot (matplotlib is not installed: make bench installs it)"
    fig, axes = plt.subplots(
        1, len(summaries), figsize=(5.2 * len(summaries), 4.2), squeeze=False, sharey=False
    )
    for ax, (workload, summary) in zip(axes[0], summaries.items(), strict=True):
        for peer in peers:
            cells = [summary.get(f"{peer}@{c}") for c in conns]
            if not all(cells):
                continue
            med = [s["rps"]["median"] for s in cells if s]
            lo = [m - s["rps"]["min"] for m, s in zip(med, cells, strict=True) if s]
            hi = [s["rps"]["max"] - m for m, s in zip(med, cells, strict=True) if s]
            ax.errorbar(conns, med, yerr=[lo, hi], marker="o", capsize=3, label=peer)
        ax.set_xscale("log", base=2)
        ax.set_xticks(conns, [str(c) for c in conns])
        ax.set_yscale("log")
        ax.set_xlabel("connections (wrk, one thread)")
        ax.set_ylabel("requests/s")
        ax.set_title(f"{workload}: tools/call echo")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"trio_mcp over HTTP against the official SDK\n{meta['when']} · commit {meta['commit']}"
        f" · {meta['reps']} reps, load {meta['load_start']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"http_bench: wrote {path}"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def stop(proc: subprocess.Popen[Any]) -> None:
    """End a peer's server: SIGTERM (it drains), SIGKILL after 15 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def logs_dir(tool: str, peers: list[str]) -> Path | None:
    """``benchmarks/results/logs`` (made), or ``None`` (said why) if the baseline is not measured."""
    if BASELINE not in peers:
        print(f"{tool}: the baseline peer {BASELINE!r} must be measured", file=sys.stderr)
        return None
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs


def interleaved(
    peers: list[str],
    reps: int,
    measure: Callable[[str], dict[str, Any]],
    show: Callable[[dict[str, Any]], str],
) -> list[dict[str, Any]]:
    """``measure(peer)`` for every peer, ``reps`` times, the order rotated per rep.

    Each row gets its ``rep``; a peer that fails is reported and left out of that rep.
    """
    runs: list[dict[str, Any]] = []
    for rep in range(reps):
        k = rep % len(peers)
        for peer in peers[k:] + peers[:k]:
            print(f"rep {rep + 1}/{reps}: {peer}", file=sys.stderr, flush=True)
            try:
                row = measure(peer)
            except Exception as exc:
                print(f"  {peer} failed: {exc!r}", file=sys.stderr)
                continue
            row["rep"] = rep
            runs.append(row)
            print(f"  {show(row)}", file=sys.stderr)
    return runs


def rep_ratios(runs: list[dict[str, Any]], mine: list[dict[str, Any]], fig: str) -> list[float]:
    """``fig`` of each of ``mine`` divided by the baseline's in the same rep."""
    ratios = []
    for r in mine:
        base = [b for b in runs if b["peer"] == BASELINE and b["rep"] == r["rep"]]
        if base and base[0][fig] > 0:
            ratios.append(r[fig] / base[0][fig])
    return ratios


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", default=DEFAULT_PEERS)
    ap.add_argument("--conns", default="1,16,64")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--workloads", default="modern", help=", ".join(WORKLOADS))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "http_bench: wrk not found: apt-get install wrk (make bench-http does)", file=sys.stderr
        )
        return 2
    peers = args.peers.split(",")
    conns = [int(c) for c in args.conns.split(",")]
    workloads = args.workloads.split(",")
    if any(w not in WORKLOADS for w in workloads):
        print(f"http_bench: workloads are {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    logs = logs_dir("http_bench", peers)
    if logs is None:
        return 2
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    meta = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": argv if argv is not None else sys.argv[1:],
        "commit": commit,
        "machine": machine(),
        "load_start": load(),
        "wrk": wrk_version,
        "duration": args.duration,
        "reps": args.reps,
    }
    runs: list[dict[str, Any]] = []
    with (RESULTS / "http_runs.jsonl").open("w") as out:
        for rep in range(args.reps):
            order = peers[rep % len(peers) :] + peers[: rep % len(peers)]
            for workload, peer in [(w, p) for w in workloads for p in order]:
                if peer not in WORKLOADS[workload][2]:
                    continue
                print(f"rep {rep + 1}/{args.reps}: {workload} {peer}", file=sys.stderr, flush=True)
                try:
                    rows = measure(peer, conns, args.duration, logs, workload)
                except Exception as exc:
                    print(f"  {peer} failed: {exc!r}", file=sys.stderr)
                    continue
                for row in rows:
                    row["rep"] = rep
                    runs.append(row)
                    out.write(json.dumps(row) + "\n")
                    print(
                        f"  {row['conns']:>3} conns: {row['rps']:9,.0f} req/s, p99"
                        f" {row['p99_us'] / 1000:.2f} ms, {row['cpu_us_per_req']:.0f} µs CPU/req,"
                        f" server {row['server_cores']:.2f} + wrk {row['wrk_cores']:.2f} cores,"
                        f" {row['errors']} errors",
                        file=sys.stderr,
                    )
    meta["load_end"] = load()
    summaries = {
        w: summarise([r for r in runs if r["workload"] == w], peers, conns) for w in workloads
    }
    (RESULTS / "http_summary.json").write_text(
        json.dumps({"meta": meta, "summary": summaries}, indent=1)
    )
    text = markdown(summaries, meta, peers, conns)
    (RESULTS / "http_results.md").write_text(text)
    print(text)
    print(plot(summaries, meta, peers, conns, RESULTS / "http_throughput.png"), file=sys.stderr)
    if args.update_readme:
        readme = README.read_text()
        if START in readme:
            head, rest = readme.split(START, 1)
            readme = head + START + "\n" + text + END + rest.split(END, 1)[1]
            README.write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
