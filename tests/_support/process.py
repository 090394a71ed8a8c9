"""A server subprocess driven over its stdio pipes, and probes of its process.

:func:`spawn` runs a script on this Python with an isolated stderr reader; every line
the server writes to stdout is checked to be a single JSON-RPC 2.0 message
(:func:`check_jsonrpc_line`): nothing else may ever appear there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from .messages import LEGACY, MODERN, MODERN_META
from .paths import ROOT

__all__ = ["ServerProcess", "alive", "check_jsonrpc_line", "rss_kib", "spawn", "wait_exit"]


def check_jsonrpc_line(line: bytes) -> dict[str, Any]:
    """``line`` (without its newline) must be exactly one JSON-RPC 2.0 message."""
    assert line, "empty line on stdout"
    assert b"\n" not in line and b"\r" not in line, line
    msg = json.loads(line)
    assert isinstance(msg, dict), line
    assert msg.get("jsonrpc") == "2.0", line
    if "method" in msg:  # a request or notification from the server
        assert isinstance(msg["method"], str), line
    else:  # a response: exactly one of result / error, and an id
        assert "id" in msg, line
        assert ("result" in msg) != ("error" in msg), line
        if "error" in msg:
            assert isinstance(msg["error"]["code"], int), line
            assert isinstance(msg["error"]["message"], str), line
    return msg


class ServerProcess:
    """A server subprocess with line-oriented helpers over its pipes."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stdout_lines: list[bytes] = []  # every raw line ever read from stdout
        self.stderr = bytearray()
        self._buffer = bytearray()
        self._stash: dict[Any, dict[str, Any]] = {}
        self._next_id = 1000
        self.stdout_eof = False
        self.final_messages: list[dict[str, Any]] = []

    # --- writing

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(data)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.write(json.dumps(msg).encode() + b"\n")

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()

    # --- reading

    async def read_line(self) -> bytes | None:
        """The next stdout line (validated), or ``None`` at EOF."""
        assert self.process.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some(65536)
            if not chunk:
                self.stdout_eof = True
                assert not self._buffer, f"partial line at EOF: {bytes(self._buffer)!r}"
                return None
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        self.stdout_lines.append(line)
        check_jsonrpc_line(line)
        return line

    async def recv(self) -> dict[str, Any]:
        line = await self.read_line()
        assert line is not None, "stdout closed"
        return json.loads(line)  # type: ignore[no-any-return]

    async def response(self, id: Any) -> dict[str, Any]:
        """The response with this id (others are kept for later)."""
        while id not in self._stash:
            msg = await self.recv()
            if "method" not in msg:
                self._stash[msg["id"]] = msg
        return self._stash.pop(id)

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, era: str = LEGACY
    ) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if era == MODERN:
            params = {**(params or {}), "_meta": MODERN_META}
        if params is not None:
            msg["params"] = params
        await self.send(msg)
        reply = await self.response(rid)
        return reply

    async def initialize(self, version: str = LEGACY) -> dict[str, Any]:
        reply = await self.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        )
        assert reply["result"]["protocolVersion"] == version, reply
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    async def read_to_eof(self) -> list[dict[str, Any]]:
        """Every remaining stdout message until EOF (each validated)."""
        out = list(self._stash.values())
        self._stash.clear()
        while (line := await self.read_line()) is not None:
            out.append(json.loads(line))
        return out

    def stderr_text(self) -> str:
        return self.stderr.decode(errors="replace")


@asynccontextmanager
async def spawn(
    script: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[ServerProcess]:
    """Run ``script`` (with ``args``) on this Python; kill it if the test leaves it running."""
    process = await trio.lowlevel.open_process(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(ROOT),
        env={**os.environ, **(env or {})},
    )
    server = ServerProcess(process)

    async def drain_stderr() -> None:
        assert process.stderr is not None
        while chunk := await process.stderr.receive_some(65536):
            server.stderr += chunk

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain_stderr)
            try:
                yield server
            finally:
                if process.returncode is None:
                    process.kill()
                with trio.CancelScope(shield=True):
                    await process.wait()
    finally:
        with trio.CancelScope(shield=True):
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    await pipe.aclose()
        # Whatever the test did, stdout never carried anything but JSON-RPC lines.
        for line in server.stdout_lines:
            check_jsonrpc_line(line)


async def wait_exit(server: ServerProcess, bound: float) -> tuple[int, float]:
    """Read stdout to EOF and wait for exit; return (exit code, seconds taken).

    The messages read on the way are left in ``server.final_messages``.
    """
    start = trio.current_time()
    with trio.fail_after(bound):
        server.final_messages = await server.read_to_eof()
        code = await server.process.wait()
    return code, trio.current_time() - start


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, read from /proc (0 if unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
