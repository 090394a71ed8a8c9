"""A deployment for the scale-out tests: N worker processes, one Redis, a balancer in front.

:func:`workers` starts ``n`` ``trio-mcp run <script> --transport http``
processes, each on its own free loopback port, all with the same
``TRIO_MCP_REDIS_URL``, and waits until each one serves. At the end of the
block every worker is sent SIGTERM, then SIGKILL if it has not left within
``LIMIT`` seconds, and always waited for: no process outlives the test, even one
that failed or was cancelled by its ``fail_after``. :func:`deployment` adds the
same ``SCALEOUT_SECRET`` (the ``requestState`` key) and puts a
:func:`~_support.balancer.balancer` (no affinity: each request to the next
worker) in front of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from .balancer import Balancer, Chooser, balancer
from .redis import RedisSentinel, RedisServer, free_port

__all__ = ["Deployment", "Worker", "deployment", "workers"]

#: A hang guard for starting and stopping workers (not a timed assertion).
LIMIT = 60
SECRET = "one requestState key for every worker"


@attrs.define(eq=False)
class Worker:
    """One ``trio-mcp run`` process."""

    proc: subprocess.Popen[bytes]
    port: int
    stderr: Path  #: its stdout and stderr

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        """Its MCP endpoint."""
        return f"http://127.0.0.1:{self.port}/mcp"


@attrs.define(eq=False)
class Deployment:
    """The workers (in backend index order), the balancer, and the URL clients use."""

    workers: list[Worker]
    balancer: Balancer

    @property
    def url(self) -> str:
        """The MCP endpoint, through the balancer."""
        return f"{self.balancer.url}/mcp"

    def worker_of(self, pid: int) -> int:
        """The backend index of the worker with this pid."""
        [index] = [i for i, w in enumerate(self.workers) if w.pid == pid]
        return index


async def _stop(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            await trio.to_thread.run_sync(w.proc.wait, LIMIT)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            await trio.to_thread.run_sync(w.proc.wait, LIMIT)


@asynccontextmanager
async def workers(
    redis: RedisServer | RedisSentinel,
    tmp: Path,
    script: Path,
    n: int,
    *,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> AsyncIterator[list[Worker]]:
    """``n`` workers running ``script`` against ``redis``, each on its own port.

    Args:
        redis: the shared ``redis-server`` (or Sentinel): its ``url``.
        tmp: where the workers' output files go (``worker<i>.stderr``).
        script: the server file given to ``trio-mcp run``.
        n: how many workers.
        env: more environment for the workers.
        args: more arguments for ``trio-mcp run`` (``--http-server hypercorn``).
    """
    full_env = dict(os.environ, TRIO_MCP_REDIS_URL=redis.url, **(env or {}))
    started: list[Worker] = []
    try:
        for i in range(n):
            port = free_port()
            argv = [sys.executable, "-m", "trio_mcp", "run", str(script)]
            argv += ["--transport", "http", "--port", str(port), *args]
            stderr = tmp / f"worker{i}.stderr"
            with stderr.open("wb") as out:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=full_env
                )
            started.append(Worker(proc, port, stderr))
        with trio.fail_after(LIMIT):
            for w in started:
                while b"serving MCP over HTTP" not in w.stderr.read_bytes():
                    assert w.proc.poll() is None, w.stderr.read_text()
                    await trio.sleep(0.05)
        yield started
    finally:
        with trio.CancelScope(shield=True):
            await _stop(started)


@asynccontextmanager
async def deployment(
    redis: RedisServer,
    tmp: Path,
    script: Path,
    n: int,
    *,
    choose: Chooser | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Deployment]:
    """``n`` workers running ``script`` against ``redis``, behind a balancer without affinity.

    Args:
        redis: the shared ``redis-server``.
        tmp: where the workers' output files go (``worker<i>.stderr``).
        script: the server file given to ``trio-mcp run``.
        n: how many workers.
        choose: the balancer's chooser (default: round robin per request).
        env: more environment for the workers (``SCALEOUT_SECRET`` is set).
    """
    full_env = {"SCALEOUT_SECRET": SECRET, **(env or {})}
    async with (
        workers(redis, tmp, script, n, env=full_env) as ws,
        balancer([("127.0.0.1", w.port) for w in ws], choose) as lb,
    ):
        yield Deployment(ws, lb)
