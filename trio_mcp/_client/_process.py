"""A server as a supervised subprocess over stdio.

The process lives exactly as long as the client: it is started in the
client's nursery, and however the client ends (normally, on an error, on
cancellation) the process is told to stop (stdin closed, the MCP way), given
``grace`` seconds, then terminated and, if it still lingers, killed.

Its stderr is read all along into a bounded buffer (the last ``stderr_lines``
lines), so an error can say how the server died: ``the server exited with
code 1; its stderr ends: ModuleNotFoundError: No module named 'foo'``.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import trio

from ._errors import ConnectionClosed
from ._transport import LineTransport, Sink, read_lines

__all__ = ["Subprocess"]

#: After stdout closes, how long to wait for the exit status (and the last stderr).
EXIT_WAIT = 2.0
_LINE_LIMIT = 1000


def _strings(values: Sequence[str]) -> list[str]:
    return [str(v) for v in values]


@attrs.define(eq=False)
class Subprocess(LineTransport):
    """An MCP server started as ``command``, speaking over its stdin and stdout.

    Args:
        command: The program and its arguments.
        env: The environment (``None``: this process's). As for ``subprocess``,
            it replaces the whole environment.
        cwd: Its working directory.
        grace: Seconds the process gets to exit after stdin closes, before it
            is terminated (then killed two seconds later).
        stderr_lines: How many of its last stderr lines to keep.
        on_stderr: Called with each stderr line as it arrives (default: kept only).
    """

    command: list[str] = attrs.field(kw_only=False, converter=_strings)
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    grace: float = 5.0
    stderr_lines: int = 50
    on_stderr: Callable[[str], None] | None = None
    process: trio.Process | None = attrs.field(default=None, init=False)
    _tail: collections.deque[str] = attrs.field(init=False)
    _stderr_done: trio.Event = attrs.field(factory=trio.Event, init=False)
    kind = "stdio"

    @_tail.default
    def _make_tail(self) -> collections.deque[str]:
        return collections.deque(maxlen=self.stderr_lines)

    @property
    def stderr_tail(self) -> str:
        """The last lines the process wrote on stderr."""
        return "\n".join(self._tail)

    def describe(self) -> str:
        return "the server"

    async def run(
        self, sink: Sink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            proc = await trio.lowlevel.open_process(
                list(self.command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=None if self.env is None else dict(self.env),
                cwd=self.cwd,
            )
        except OSError as exc:
            name = self.command[0] if self.command else "''"
            raise ConnectionClosed(f"cannot start {name!r}: {exc.strerror or exc}") from exc
        self.process = proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_stderr, proc.stderr)
                self._send_stream = proc.stdin
                task_status.started()
                if await read_lines(proc.stdout, sink, self.describe()):
                    with trio.move_on_after(EXIT_WAIT):
                        await proc.wait()
                        await self._stderr_done.wait()
                    sink.fail(self._closed_error(proc))
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._stop(proc)

    def _closed_error(self, proc: trio.Process) -> ConnectionClosed:
        code = proc.returncode
        if code is None:
            what = "closed its stdout"
        elif code < 0:
            try:
                what = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                what = f"was killed by signal {-code}"
        else:
            what = f"exited with code {code}"
        last = [line for line in self._tail if line.strip()]
        message = f"{self.describe()} {what}"
        if last:
            message += f"; its stderr ends: {last[-1].strip()}"
        return ConnectionClosed(message, exit_code=code, stderr_tail=self.stderr_tail)

    async def _read_stderr(self, stream: trio.abc.ReceiveStream) -> None:
        pending = b""
        try:
            while data := await stream.receive_some(65536):
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._add_line(line)
                if len(pending) > _LINE_LIMIT:
                    self._add_line(pending)
                    pending = b""
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if pending:
                self._add_line(pending)
            self._stderr_done.set()

    def _add_line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")[:_LINE_LIMIT]
        self._tail.append(line)
        if self.on_stderr is not None:
            self.on_stderr(line)

    def unresponsive(self) -> None:
        """A server that never answered gets no grace after EOF: SIGTERM comes at once."""
        self.grace = 0.0

    async def aclose(self) -> None:
        """Close stdin: an MCP server's cue to drain and exit."""
        try:
            await self._send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _stop(self, proc: trio.Process) -> None:
        """Make sure the process is gone: EOF, ``grace`` s, SIGTERM, 2 s, SIGKILL."""
        self._send_stream = None
        if proc.stdin is not None:
            await proc.stdin.aclose()
        if proc.returncode is None:
            with trio.move_on_after(self.grace):
                await proc.wait()
        if proc.returncode is None:
            proc.terminate()
            with trio.move_on_after(2.0):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                await stream.aclose()

    def info(self) -> dict[str, Any]:
        """The process id and exit status (for diagnostics)."""
        proc = self.process
        return {"pid": getattr(proc, "pid", None), "returncode": getattr(proc, "returncode", None)}
