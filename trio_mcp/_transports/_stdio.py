"""The stdio transport: cancellable reads from fd 0, protocol-only writes to fd 1.

* Reads use :class:`trio.lowlevel.FdStream` on a duplicate of fd 0, so they are
  cancellable and need no thread. (A regular file on stdin, which cannot be
  polled, is read directly: such reads never block.)
* While serving, fd 1 is reserved for the protocol: it is duplicated for our own
  writer, and fd 1 itself is pointed at stderr. A stray ``print`` call in a handler
  (or a C library writing to fd 1) lands on stderr instead of corrupting the
  stream. Everything is restored on exit.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

__all__ = ["stdio_streams"]


def _pollable(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return False
    epoll = getattr(select, "epoll", None)
    if epoll is None:  # kqueue platforms: pipes, sockets and ttys all poll
        return True
    ep = epoll()
    try:
        ep.register(fd, select.EPOLLIN)
    except PermissionError:
        return False
    finally:
        ep.close()
    return True


class _FileStream(trio.abc.Stream):
    """A never-blocking file (regular file, /dev/null) as a trio stream."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        return os.read(self._fd, max_bytes or 65536)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        os.close(self._fd)
        await trio.lowlevel.checkpoint()


def _stream(fd: int) -> trio.abc.Stream:
    return trio.lowlevel.FdStream(fd) if _pollable(fd) else _FileStream(fd)


@asynccontextmanager
async def stdio_streams(
    stdin_fd: int = 0, stdout_fd: int = 1, *, protect_stdout: bool = True
) -> AsyncIterator[tuple[trio.abc.ReceiveStream, trio.abc.SendStream]]:
    """Yield ``(receive, send)`` streams over the process's stdin and stdout.

    Args:
        protect_stdout: Point fd 1 at stderr while serving, so that nothing but
            protocol messages reach the real stdout.
    """
    sys.stdout.flush()
    in_fd = os.dup(stdin_fd)
    out_fd = os.dup(stdout_fd)
    saved_stdout: int | None = None
    if protect_stdout and stdout_fd == 1:
        saved_stdout = os.dup(1)
        os.dup2(2, 1)
    receive = _stream(in_fd)
    send = _stream(out_fd)
    try:
        yield receive, send
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        if saved_stdout is not None:
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)
        with trio.CancelScope(shield=True):
            await receive.aclose()
            await send.aclose()
