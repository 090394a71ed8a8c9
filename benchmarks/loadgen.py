"""The load generator: spawns one MCP server over stdio and measures it.

It runs in its own process (``python -m benchmarks.loadgen ...``), one per
measurement, and prints one JSON object on stdout. The client is deliberately
plain: one thread, ``select`` + raw ``os.read``/``os.write`` on the pipes,
requests built from a pre-encoded byte template, responses parsed with orjson.
All responses that arrive in one read are answered by one ``os.write``. Its own
CPU use during each window is reported (``client_cpu``), so a reader can see
when the client, not the server, was the limit.

Scenarios:

* ``suite``: cold start (spawn to ``initialize`` response), a correctness smoke
  check (``echo`` and ``add``), closed-loop ``echo`` throughput at each
  concurrency (C requests always in flight: every response immediately sends a
  new request), latency percentiles, peak RSS (``VmHWM``), and time from
  closing stdin to process exit with ``sleep`` calls in flight.
* ``sleep``: N concurrent ``sleep(1.0)`` calls (wall time, RSS per in-flight
  call), then cancellation latency on the now idle server.
* ``imports``: import time of the peer's framework in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from .peers import PEERS

_loads = orjson.loads
_now = time.perf_counter_ns
PROTOCOL = "2025-06-18"


def _mono_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _call(rid: int, name: str, args: dict[str, Any]) -> bytes:
    msg = {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": name, "arguments": args},
    }
    return orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE)


class ServerGone(Exception):
    """The server closed stdout or did not answer in time."""


class Conn:
    """One spawned server and its two pipes."""

    def __init__(
        self,
        peer: str,
        stderr_path: Path | None,
        env: dict[str, str] | None = None,
        wrap: str = "",
    ):
        argv = shlex.split(wrap) + PEERS[peer][1]
        self.stderr = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.pop("PYTHONPROFILEIMPORTTIME", None)
        self.t_spawn = _now()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            bufsize=0,
            env=full_env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        self.pid = self.proc.pid
        self.rbuf = b""
        self.out = bytearray()
        self.eof = False
        self.next_id = 1

    # ------------------------------------------------------------------ io

    def send(self, data: bytes) -> None:
        self.out += data
        self._flush()

    def _flush(self) -> None:
        if self.out:
            try:
                n = os.write(self.wfd, self.out)
            except BlockingIOError:
                return
            del self.out[:n]

    def poll(self, timeout: float | None) -> list[bytes]:
        """Wait up to ``timeout`` for output; flush pending input meanwhile. Returns lines."""
        if self.eof:
            raise ServerGone("server closed stdout")
        w = [self.wfd] if self.out else []
        r, wr, _ = select.select([self.rfd], w, [], timeout)
        if wr:
            self._flush()
        if not r:
            return []
        data = os.read(self.rfd, 1 << 20)
        if not data:
            self.eof = True
            raise ServerGone("server closed stdout")
        if b"\n" not in data:
            self.rbuf += data
            return []
        data = self.rbuf + data
        *lines, self.rbuf = data.split(b"\n")
        return lines

    def request(self, method: str, params: dict[str, Any], timeout: float = 30.0) -> dict:
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        self.send(orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE))
        return self.wait_for(rid, timeout)

    def wait_for(self, rid: int, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerGone(f"no answer to request {rid} within {timeout}s")
            for line in self.poll(left):
                if not line.startswith(b"{"):
                    continue  # blank, or a wrapper's (profiler's) chatter
                msg = _loads(line)
                if msg.get("id") == rid and ("result" in msg or "error" in msg):
                    return msg

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE))

    # ------------------------------------------------------------ lifecycle

    def handshake(self) -> float:
        """Send ``initialize`` right after spawn; return spawn-to-response in ms."""
        resp = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "trio_mcp-bench", "version": "0.1.0"},
            },
            timeout=60.0,
        )
        cold_ms = (_now() - self.t_spawn) / 1e6
        if "result" not in resp:
            raise ServerGone(f"initialize failed: {resp}")
        self.notify("notifications/initialized")
        return cold_ms

    def smoke(self) -> list[str]:
        """Check echo and add answer correctly; return a list of problems (empty: fine)."""
        problems = []
        r = self.request("tools/call", {"name": "echo", "arguments": {"text": "héllo"}})
        if _text(r) != "héllo":
            problems.append(f"echo: {r}")
        r = self.request("tools/call", {"name": "add", "arguments": {"a": 1.5, "b": 2}})
        try:
            ok = float(_text(r)) == 3.5
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"add: {r}")
        return problems

    def close_and_wait(self, cap: float) -> tuple[float | None, int]:
        """Close stdin; return (seconds until exit or None if killed at ``cap``, answers read)."""
        t0 = time.monotonic()
        self._flush()
        self.proc.stdin.close()  # type: ignore[union-attr]
        answers = 0
        deadline = t0 + cap
        while not self.eof and time.monotonic() < deadline:
            try:
                answers += sum(1 for ln in self.poll(deadline - time.monotonic()) if ln.strip())
            except ServerGone:
                break
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
            exit_s: float | None = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            exit_s = None
        self.kill()
        return exit_s, answers

    def kill(self) -> None:
        """Close stdin, give the server a second to exit on its own (profilers then write
        their output), then kill it."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        if self.stderr is not subprocess.DEVNULL:
            self.stderr.close()

    # ------------------------------------------------------------ /proc

    def status_kb(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _text(resp: dict) -> str | None:
    try:
        content = resp["result"]["content"]
        return content[0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


def _is_error(msg: dict) -> bool:
    if "error" in msg:
        return True
    result = msg.get("result")
    return not isinstance(result, dict) or bool(result.get("isError"))


def _pct(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


# ---------------------------------------------------------------- throughput


_CALLS = {
    "echo": b'"params":{"name":"echo","arguments":{"text":"hello world"}}}\n',
    "add": b'"params":{"name":"add","arguments":{"a":1.5,"b":2}}}\n',
}


def throughput(
    conn: Conn, concurrency: int, duration: float, warmup: float, tool: str = "echo"
) -> dict[str, Any]:
    """Closed loop: keep ``concurrency`` calls of ``tool`` in flight for warmup + duration seconds.

    Only responses received inside the measured window count, and only those
    contribute latency samples.
    """
    tmpl = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call",' + _CALLS[tool]
    sent: dict[int, int] = {}
    rid = conn.next_id
    t = _now()
    batch = []
    for _ in range(concurrency):
        sent[rid] = t
        batch.append(tmpl % rid)
        rid += 1
    conn.send(b"".join(batch))
    win_start = t + int(warmup * 1e9)
    win_end = win_start + int(duration * 1e9)
    lat: list[int] = []
    errors = 0
    count = 0
    cpu0 = cpu1 = 0.0
    c_cpu0 = c_cpu1 = 0.0
    in_window = False
    last_progress = time.monotonic()
    stalled = False
    while sent:
        lines = conn.poll(1.0)
        now = _now()
        if not in_window and now >= win_start:
            in_window = True
            cpu0 = conn.cpu_s()
            c_cpu0 = time.process_time()
        if not lines:
            if time.monotonic() - last_progress > 10.0:
                stalled = True
                break
            continue
        last_progress = time.monotonic()
        batch = []
        measuring = win_start <= now < win_end
        for line in lines:
            if not line:
                continue
            msg = _loads(line)
            mid = msg.get("id")
            t0 = sent.pop(mid, None)
            if t0 is None:
                continue  # a notification or a stray answer
            if measuring:
                count += 1
                lat.append(now - t0)
                if _is_error(msg):
                    errors += 1
            if now < win_end:
                sent[rid] = now
                batch.append(tmpl % rid)
                rid += 1
        if now >= win_end and in_window and not cpu1:
            cpu1 = conn.cpu_s()
            c_cpu1 = time.process_time()
        if batch:
            conn.send(b"".join(batch))
    conn.next_id = rid
    lat_ms = sorted(x / 1e6 for x in lat)
    return {
        "concurrency": concurrency,
        "duration_s": duration,
        "requests": count,
        "rps": count / duration,
        "errors": errors,
        "stalled": stalled,
        "p50_ms": _pct(lat_ms, 50),
        "p90_ms": _pct(lat_ms, 90),
        "p99_ms": _pct(lat_ms, 99),
        "max_ms": lat_ms[-1] if lat_ms else float("nan"),
        "server_cpu": (cpu1 - cpu0) / duration if cpu1 else None,
        "client_cpu": (c_cpu1 - c_cpu0) / duration if cpu1 else None,
    }


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    conn = Conn(args.peer, args.stderr, wrap=args.wrap)
    out: dict[str, Any] = {"peer": args.peer, "scenario": "suite"}
    try:
        out["cold_start_ms"] = conn.handshake()
        out["smoke_problems"] = conn.smoke()
        out["rss_idle_kb"] = conn.status_kb("VmRSS")
        out["points"] = [
            throughput(conn, c, args.duration, args.warmup, args.tool)
            for c in (int(x) for x in args.concs.split(","))
        ]
        out["peak_rss_kb"] = conn.status_kb("VmHWM")
        # Shutdown with calls in flight: `inflight` sleep(30) calls, then close stdin.
        n = args.exit_inflight
        batch = [_call(conn.next_id + i, "sleep", {"seconds": 30.0}) for i in range(n)]
        conn.next_id += n
        conn.send(b"".join(batch))
        t_end = time.monotonic() + 0.3
        while time.monotonic() < t_end:
            conn.poll(t_end - time.monotonic())
        exit_s, answers = conn.close_and_wait(args.exit_cap)
        out["exit_s"] = exit_s
        out["exit_inflight"] = n
        out["exit_answers"] = answers
    except ServerGone as exc:
        out["failure"] = str(exc)
    finally:
        conn.kill()
    return out


# ---------------------------------------------------------------- sleep + cancel


def run_sleep(args: argparse.Namespace) -> dict[str, Any]:
    fd, log_path = tempfile.mkstemp(prefix="bench-cancel-", suffix=".log")
    os.close(fd)
    conn = Conn(args.peer, args.stderr, env={"BENCH_CANCEL_LOG": log_path}, wrap=args.wrap)
    out: dict[str, Any] = {"peer": args.peer, "scenario": "sleep", "n": args.n}
    try:
        conn.handshake()
        conn.smoke()
        # Warm the sleep path (first-call lazy work) before the baseline.
        conn.request("tools/call", {"name": "sleep", "arguments": {"seconds": 0.01}})
        base = conn.status_kb("VmRSS")
        out["rss_base_kb"] = base
        n = args.n
        first = conn.next_id
        payload = b"".join(_call(first + i, "sleep", {"seconds": 1.0}) for i in range(n))
        conn.next_id += n
        pending = set(range(first, first + n))
        errors = 0
        peak = base
        t0 = time.monotonic()
        conn.send(payload)
        next_sample = t0
        deadline = t0 + args.sleep_cap
        while pending and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_sample:
                peak = max(peak, conn.status_kb("VmRSS"))
                next_sample = now + 0.02
            for line in conn.poll(min(0.02, max(0.0, deadline - now))):
                if not line.strip():
                    continue
                msg = _loads(line)
                if msg.get("id") in pending:
                    pending.discard(msg["id"])
                    errors += _is_error(msg)
        wall = time.monotonic() - t0
        out["completed"] = n - len(pending)
        out["errors"] = errors
        out["wall_s"] = wall if not pending else None
        out["rss_peak_kb"] = max(peak, 0)
        out["rss_per_call_kb"] = (peak - base) / n
        out["hwm_kb"] = conn.status_kb("VmHWM")
        out["cancel_ms"] = measure_cancel(conn, log_path, args.cancels) if args.cancels else []
    except ServerGone as exc:
        out["failure"] = str(exc)
    finally:
        conn.kill()
        os.unlink(log_path)
    return out


def measure_cancel(conn: Conn, log_path: str, k: int) -> list[float | None]:
    """K times: start sleep(30), let it start, cancel it, read when the handler saw it."""
    results: list[float | None] = []
    seen = 0
    for _ in range(k):
        rid = conn.next_id
        conn.next_id += 1
        conn.send(_call(rid, "sleep", {"seconds": 30.0}))
        t_end = time.monotonic() + 0.05
        while time.monotonic() < t_end:
            conn.poll(t_end - time.monotonic())
        cancel = orjson.dumps(
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": rid, "reason": "bench"},
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        conn._flush()
        t_sent = _mono_ns()
        conn.send(cancel)
        got: float | None = None
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            conn.poll(0.001)
            with open(log_path) as f:
                stamps = f.read().split()
            if len(stamps) > seen:
                got = (int(stamps[seen]) - t_sent) / 1e6
                seen = len(stamps)
                break
        results.append(got)
    return results


# ---------------------------------------------------------------- imports


def run_imports(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh-interpreter wall time of the peer's framework import, minus a bare interpreter."""
    stmt = PEERS[args.peer][2]

    def wall(code: str) -> float:
        t0 = _now()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (_now() - t0) / 1e6

    bare = statistics.median(wall("pass") for _ in range(3))
    full = statistics.median(wall(stmt) for _ in range(3))
    return {
        "peer": args.peer,
        "scenario": "imports",
        "import_ms": full - bare,
        "interpreter_ms": bare,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", choices=["suite", "sleep", "imports"])
    p.add_argument("--peer", required=True, choices=list(PEERS))
    p.add_argument("--concs", default="1,4,16,64")
    p.add_argument(
        "--tool", choices=sorted(_CALLS), default="echo", help="tool the throughput loop calls"
    )
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--warmup", type=float, default=0.2)
    p.add_argument("--exit-inflight", type=int, default=64)
    p.add_argument("--exit-cap", type=float, default=5.0)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--sleep-cap", type=float, default=15.0)
    p.add_argument("--cancels", type=int, default=10)
    p.add_argument("--stderr", type=Path, default=None, help="append the server's stderr here")
    p.add_argument(
        "--wrap",
        default="",
        help="command prefix for the server, e.g. a profiler: 'py-spy record -o x --'",
    )
    args = p.parse_args(argv)
    fn = {"suite": run_suite, "sleep": run_sleep, "imports": run_imports}[args.scenario]
    sys.stdout.write(orjson.dumps(fn(args)).decode() + "\n")


if __name__ == "__main__":
    main()
