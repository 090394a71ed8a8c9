"""What every handler kind (tool, prompt, resource) does with the user's function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = ["docstring", "error_text", "run_function"]


def docstring(fn: Callable[..., Any]) -> str | None:
    """The function's cleaned docstring, used as a description; ``None`` without one."""
    doc = inspect.getdoc(fn)
    return doc.strip() if doc else None


def run_function(
    fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
) -> Awaitable[Any]:
    """Call ``fn(**kwargs)``; await the result.

    An ``async def`` is called directly (no frame of ours stays on the stack);
    a plain ``def`` runs in a worker thread named after ``name``, with
    ``abandon_on_cancel=True``: when the request is cancelled or times out, the
    caller stops waiting for the thread at once.
    """
    if is_async:
        result: Awaitable[Any] = fn(**kwargs)
        return result
    return trio.to_thread.run_sync(
        functools.partial(fn, **kwargs), abandon_on_cancel=True, thread_name=f"trio_mcp {name}"
    )


def error_text(exc: Exception) -> str:
    """What a client may read of ``exc`` raised by a user's function (a tool's ``isError``).

    The exception's own text, which its author chose, except the file names of
    an ``OSError`` (``[Errno 2] No such file or directory: '/srv/data/x'``):
    those are server-side paths, so only the error number and its description
    are kept.
    """
    if isinstance(exc, OSError) and (exc.filename is not None or exc.filename2 is not None):
        return f"[Errno {exc.errno}] {exc.strerror}"
    return str(exc)
