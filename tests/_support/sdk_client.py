"""The official ``mcp`` client (2.x) driving an example server over stdio or HTTP, in either era.

Import it only after ``pytest.importorskip("mcp")``: ``mcp`` is a test dependency.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import trio
from mcp import Client, StdioServerParameters

from .paths import EVERYTHING, ROOT

LIMIT = 30


MODES = ["legacy", "2026-07-28"]


def server_params(
    script: Path = EVERYTHING, *args: str, env: dict[str, str] | None = None
) -> StdioServerParameters:
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    full_env.update(env or {})
    return StdioServerParameters(
        command=sys.executable, args=[str(script), *args], cwd=str(ROOT), env=full_env
    )


@asynccontextmanager
async def connect(
    mode: str,
    script: Path = EVERYTHING,
    *args: str,
    env: dict[str, str] | None = None,
    **kw: Any,
) -> AsyncIterator[Client]:
    kw.setdefault("cache", None)  # always reach the server (list_changed tests refetch)
    async with Client(
        server_params(script, *args, env=env),
        mode=mode,  # type: ignore[arg-type]
        read_timeout_seconds=LIMIT,
        **kw,
    ) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def connect_http(
    mode: str, argv: list[str], *, env: dict[str, str] | None = None, **kw: Any
) -> AsyncIterator[tuple[Client, subprocess.Popen[bytes]]]:
    """``argv --transport http --port N`` as a process, and the client connected to it.

    ``argv`` is a server's command line (``trio-mcp run script.py``...); the
    process is sent SIGTERM at the end of the block and waited for.
    """
    port = free_port()
    kw.setdefault("cache", None)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [*argv, "--transport", "http", "--port", str(port)],
        cwd=str(ROOT),
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while True:  # until it listens
            assert proc.poll() is None, proc.communicate()[1]
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            await stream.aclose()
            break
        url = f"http://127.0.0.1:{port}/mcp"
        async with Client(
            url,
            mode=mode,  # type: ignore[arg-type]
            read_timeout_seconds=LIMIT,
            **kw,
        ) as client:
            yield client, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def texts(result: types.CallToolResult) -> list[str]:
    return [c.text for c in result.content if isinstance(c, types.TextContent)]


def text(result: types.CallToolResult) -> str:
    [only] = texts(result)
    return only


class Inbox:
    """A message_handler collecting the server's notifications."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = trio.Event()

    async def __call__(self, message: Any) -> None:
        self.items.append(message)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.items if isinstance(m, kind)]

    async def wait_for(self, kind: type, count: int = 1) -> list[Any]:
        while len(self.of(kind)) < count:
            await self._changed.wait()
        return self.of(kind)
