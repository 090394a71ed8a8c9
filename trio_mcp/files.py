"""Files beneath a root directory, opened without a race: :class:`RootedDirectory`.

Checking a path and then opening it by name is a race (TOCTOU): between the
two, anyone who can write inside the root can swap a file for a symlink that
points out of it. :class:`RootedDirectory` opens first and checks what it
opened:

* On Linux 5.6+ (x86_64, aarch64) it calls ``openat2(2)`` from a descriptor of
  the root with ``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS``: the kernel itself
  refuses any step (``..``, an absolute path, a symlink) that would leave the
  root, atomically.
* Elsewhere, or when ``openat2`` is refused (seccomp, an old kernel), and for
  the cases the kernel refuses that this module accepts (see below), it walks
  the path one component at a time from the root's descriptor, each step an
  ``openat`` with ``O_NOFOLLOW``. ``..`` is resolved by the walk itself (it
  never passes the root) and symlinks are read with ``readlinkat`` and
  resolved by the same walk, so nothing is ever looked up by a name outside
  a directory descriptor the walk holds.

The policy, the same on both paths:

* A symlink is followed when its target stays beneath the root: a relative
  one, or an absolute one that names a place under the root's real path. Any
  other (and ``/proc`` magic links) is refused with :class:`OutsideRoot`.
* Only regular files are served. The file is opened with ``O_NONBLOCK`` (so a
  FIFO's open does not wait for a writer) and checked with ``fstat``;
  anything else (directory, FIFO, socket, device) is :class:`NotARegularFile`.
* Hard links cannot be told apart from the file they link to: a hard link
  inside the root to a file outside it is served. Do not let untrusted users
  create hard links in a served tree on the root's filesystem.

Reads (:meth:`RootedDirectory.read_bytes`, :meth:`~RootedDirectory.read_text`)
run in a worker thread with ``abandon_on_cancel=True``, under the object's own
:class:`trio.CapacityLimiter`: a slow or hung filesystem cannot hold a request
past its deadline or the process past its grace, and stuck reads cannot use up
the threads other work needs.

Errors never carry the server's paths: their ``filename`` is the path the
caller asked for, relative to the root. Every refusal is a
:class:`FileNotFoundError` (:class:`PathRefused`), so a resource handler that
lets it propagate answers "Resource not found", without telling a client
whether something exists outside the root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Final, final

import trio

__all__ = [
    "FileTooLarge",
    "NotARegularFile",
    "OutsideRoot",
    "PathRefused",
    "RootedDirectory",
]

#: Set this environment variable to ``1`` to use the component walk even where
#: ``openat2`` works (tests of the fallback).
NO_OPENAT2_ENV: Final = "TRIO_MCP_NO_OPENAT2"

_MAX_PATH: Final = 4096
_MAX_SYMLINKS: Final = 40  # Linux's limit
_O_PATH: Final = getattr(os, "O_PATH", 0)
_O_NOCTTY: Final = getattr(os, "O_NOCTTY", 0)
_DIR_FLAGS: Final = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | _O_NOCTTY
_LINK_ERRNOS: Final = frozenset(
    {errno.ELOOP, errno.ENOTDIR, errno.EMLINK, getattr(errno, "EFTYPE", errno.ELOOP)}
)


class PathRefused(FileNotFoundError):
    """Nothing servable at this path: it is refused, not looked for outside the root.

    A :class:`FileNotFoundError` on purpose: to a client there is nothing
    there, and a resource handler that lets it propagate answers "Resource not
    found". :attr:`reason` says why, for the server's log; ``filename`` is the
    path as given (never the server's absolute path).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.ENOENT, reason, path)
        self.path = path
        self.reason = reason


class OutsideRoot(PathRefused):
    """The path leaves the root: ``..`` past it, an absolute path, or a symlink out."""


class NotARegularFile(PathRefused):
    """The path names a directory, FIFO, socket or device, not a regular file."""


class FileTooLarge(OSError):
    """The file is larger than the directory's ``max_size`` (``errno.EFBIG``)."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes", path)
        self.path = path
        self.limit = limit


@final
class RootedDirectory:
    """Read regular files beneath ``root``, and nothing else (see the module docstring).

    Args:
        root: The directory served. It is resolved (symlinks followed) once,
            here; it must exist. The root itself is trusted: it is opened by
            that resolved path for each read, and only what lies beneath it
            is confined.
        max_size: Reads of larger files raise :class:`FileTooLarge` (checked
            before reading and while reading, so a growing file is bounded too).
        max_threads: How many reads may be in worker threads at once. A read
            that is cancelled while its thread is stuck keeps its slot until
            the thread returns.
        use_openat2: ``None`` (default): ``openat2`` where the kernel has it,
            unless the ``TRIO_MCP_NO_OPENAT2`` environment variable is ``1``;
            ``False``: always the component walk; ``True``: ``openat2`` where
            available (the walk still decides the cases the kernel refuses).

    Raises:
        NotADirectoryError: ``root`` is not a directory.
        FileNotFoundError: ``root`` does not exist.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_size: int = 64 * 1024 * 1024,
        max_threads: int = 8,
        use_openat2: bool | None = None,
    ) -> None:
        real = Path(root).resolve(strict=True)
        if not real.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(root))
        self.root: Final[Path] = real
        self.max_size: Final = max_size
        self._real = str(real)
        if use_openat2 is None:
            use_openat2 = os.environ.get(NO_OPENAT2_ENV, "") != "1"
        self._openat2 = _openat2 if use_openat2 else None
        self._limiter = trio.CapacityLimiter(max_threads)

    @property
    def mode(self) -> str:
        """``"openat2"`` or ``"walk"``: how paths are resolved on this system."""
        return "openat2" if self._openat2 is not None and self._openat2.works() else "walk"

    def __repr__(self) -> str:
        return f"RootedDirectory({self._real!r}, mode={self.mode!r})"

    async def read_bytes(self, path: str) -> bytes:
        """The content of the regular file at ``path`` (relative to the root).

        Runs in a worker thread, abandoned if the caller is cancelled (the
        thread closes the file when it ends).

        Raises:
            OutsideRoot: ``path`` leaves the root.
            NotARegularFile: ``path`` is not a regular file.
            PathRefused: other refusals (a NUL byte, a name too long, a loop).
            FileNotFoundError: nothing there.
            FileTooLarge: the file exceeds ``max_size``.
            OSError: any other failure, its ``filename`` set to ``path``.
        """
        return await trio.to_thread.run_sync(
            self.read_bytes_sync,
            path,
            abandon_on_cancel=True,
            limiter=self._limiter,
            thread_name="trio_mcp RootedDirectory read",
        )

    async def read_text(self, path: str, encoding: str = "utf-8", errors: str = "strict") -> str:
        """:meth:`read_bytes` decoded (``UnicodeDecodeError`` if it does not decode)."""
        return (await self.read_bytes(path)).decode(encoding, errors)

    def read_bytes_sync(self, path: str) -> bytes:
        """:meth:`read_bytes` in the calling thread (blocking: never on the Trio thread)."""
        fd = self.open(path)
        try:
            size = os.fstat(fd).st_size
            if size > self.max_size:
                raise FileTooLarge(path, self.max_size)
            chunks: list[bytes] = []
            total = 0
            while chunk := os.read(fd, min(max(size - total, 0) + 65536, 1 << 24)):
                total += len(chunk)
                if total > self.max_size:
                    raise FileTooLarge(path, self.max_size)
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise _relabel(exc, path) from None
        finally:
            os.close(fd)

    def open(self, path: str) -> int:
        """Open the regular file at ``path`` read-only; return a descriptor the caller owns.

        The descriptor is opened with ``O_NONBLOCK | O_CLOEXEC`` and checked to
        be a regular file before it is returned. The open may block on a slow
        filesystem: call it from a worker thread, as :meth:`read_bytes` does.

        Raises:
            OutsideRoot: ``path`` leaves the root.
            NotARegularFile: ``path`` is not a regular file.
            PathRefused: other refusals (a NUL byte, a name too long, a loop).
            FileNotFoundError: nothing there.
            OSError: any other failure, its ``filename`` set to ``path``.
        """
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, not {type(path).__name__}")
        if "\x00" in path:
            raise PathRefused(path, "the path contains a NUL byte")
        if len(path.encode("utf-8", "surrogateescape")) >= _MAX_PATH:
            raise PathRefused(path, "the path is too long")
        if path.startswith("/"):
            raise OutsideRoot(path, "an absolute path")
        if not path:
            raise NotARegularFile(path, "not a regular file (the root directory)")
        try:
            root_fd = os.open(self._real, _DIR_FLAGS)
        except OSError as exc:
            raise _relabel(exc, ".") from None
        try:
            fd = self._open_beneath(root_fd, path)
        except PathRefused:
            raise
        except OSError as exc:
            raise _relabel(exc, path) from None
        finally:
            os.close(root_fd)
        try:
            mode = os.fstat(fd).st_mode
        except OSError as exc:
            os.close(fd)
            raise _relabel(exc, path) from None
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise NotARegularFile(path, f"not a regular file ({_kind(mode)})")
        return fd

    # ------------------------------------------------------------ resolution

    def _open_beneath(self, root_fd: int, path: str) -> int:
        if self._openat2 is not None and self._openat2.works():
            fd = self._openat2.open_beneath(root_fd, path)
            if fd is not None:
                return fd
        return self._walk(root_fd, path)

    def _walk(self, root_fd: int, path: str) -> int:
        """Resolve ``path`` from ``root_fd`` one component at a time, never passing the root."""
        parts = deque(path.split("/"))
        stack: list[int] = []  # descriptors of the directories below the root, in order
        links = 0
        try:
            while parts:
                name = parts.popleft()
                if name in ("", "."):
                    continue
                if name == "..":
                    if not stack:
                        raise OutsideRoot(path, "'..' leaves the root")
                    os.close(stack.pop())
                    continue
                here = stack[-1] if stack else root_fd
                last = all(p in ("", ".") for p in parts)
                try:
                    if last:
                        return os.open(name, _FILE_FLAGS | os.O_NOFOLLOW, dir_fd=here)
                    stack.append(os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=here))
                    continue
                except OSError as exc:
                    target = _symlink_target(exc, name, here)
                links += 1
                if links > _MAX_SYMLINKS:
                    raise PathRefused(path, "too many levels of symbolic links")
                if target.startswith("/"):
                    inside = self._beneath_root(target)
                    if inside is None:
                        raise OutsideRoot(path, "a symlink points out of the root")
                    while stack:
                        os.close(stack.pop())
                    target = inside
                parts.extendleft(reversed(target.split("/")))
            raise NotARegularFile(path, "not a regular file (directory)")
        finally:
            for fd in stack:
                os.close(fd)

    def _beneath_root(self, target: str) -> str | None:
        """``target`` (absolute) relative to the root's real path, if it lies beneath it."""
        root = self._real.rstrip("/")
        if target == root or target == root + "/":
            return ""
        if root == "" or target.startswith(root + "/"):
            return target[len(root) + 1 :]
        return None


def _symlink_target(exc: OSError, name: str, dir_fd: int) -> str:
    """The target of symlink ``name`` that made ``exc``; re-raise ``exc`` if it is none."""
    if exc.errno in _LINK_ERRNOS:
        try:
            return os.readlink(name, dir_fd=dir_fd)
        except OSError:
            pass
    raise exc


def _relabel(exc: OSError, path: str) -> OSError:
    """``exc`` with the caller's relative path as its filename (no server path leaks)."""
    if isinstance(exc, (PathRefused, FileTooLarge)):
        return exc
    if exc.errno == errno.ENAMETOOLONG:
        return PathRefused(path, "a name in the path is too long")
    if exc.errno == errno.ELOOP:
        return PathRefused(path, "too many levels of symbolic links")
    if exc.errno == errno.ENOTDIR:
        return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return type(exc)(exc.errno, exc.strerror, path)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


# ---------------------------------------------------------------- openat2


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_RESOLVE_NO_MAGICLINKS: Final = 0x02
_RESOLVE_BENEATH: Final = 0x08
_SYS_OPENAT2: Final = {"x86_64": 437, "amd64": 437, "aarch64": 437, "arm64": 437}
#: openat2 answers these when it refuses a step the walk may still accept
#: (an absolute symlink under the root) or cannot decide (EAGAIN: a concurrent rename).
_ASK_THE_WALK: Final = frozenset({errno.EXDEV, errno.ELOOP, errno.EAGAIN})


class _Openat2:
    """``openat2(2)`` through ``syscall(3)``; :meth:`works` is learned on first use."""

    def __init__(self) -> None:
        self._works: bool | None = None
        self._syscall: Callable[..., int] | None = None
        number = _SYS_OPENAT2.get(platform.machine().lower())
        if sys.platform.startswith("linux") and number is not None:
            try:
                self._syscall = ctypes.CDLL(None, use_errno=True).syscall
            except (OSError, AttributeError):  # pragma: no cover - no libc syscall()
                self._syscall = None
        self._number = number or 0
        if self._syscall is None:
            self._works = False

    def works(self) -> bool:
        if self._works is None:
            try:
                fd = self._call(os.open("/", _DIR_FLAGS), ".", _DIR_FLAGS, close_dir=True)
            except OSError:
                self._works = False
            else:
                os.close(fd)
                self._works = True
        return self._works

    def open_beneath(self, dir_fd: int, path: str) -> int | None:
        """The descriptor, or ``None`` when the walk must decide."""
        for _ in range(3):
            try:
                return self._call(dir_fd, path, _FILE_FLAGS)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    continue
                if exc.errno in _ASK_THE_WALK:
                    return None
                raise
        return None

    def _call(self, dir_fd: int, path: str, flags: int, *, close_dir: bool = False) -> int:
        assert self._syscall is not None
        how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
        try:
            fd = self._syscall(
                ctypes.c_long(self._number),
                ctypes.c_int(dir_fd),
                ctypes.c_char_p(os.fsencode(path)),
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        finally:
            if close_dir:
                os.close(dir_fd)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
        return int(fd)


_openat2: Final = _Openat2()
