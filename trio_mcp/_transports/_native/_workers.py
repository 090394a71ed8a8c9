"""Several server processes on one port: ``workers=N`` (``SO_REUSEPORT``), supervised.

:func:`run_workers` is the parent. It reserves the port (a socket bound with
``SO_REUSEPORT`` and never listening: ``port=0`` becomes a real port, and the
port stays ours while workers come and go), then forks ``n`` workers. Each
worker binds its own listening socket to that port with ``SO_REUSEPORT`` and
serves with its own Trio loop; the kernel spreads new connections among them.

* SIGTERM, SIGINT (Ctrl+C) and SIGHUP to the parent are forwarded to every
  worker as SIGTERM: each drains (stops accepting, gives its handlers the
  grace, closes). A second signal is forwarded too, and cancels at once.
  Workers ignore SIGINT and SIGHUP themselves (Ctrl+C and a hang-up reach
  the whole process group; the parent's forwarded SIGTERM is the one that counts).
* The parent waits for them within the grace plus a margin, then kills what
  is left (SIGKILL).
* A worker that dies while serving is started again; one that dies within a
  second of starting, five times in a row, stops them all (a broken server
  would otherwise restart forever).
* A worker's parent dying sends it SIGTERM (Linux ``PR_SET_PDEATHSIG``).

What scales: modern-era requests are stateless, any worker serves any of
them. Legacy sessions live in the worker that opened them: with several
workers a client needs affinity (a proxy that routes by ``Mcp-Session-Id``),
else its next POST lands on a worker that does not know the session (404).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from ._server import bind_sockets

__all__ = ["run_workers"]

log = logging.getLogger("trio_mcp")

_SIGNALS = (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", signal.SIGTERM))
_QUICK = 1.0  # a worker dying within this many seconds of its start "failed to start"
_MAX_QUICK = 5


def run_workers(
    n: int, host: str, port: int, worker: Callable[[int], int], *, grace: float = 2.0
) -> int:
    """Fork ``n`` workers serving ``host:port``; return once all have exited (the exit code).

    ``worker(port)`` runs in each child (with the real port) and returns its
    exit status; it must listen with ``SO_REUSEPORT``. Call this with no Trio
    run active and no other threads (it forks).

    Returns:
        0 when every worker ended cleanly after a signal, 1 otherwise.

    Raises:
        OSError: the port cannot be reserved (in use without ``SO_REUSEPORT``...).
    """
    reserved = bind_sockets(host, port, reuse_port=True, backlog=None)
    port = reserved[0].getsockname()[1]
    blocked = {*_SIGNALS, signal.SIGCHLD}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    children: dict[int, float] = {}
    quick_deaths = 0
    status = 0
    stopping = False
    deadline = float("inf")

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for sock in reserved:
                    sock.close()
                _die_with_parent()
                for signum in _SIGNALS[1:]:  # the group's Ctrl+C and hang-up: ours to forward
                    signal.signal(signum, signal.SIG_IGN)
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                code = worker(port)
            except Exception:
                logging.getLogger("trio_mcp").exception("trio_mcp: worker %d failed", os.getpid())
            finally:  # the child never returns into the parent's code, whatever happened
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = time.monotonic()

    try:
        for _ in range(n):
            spawn()
        log.info("trio_mcp: %d workers serving on port %d", n, port)
        while children:
            timeout = max(0.0, min(deadline - time.monotonic(), 1.0))
            info = signal.sigtimedwait(blocked, timeout)
            if info is not None and info.si_signo in _SIGNALS:
                if not stopping:
                    log.info(
                        "trio_mcp: %s received; draining %d workers",
                        signal.Signals(info.si_signo).name,
                        len(children),
                    )
                    stopping = True
                    deadline = time.monotonic() + grace + 5.0
                _signal_all(children, signal.SIGTERM)
            for pid, code in _reap(children):
                started = children.pop(pid)
                if code != 0:
                    status = 1
                if stopping:
                    continue
                quick = time.monotonic() - started < _QUICK
                quick_deaths = quick_deaths + 1 if quick else 0
                log.warning("trio_mcp: worker %d exited (status %d)", pid, code)
                if quick_deaths >= _MAX_QUICK:
                    log.error("trio_mcp: workers keep failing at start; stopping")
                    stopping, status = True, 1
                    deadline = time.monotonic() + grace + 5.0
                    _signal_all(children, signal.SIGTERM)
                    continue
                spawn()
            if stopping and time.monotonic() >= deadline:
                log.warning("trio_mcp: %d workers did not stop in time; killing", len(children))
                _signal_all(children, signal.SIGKILL)
                deadline = float("inf")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for sock in reserved:
            sock.close()
    return status


def _signal_all(children: dict[int, float], signum: int) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _reap(children: dict[int, float]) -> list[tuple[int, int]]:
    """The workers that exited, with their exit status (a signal counts as failure)."""
    done = []
    for pid in list(children):
        try:
            got, raw = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done.append((pid, 1))
            continue
        if got:
            done.append((pid, os.waitstatus_to_exitcode(raw)))
    return done


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies (a supervisor killed with SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
