"""``trio-mcp dev TARGET``: serve over HTTP, restart on every change to the code.

The server runs as a child process (``python -m trio_mcp run TARGET
--transport http``) supervised in this process's nursery; watchfiles (the
``reload`` extra; it runs on Trio through anyio) watches the target's
directory, and a change to a Python file restarts the child: SIGTERM, the
server drains, then a fresh one starts on the same port. A child that fails
(an edit that does not import) is reported in one line and restarted at the
next change; ``dev`` itself only stops on Ctrl+C or SIGTERM, and the child
never outlives it.

A restart (or ``dev`` stopping) gives the child what ``trio-mcp run`` would:
SIGTERM, then its shutdown grace to drain, then :data:`KILL_MARGIN` seconds
for its lifespan to end, and only then SIGKILL (:func:`kill_delay`). The child
reports the grace it serves with (``Server(grace=...)``, ``TRIO_MCP_GRACE``,
``--grace``) through a pipe once it has configured itself; one that has not
yet got that far is given the grace of the environment and flags.

HTTP rather than stdio, because a restart must not take the client with it:
the Inspector (its command line is printed at start) and every other client
keep their URL across restarts, and a modern-era client does not even notice.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio

from ._targets import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError

__all__ = ["cmd_dev", "watched_paths"]

#: A restart waits this long after a change for the next one (an editor saves in bursts).
DEBOUNCE_MS = 300
#: How long the watcher thread may take to notice a cancellation (it polls its stop flag).
WATCH_STEP_MS = 250
#: The exit status after Ctrl+C (as every command).
EXIT_INTERRUPTED = 130
#: Seconds after its grace that a child has to exit (its lifespan ending) before SIGKILL.
KILL_MARGIN = 3.0


def kill_delay(grace: float) -> float:
    """Seconds from SIGTERM to SIGKILL for a child that drains within ``grace`` seconds."""
    return grace + KILL_MARGIN


def _say(message: str) -> None:
    print(f"trio-mcp dev: {message}", file=sys.stderr, flush=True)


def watched_paths(target: str, extra: Iterable[str] = ()) -> list[Path]:
    """The directories ``dev`` watches: the target file's folder (or the current one) and ``extra``."""
    spec = target
    if ":" in spec and not Path(spec).exists():
        spec = spec.rsplit(":", 1)[0]
    if spec.endswith(".py") and not Path(spec).is_file():
        raise CliError(f"no such file: {spec}", EXIT_USAGE)
    if spec.endswith(".py") or Path(spec).is_file():
        base = Path(spec).resolve().parent
    else:  # a module: package.module
        base = Path.cwd()
    paths = [base, *(Path(p).resolve() for p in extra)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError(f"cannot watch {', '.join(missing)}: no such file or directory", EXIT_USAGE)
    return paths


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the server will (``SO_REUSEADDR``), and let it go.

    ``dev`` restarts its server at each change, so a port in use or a host that names no
    address would otherwise be a failed server, again, at every change.

    Raises:
        CliError: it cannot be bound (exit status 1).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise CliError(f"cannot listen on {host}:{port}: {why or exc}", EXIT_FAILED) from None


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "trio_mcp", "run", args.target, "--transport", "http"]
    argv += ["--host", args.host, "--port", str(args.port)]
    if args.log_level:
        argv += ["--log-level", args.log_level]
    if args.grace is not None:
        argv += ["--grace", repr(args.grace)]
    return argv


def _default_grace(args: argparse.Namespace) -> float:
    """The grace a child that has not reported its own gets: environment and flags.

    Raises:
        SettingsError: ``TRIO_MCP_*`` or ``--grace`` has a bad value.
    """
    from .._app._settings import Settings

    return Settings().with_env().replace("command line", grace=args.grace).grace


def _reported(fd: int, default: float) -> float:
    """The grace the child wrote on ``fd`` (non-blocking) if it did, else ``default``."""
    try:
        data = os.read(fd, 64)
        grace = float(data.decode().strip())
    except (BlockingIOError, UnicodeError, ValueError):  # not yet written (or garbled)
        return default
    return grace if grace >= 0 else default


async def terminate(process: Any, grace: float, now: trio.Event | None = None) -> None:
    """SIGTERM ``process``; SIGKILL it if it has not exited within :func:`kill_delay`.

    ``now`` set (a second signal to ``dev``) kills it at once.
    """
    delay = kill_delay(grace)
    _say(f"stopping the server: SIGTERM (its grace {grace:g} s; SIGKILL after {delay:g} s)")
    process.terminate()
    exited = False

    async def wait_exit(scope: trio.CancelScope) -> None:
        nonlocal exited
        await process.wait()
        exited = True
        scope.cancel()

    with trio.move_on_after(delay) as timer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_exit, nursery.cancel_scope)
            if now is not None:
                nursery.start_soon(_cancel_on, now, nursery.cancel_scope)
    if exited:
        return
    if timer.cancelled_caught:
        _say(
            f"the server did not exit within {delay:g} s of SIGTERM (its grace {grace:g} s"
            f" + {KILL_MARGIN:g} s): killing it"
        )
    else:
        _say("second signal: killing the server now")
    process.kill()


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _serve(argv: list[str], default_grace: float, now: trio.Event) -> None:
    """Run one generation of the server until it exits or this task is cancelled.

    Cancelled, the child gets SIGTERM, then SIGKILL :func:`kill_delay` seconds
    later (the grace it reported): it drains as ``trio-mcp run`` would, and
    never outlives this task.
    """
    read, write = os.pipe()
    try:
        os.set_blocking(read, False)

        async def deliver_cancel(process: trio.Process) -> None:
            await terminate(process, _reported(read, default_grace), now)

        done = await trio.run_process(
            [*argv, "--report-grace-fd", str(write)],
            check=False,
            stdin=subprocess.DEVNULL,
            pass_fds=(write,),
            start_new_session=True,  # Ctrl+C reaches dev only, which then SIGTERMs the server
            deliver_cancel=deliver_cancel,
        )
    finally:
        os.close(read)
        os.close(write)
    how = f"status {done.returncode}" if done.returncode >= 0 else f"signal {-done.returncode}"
    _say(f"the server exited with {how}; waiting for a change to restart it")


async def _watch(paths: list[Path], changed: trio.MemorySendChannel[list[str]]) -> None:
    import watchfiles

    async for changes in watchfiles.awatch(
        *paths,
        watch_filter=watchfiles.PythonFilter(),
        debounce=DEBOUNCE_MS,
        rust_timeout=WATCH_STEP_MS,  # bounds how long a cancel waits for the watcher thread
    ):
        await changed.send(sorted({_shown(path) for _, path in changes}))


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


#: The signals that stop ``dev`` (the server first); a second one kills the server at once.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def _stop_on_signals(
    signals: Any, work: trio.CancelScope, now: trio.Event, first: list[int]
) -> None:
    async for signum in signals:
        if not first:
            first.append(signum)
            _say(f"{signal.Signals(signum).name}: stopping")
            work.cancel()
        else:
            now.set()


async def run_dev(args: argparse.Namespace, paths: list[Path]) -> int | None:
    """Serve ``args.target`` and restart it on each change under ``paths``, until a signal.

    Returns:
        The signal that stopped it.
    """
    url = f"http://{args.host}:{args.port}/mcp"
    _say(
        f"serving {args.target} at {url}; restarting on changes under {', '.join(map(str, paths))}"
    )
    _say(f"inspect it: npx @modelcontextprotocol/inspector --transport http --server-url {url}")
    send, receive = trio.open_memory_channel[list[str]](0)
    argv = _child_argv(args)
    grace = _default_grace(args)
    now = trio.Event()
    first: list[int] = []
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as top:  # signals still count while the server drains
            work = trio.CancelScope()
            top.start_soon(_stop_on_signals, signals, work, now, first)
            with work:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_watch, paths, send)
                    while True:
                        async with trio.open_nursery() as generation:
                            generation.start_soon(_serve, argv, grace, now)
                            files = await receive.receive()
                            generation.cancel_scope.cancel()
                        _say(f"{', '.join(files)} changed: restarting")
            top.cancel_scope.cancel()
    return first[0] if first else None


def cmd_dev(args: argparse.Namespace) -> int:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise CliError(
            "trio-mcp dev needs watchfiles (the 'reload' extra): pip install watchfiles",
            EXIT_USAGE,
        ) from None
    if args.port == 0:
        raise CliError("trio-mcp dev needs a fixed port (clients reconnect to it)", EXIT_USAGE)
    paths = watched_paths(args.target, args.watch or ())
    check_port(args.host, args.port)
    _default_grace(args)  # a bad TRIO_MCP_GRACE or --grace: one line now, not at each restart
    stopped_by = trio.run(run_dev, args, paths)
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


def add_dev_command(sub: Any, common: argparse.ArgumentParser, port: Any) -> None:
    """Declare ``trio-mcp dev`` on the CLI's subparsers."""
    dev = sub.add_parser(
        "dev",
        help="serve over HTTP and restart on every code change",
        parents=[common],
        description="Serve TARGET over HTTP and restart it on every change to a Python file"
        " under its folder. A restart (or Ctrl+C) sends the server SIGTERM; it drains within"
        " its shutdown grace (Server(grace=...), TRIO_MCP_GRACE or --grace; default 2 s),"
        f" and is killed only if it is still running {KILL_MARGIN:g} s after that.",
    )
    dev.add_argument("target", help="path/to/server.py[:NAME] or package.module[:NAME]")
    dev.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    dev.add_argument("--port", type=port, default=8000, help="HTTP port (default 8000)")
    dev.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    dev.add_argument(
        "--watch", action="append", metavar="PATH", help="also watch this path (repeat)"
    )
    dev.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="the server's shutdown grace (default: its own, 2 unless set); SIGKILL comes"
        f" {KILL_MARGIN:g} s after it",
    )
    dev.set_defaults(func=cmd_dev)
