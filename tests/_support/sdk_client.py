"""The official ``mcp`` client (2.x) spawning an example server over stdio, in either era.

Import it only after ``pytest.importorskip("mcp")``: ``mcp`` is a test dependency.
"""

from __future__ import annotations

import os
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
