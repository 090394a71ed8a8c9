"""Logging to stderr that never blocks the event loop: a bounded queue in front of fd 2.

A parent process that pipes a server's stderr and never reads it fills the
pipe after 64 KiB; a blocking write of the next traceback then freezes the
Trio thread, and nothing is answered any more, not even ``ping``.
:class:`StderrSink` is the logging handler that :meth:`Server.run` installs
instead of a ``StreamHandler`` on stderr:

* While serving, :meth:`StderrSink.emit` (from any thread) formats the record
  and appends it to a queue bounded in bytes; a writer task in the server's
  services nursery (:meth:`Serving.running`) writes the queue out whenever fd 2
  can take it, waiting for that through Trio, never in a blocking write. When
  the queue is full, records are dropped and counted, and the count is written
  as one line (``trio_mcp: N log records dropped ...``) once stderr takes data
  again.
* Before and after serving (no writer), a record is written at once, but
  still without blocking: what stderr cannot take is dropped and counted.

How fd 2 is written without blocking depends on what it is:

* a pipe or a terminal, on Linux: it is opened again through
  ``/proc/self/fd/2``, which gives a new open file description of the same
  pipe or terminal, and only that one is made ``O_NONBLOCK``. (Setting
  ``O_NONBLOCK`` on fd 2 itself, or on a ``dup`` of it, would change the open
  file description shared with every other writer of that stderr: ``print``,
  C libraries, child processes, the parent shell.)
* anything else that can be polled (a socket, a pipe elsewhere): a
  ``dup`` of fd 2, written at most ``PIPE_BUF`` bytes at a time after the poll
  says it is writable (a write that size then fits without waiting);
* a regular file or ``/dev/null``: written directly (such writes do not wait
  for a reader).

If stderr's reader goes away (``EPIPE``), records are discarded from then on.
"""

from __future__ import annotations

import logging
import os
import select
import stat
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Final

import trio

from .._runtime import SubjectFilter

__all__ = [
    "DEFAULT_FORMAT",
    "SUBJECT_FORMAT",
    "StderrSink",
    "divert_stdout",
    "start_sinks",
    "stderr_logging",
]

DEFAULT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The format with the calling identity (``-`` outside a request with a token).
SUBJECT_FORMAT: Final = "%(asctime)s %(levelname)s [%(subject)s] %(name)s: %(message)s"
_MAX_RECORD: Final = 64 * 1024
_PIPE_BUF: Final = getattr(select, "PIPE_BUF", 512)


class _Output:
    """fd 2 as a descriptor this module may write without blocking (see the module docstring)."""

    def __init__(self, fd: int) -> None:
        self.fd = -1
        self.kind = "none"  # "nonblocking" | "poll" | "file" | "none"
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return  # fd 2 is closed: there is nowhere to write
        if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
            self.fd, self.kind = os.dup(fd), "file"
            return
        if sys.platform.startswith("linux") and (stat.S_ISFIFO(mode) or os.isatty(fd)):
            flags = os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
            try:
                self.fd, self.kind = os.open(f"/proc/self/fd/{fd}", flags), "nonblocking"
                return
            except OSError:
                pass
        self.fd, self.kind = os.dup(fd), "poll"
        os.set_inheritable(self.fd, False)

    def write_now(self, data: bytes) -> int:
        """Write what fd 2 takes right now, without waiting; return how much."""
        if self.kind == "file":
            return os.write(self.fd, data)
        done = 0
        while done < len(data):
            if self.kind == "poll":
                poller = select.poll()
                poller.register(self.fd, select.POLLOUT)
                if not poller.poll(0):
                    break
                done += os.write(self.fd, data[done : done + _PIPE_BUF])
                continue
            try:
                done += os.write(self.fd, data[done:])
            except BlockingIOError:
                break
        return done

    async def write_some(self, data: bytes) -> int:
        """Write some of ``data``, waiting (cancellably, never blocking) until fd 2 takes it."""
        if self.kind == "file":
            await trio.lowlevel.checkpoint()
            return os.write(self.fd, data)
        while True:
            if self.kind == "poll":
                await trio.lowlevel.wait_writable(self.fd)
                return os.write(self.fd, data[:_PIPE_BUF])
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.fd)
                continue
            await trio.lowlevel.checkpoint()
            return n

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd, self.kind = -1, "none"


class StderrSink(logging.Handler):
    """A logging handler for stderr that never blocks the Trio thread (module docstring).

    Thread-safe: records may come from worker threads. A record longer than
    64 KiB is truncated.

    Args:
        max_bytes: The queue's bound while a writer runs; records that do not
            fit are dropped and counted.
        fd: The descriptor written (2, stderr).
    """

    def __init__(self, level: int = logging.NOTSET, *, max_bytes: int = 256 * 1024, fd: int = 2):
        super().__init__(level)
        self.max_bytes = max_bytes
        #: Records dropped since the last report (a queue full, or stderr full).
        self.dropped = 0
        self._out = _Output(fd)
        self._mutex = threading.Lock()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._broken = self._out.kind == "none"
        self._token: trio.lowlevel.TrioToken | None = None  # set while a writer runs
        self._wakeup: trio.Event | None = None
        self._wake_pending = False

    # ------------------------------------------------------------ any thread

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted record for the writer, or write it now if stderr takes it."""
        try:
            text = self.format(record)
        except Exception as exc:  # never handleError(): it writes to stderr, blocking
            text = f"trio_mcp: could not format a log record of {record.name}: {exc!r}"
        self.write_raw((text[:_MAX_RECORD] + "\n").encode("utf-8", "backslashreplace"))

    def write_raw(self, line: bytes) -> None:
        """Queue (or write now) bytes as they are: one or more whole lines."""
        with self._mutex:
            if self._broken:
                return
            if self._token is None:
                self._write_now(line)
                return
            if self._queued + len(line) > self.max_bytes:
                self.dropped += 1
                return
            self._queue.append(line)
            self._queued += len(line)
            if self._wake_pending:
                return
            self._wake_pending = True
            token = self._token
        try:
            token.run_sync_soon(self._wake)
        except trio.RunFinishedError:  # the run ended meanwhile; its writer flushed what it could
            pass

    def close(self) -> None:
        with self._mutex:
            self._out.close()
            self._broken = True
        super().close()

    def _write_now(self, data: bytes) -> None:
        """(Holding the mutex.) Write ``data`` and any drop report, dropping what does not fit."""
        report = self._report_line() if self.dropped else b""
        try:
            done = self._out.write_now(report + data)
        except OSError:
            self._fail()
            return
        if done >= len(report):
            self.dropped = 0  # reported
        if done < len(report) + len(data):
            self.dropped += 1

    def _report_line(self) -> bytes:
        n = self.dropped
        return (
            f"trio_mcp: {n} log record{'s' if n != 1 else ''} dropped: "
            "stderr was not being read fast enough\n"
        ).encode()

    def _fail(self) -> None:
        """(Holding the mutex.) stderr is gone (``EPIPE``...): discard from now on."""
        self._broken = True
        self._queue.clear()
        self._queued = 0

    # ------------------------------------------------------------ Trio thread

    def _wake(self) -> None:
        with self._mutex:
            self._wake_pending = False
            wakeup = self._wakeup
        if wakeup is not None:
            wakeup.set()

    def _take(self) -> bytes:
        with self._mutex:
            data = b"".join(self._queue)
            self._queue.clear()
            self._queued = 0
            if self.dropped:
                data += self._report_line()
                self.dropped = 0
            return data

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer: drain the queue to stderr until cancelled, then stop queueing.

        Nursery start protocol. A second writer for the same sink (nested
        ``running()`` blocks) returns at once. When cancelled, what is still
        queued is written if stderr takes it now, and dropped otherwise.
        """
        with self._mutex:
            if self._token is not None or self._broken:
                task_status.started()
                return
            self._token = trio.lowlevel.current_trio_token()
            self._wakeup = trio.Event()
        pending = b""
        try:
            task_status.started()
            while True:
                if not pending:
                    pending = self._take()
                if not pending:
                    assert self._wakeup is not None
                    await self._wakeup.wait()
                    self._wakeup = trio.Event()
                    continue
                try:
                    n = await self._out.write_some(pending)
                except OSError:
                    with self._mutex:
                        self._fail()
                    return
                pending = pending[n:]
        finally:
            with self._mutex:
                self._token = None
                self._wakeup = None
                self._wake_pending = False
                rest = pending + b"".join(self._queue)
                self._queue.clear()
                self._queued = 0
                if rest and not self._broken:
                    self._write_now(rest)


async def start_sinks(nursery: trio.Nursery) -> None:
    """Start the writer of every :class:`StderrSink` on the root logger in ``nursery``."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, StderrSink):
            await nursery.start(handler.run)


@contextmanager
def stderr_logging(level: int | str = logging.INFO, *, subject: bool = False) -> Iterator[None]:
    """Route the process's stderr logging through :class:`StderrSink` for the block.

    With no handler on the root logger, one ``StderrSink`` (``DEFAULT_FORMAT``
    at ``level``, or ``SUBJECT_FORMAT`` when ``subject``: a server with bearer
    auth names the caller on each line) is installed, and stays (as
    ``logging.basicConfig`` would). Handlers the program installed that write to stderr (a plain
    ``logging.StreamHandler`` on ``sys.stderr``, as ``basicConfig`` makes) are
    replaced by a sink with the same level, formatter and filters for the
    block, and restored after it.
    """
    root = logging.getLogger()
    if not root.handlers:
        sink = StderrSink()
        sink.addFilter(SubjectFilter())
        sink.setFormatter(logging.Formatter(SUBJECT_FORMAT if subject else DEFAULT_FORMAT))
        root.addHandler(sink)
        root.setLevel(level)
    swapped: list[tuple[logging.Handler, StderrSink]] = []
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler.stream in (
            sys.stderr,
            sys.__stderr__,
        ):
            sink = StderrSink(handler.level)
            sink.setFormatter(handler.formatter)
            sink.filters = list(handler.filters)
            root.handlers[root.handlers.index(handler)] = sink
            swapped.append((handler, sink))
    try:
        yield
    finally:
        for handler, sink in swapped:
            if sink in root.handlers:
                root.handlers[root.handlers.index(sink)] = handler
            sink.close()


def _root_sink() -> StderrSink | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, StderrSink):
            return handler
    return None


@asynccontextmanager
async def divert_stdout() -> AsyncIterator[None]:
    """Stray writes to fd 1 (``print`` in a handler) go through the sink for the block.

    The stdio transport points fd 1 at stderr so that nothing but protocol
    messages reaches the real stdout; a ``print`` there is still a blocking
    write on the Trio thread, into a pipe nobody may be reading. With a
    :class:`StderrSink` on the root logger, fd 1 is pointed at a pipe of our
    own instead, read by a worker thread that hands each line to the sink
    (bounded, dropped when full): a print waits at most for that thread.
    On exit fd 1 is restored and the thread ends at the pipe's EOF (it is
    abandoned after a second if a child process still holds the pipe open).
    Without a sink, nothing changes.
    """
    sink = _root_sink()
    if sink is None:
        yield
        return
    _flush_stdout()
    read_fd, write_fd = os.pipe()
    saved = os.dup(1)
    os.dup2(write_fd, 1)
    os.close(write_fd)
    try:
        async with trio.open_nursery() as nursery:
            pump = partial(_pump, read_fd, sink)
            nursery.start_soon(
                partial(
                    trio.to_thread.run_sync,
                    pump,
                    abandon_on_cancel=True,
                    thread_name="trio_mcp stdout to stderr",
                )
            )
            try:
                yield
            finally:
                _flush_stdout()
                os.dup2(saved, 1)  # the pipe's last write end closes: the pump reads EOF
                # ... at once, unless a child process holds the pipe: then abandon it.
                nursery.cancel_scope.deadline = trio.current_time() + 1.0
    finally:
        os.close(saved)


def _pump(read_fd: int, sink: StderrSink) -> None:
    """(Worker thread.) Every line read from ``read_fd`` to ``sink``, until EOF."""
    partial_line = b""
    try:
        while chunk := os.read(read_fd, 65536):
            data = partial_line + chunk
            cut = data.rfind(b"\n") + 1
            if len(data) - cut > _MAX_RECORD:  # no newline in sight: pass it on as it is
                cut = len(data)
            if cut:
                sink.write_raw(data[:cut])
            partial_line = data[cut:]
        if partial_line:
            sink.write_raw(partial_line + b"\n")
    finally:
        os.close(read_fd)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
