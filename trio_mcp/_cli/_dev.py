"""``trio-mcp dev TARGET``: serve over HTTP, restart on every change to the code.

The server runs as a child process (``python -m trio_mcp run TARGET
--transport http``) supervised in this process's nursery; watchfiles (the
``reload`` extra; it runs on Trio through anyio) watches the target's
directory, and a change to a Python file restarts the child: SIGTERM, the
server drains, then a fresh one starts on the same port. A child that fails
(an edit that does not import) is reported in one line and restarted at the
next change; ``dev`` itself only stops on Ctrl+C or SIGTERM, and the child
never outlives it.

HTTP rather than stdio, because a restart must not take the client with it:
the Inspector (its command line is printed at start) and every other client
keep their URL across restarts, and a modern-era client does not even notice.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio

from ._targets import EXIT_OK, EXIT_USAGE, CliError

__all__ = ["cmd_dev", "watched_paths"]

#: A restart waits this long after a change for the next one (an editor saves in bursts).
DEBOUNCE_MS = 300
#: How long the watcher thread may take to notice a cancellation (it polls its stop flag).
WATCH_STEP_MS = 250


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


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "trio_mcp", "run", args.target, "--transport", "http"]
    argv += ["--host", args.host, "--port", str(args.port)]
    if args.log_level:
        argv += ["--log-level", args.log_level]
    return argv


async def _serve(argv: list[str]) -> None:
    """Run one generation of the server until it exits or this task is cancelled."""
    # Cancelling trio.run_process sends SIGTERM, then SIGKILL after 5 s: the child
    # drains within its grace and never outlives this task.
    done = await trio.run_process(argv, check=False, stdin=subprocess.DEVNULL)
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


async def _stop_on_signals(cancel_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for signum in signals:
            _say(f"{signal.Signals(signum).name}: stopping")
            cancel_scope.cancel()
            return


async def run_dev(args: argparse.Namespace, paths: list[Path]) -> None:
    """Serve ``args.target`` and restart it on each change under ``paths``, until cancelled."""
    url = f"http://{args.host}:{args.port}/mcp"
    _say(
        f"serving {args.target} at {url}; restarting on changes under {', '.join(map(str, paths))}"
    )
    _say(f"inspect it: npx @modelcontextprotocol/inspector --transport http --server-url {url}")
    send, receive = trio.open_memory_channel[list[str]](0)
    argv = _child_argv(args)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, nursery.cancel_scope)
        nursery.start_soon(_watch, paths, send)
        while True:
            async with trio.open_nursery() as generation:
                generation.start_soon(_serve, argv)
                files = await receive.receive()
                generation.cancel_scope.cancel()
            _say(f"{', '.join(files)} changed: restarting")


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
    trio.run(run_dev, args, paths)
    return EXIT_OK


def add_dev_command(sub: Any, common: argparse.ArgumentParser, port: Any) -> None:
    """Declare ``trio-mcp dev`` on the CLI's subparsers."""
    dev = sub.add_parser(
        "dev", help="serve over HTTP and restart on every code change", parents=[common]
    )
    dev.add_argument("target", help="path/to/server.py[:NAME] or package.module[:NAME]")
    dev.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    dev.add_argument("--port", type=port, default=8000, help="HTTP port (default 8000)")
    dev.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    dev.add_argument(
        "--watch", action="append", metavar="PATH", help="also watch this path (repeat)"
    )
    dev.set_defaults(func=cmd_dev)
