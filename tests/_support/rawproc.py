"""A server subprocess driven with raw JSON-RPC lines, answers matched by id.

Used by the e2e tests that need what the official client hides: stderr left
unread, signals, exit codes. ``call`` may be used from many tasks at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVERS = ROOT / "tests" / "servers"
LEGACY = "2025-11-25"


class RawServer:
    """A spawned server: :meth:`call` sends a request and waits for its answer."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._next = 0
        self._waiting: dict[int, trio.Event] = {}
        self._answers: dict[int, dict[str, Any]] = {}
        self.stdout_eof = trio.Event()
        self._send_lock = trio.StrictFIFOLock()

    async def send(self, msg: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        async with self._send_lock:
            await self.process.stdin.send_all(json.dumps(msg).encode() + b"\n")

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response message (``result`` or ``error``)."""
        self._next += 1
        rid = self._next
        event = self._waiting[rid] = trio.Event()
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        await self.send(msg)
        await event.wait()
        del self._waiting[rid]
        return self._answers.pop(rid)

    async def tool(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.call("tools/call", {"name": name, "arguments": arguments or {}})

    async def initialize(self) -> None:
        reply = await self.call(
            "initialize",
            {
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        )
        assert reply["result"]["protocolVersion"] == LEGACY, reply
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        while chunk := await self.process.stdout.receive_some(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                msg = json.loads(line)
                if "id" in msg and "method" not in msg and msg["id"] in self._waiting:
                    self._answers[msg["id"]] = msg
                    self._waiting[msg["id"]].set()
        self.stdout_eof.set()


@asynccontextmanager
async def spawn(
    *argv: str | Path,
    env: dict[str, str] | None = None,
    stderr: int | None = subprocess.DEVNULL,
) -> AsyncIterator[RawServer]:
    """Run ``python argv...``; read its stdout; kill it if the test leaves it running.

    ``stderr`` is passed to the process as is: ``subprocess.PIPE`` gives a pipe
    that nothing reads unless the test does (``server.process.stderr``).
    """
    process = await trio.lowlevel.open_process(
        [sys.executable, *map(str, argv)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=str(ROOT),
        env={**os.environ, **(env or {})},
    )
    server = RawServer(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server._read)
            try:
                yield server
            finally:
                if process.returncode is None:
                    process.kill()
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    await stream.aclose()
