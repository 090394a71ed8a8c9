"""What every handler kind (tool, prompt, resource) does with the user's function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = ["docstring", "run_function"]


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
