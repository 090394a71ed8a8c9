"""Dependencies: ``Depends(fn)`` parameters, solved per request inside the request's scope.

A handler (tool, resource, prompt) declares a dependency by marking a
parameter, either way::

    async def get_db(ctx: Context) -> AsyncIterator[DB]:   # an async generator
        async with ctx.state.pool.acquire() as conn:
            yield conn

    @server.tool()
    async def count(table: str, db: Annotated[DB, Depends(get_db)]) -> int: ...
    # or: db: DB = Depends(get_db)

What ``fn`` may be, and what is injected:

* ``async def``: awaited; its result.
* an async generator function, or a function decorated with
  ``@asynccontextmanager``: entered before the handler runs, exited after it
  returns or raises (cancellation included); the value it yields.
* a generator function, or one decorated with ``@contextmanager``: the same,
  its enter and exit each run in a worker thread.
* a plain ``def``: run in a worker thread (like a plain ``def`` tool); its result.

A returned object is never entered (a shared client returned from the
lifespan state must not be closed per request): only generator-style
functions are context managers here. ``fn`` may take a :class:`Context` and
other dependencies (solved first); any other parameter needs a default.
Within one request a dependency is solved once and its value shared
(``use_cache=False`` for a fresh one each time it is named). Dependencies are
not arguments: they are never in the input schema.

Exits run in reverse order, after the handler, in the request's own task and
cancel scope, shielded from cancellation for at most :data:`CLEANUP_TIMEOUT`
seconds: when the request is cancelled (a client's cancel, its deadline,
shutdown) they still run to the end, so a connection is released even then.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import typing
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._context import Context
from ._functions import run_function

if TYPE_CHECKING:
    from ._tracing import Tracing

log = logging.getLogger("trio_mcp")

__all__ = ["CLEANUP_TIMEOUT", "Depends", "dependency_of", "with_dependencies"]

CLEANUP_TIMEOUT = 5.0
"""Seconds the exits of a request's dependencies get once it was cancelled."""

_ASYNC, _ASYNC_CM, _SYNC, _SYNC_CM = "async", "async-cm", "sync", "sync-cm"


@attrs.frozen(eq=False)
class Depends:
    """Mark a handler parameter as a dependency: its value is ``fn``'s, solved per request.

    Args:
        fn: What provides the value (see the module docstring for the kinds).
        use_cache: Share one value for every use of ``fn`` within a request
            (default); ``False``: call ``fn`` again for this parameter.
    """

    fn: Callable[..., Any]
    use_cache: bool = True


def dependency_of(annotation: Any, default: Any) -> Depends | None:
    """The :class:`Depends` marking a parameter (``Annotated`` metadata or default), if any."""
    if isinstance(default, Depends):
        return default
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in annotation.__metadata__:
            if isinstance(extra, Depends):
                return extra
    return None


@attrs.frozen(eq=False)
class _Plan:
    """How to call one dependency function: its kind, its Context and sub-dependencies.

    ``call`` is ``fn``, or for a bare generator function ``fn`` made a
    context manager (``asynccontextmanager(fn)`` / ``contextmanager(fn)``).
    """

    fn: Callable[..., Any]
    call: Callable[..., Any]
    kind: str
    context_param: str | None
    deps: dict[str, tuple[Depends, _Plan]]


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return isinstance(annotation, type) and issubclass(annotation, Context)


def _kind(fn: Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    if inspect.isasyncgenfunction(fn):
        return _ASYNC_CM, contextlib.asynccontextmanager(fn)
    if inspect.isgeneratorfunction(fn):
        return _SYNC_CM, contextlib.contextmanager(fn)
    wrapped = getattr(fn, "__wrapped__", None)  # @asynccontextmanager / @contextmanager
    if inspect.isasyncgenfunction(wrapped):
        return _ASYNC_CM, fn
    if inspect.isgeneratorfunction(wrapped):
        return _SYNC_CM, fn
    return (_ASYNC if inspect.iscoroutinefunction(fn) else _SYNC), fn


def _plan(fn: Callable[..., Any], seen: tuple[Callable[..., Any], ...] = ()) -> _Plan:
    if fn in seen:
        raise TypeError(f"dependency {_name(fn)!r} depends on itself")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError):
        hints = {}
    context_param: str | None = None
    deps: dict[str, tuple[Depends, _Plan]] = {}
    for p in inspect.signature(fn).parameters.values():
        ann = hints.get(p.name, Any)
        marker = dependency_of(ann, p.default)
        if marker is not None:
            deps[p.name] = (marker, _plan(marker.fn, (*seen, fn)))
        elif _is_context(ann):
            context_param = p.name
        elif p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(
                f"dependency {_name(fn)!r}: parameter {p.name!r} is neither a Context"
                " nor a Depends(...), and has no default"
            )
    kind, call = _kind(fn)
    return _Plan(fn, call, kind, context_param, deps)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


class _Exits(contextlib.AsyncExitStack):
    """An exit stack whose exits run shielded from cancellation, for a bounded time."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        with trio.CancelScope(shield=True, deadline=trio.current_time() + CLEANUP_TIMEOUT):
            return bool(await super().__aexit__(exc_type, exc, tb))
        log.warning("trio_mcp: dependency cleanup cut short after %gs", CLEANUP_TIMEOUT)
        return False  # the original exception (if any) goes on


async def _solve(plan: _Plan, marker: Depends, ctx: Any, stack: _Exits) -> Any:
    cache: dict[Any, Any] | None = ctx._dependency_cache
    if cache is None:
        cache = ctx._dependency_cache = {}
    if marker.use_cache and plan.fn in cache:
        return cache[plan.fn]
    tracing: Tracing | None = ctx._core.tracing
    if tracing is None:
        value = await _provide(plan, ctx, stack, None)
    else:
        with tracing.child(f"dependency {_name(plan.fn)}"):  # sub-dependencies nest inside
            value = await _provide(plan, ctx, stack, tracing)
    if marker.use_cache:
        cache[plan.fn] = value
    return value


async def _provide(plan: _Plan, ctx: Any, stack: _Exits, tracing: Tracing | None) -> Any:
    """The value of one dependency (its sub-dependencies solved first)."""
    kwargs: dict[str, Any] = {}
    if plan.context_param is not None:
        kwargs[plan.context_param] = ctx
    for name, (sub, sub_plan) in plan.deps.items():
        kwargs[name] = await _solve(sub_plan, sub, ctx, stack)
    if plan.kind == _ASYNC:
        return await plan.call(**kwargs)
    if plan.kind == _ASYNC_CM:
        manager = plan.call(**kwargs)
        if tracing is None:
            return await stack.enter_async_context(manager)
        value = await type(manager).__aenter__(manager)
        exit = functools.partial(type(manager).__aexit__, manager)
        stack.push_async_exit(_traced_exit(tracing, plan.fn, exit))
        return value
    if plan.kind == _SYNC_CM:
        return await _enter_in_thread(plan.call(**kwargs), stack, tracing, plan.fn)
    return await trio.to_thread.run_sync(
        functools.partial(plan.fn, **kwargs),
        thread_name=f"trio_mcp dependency {_name(plan.fn)}",
    )


_Exit = Callable[[type[BaseException] | None, BaseException | None, TracebackType | None], Any]


def _traced_exit(tracing: Tracing, fn: Callable[..., Any], exit: _Exit) -> _Exit:
    """``await exit(...)`` inside the span ``dependency {name} exit``."""

    async def leave(
        exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        with tracing.child(f"dependency {_name(fn)} exit"):
            return bool(await exit(exc_type, exc, tb))

    return leave


async def _enter_in_thread(
    manager: Any, stack: _Exits, tracing: Tracing | None, fn: Callable[..., Any]
) -> Any:
    value = await trio.to_thread.run_sync(manager.__enter__)

    async def leave(
        exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return bool(await trio.to_thread.run_sync(manager.__exit__, exc_type, exc, tb))

    stack.push_async_exit(leave if tracing is None else _traced_exit(tracing, fn, leave))
    return value


_CTX = "_trio_mcp_ctx"


def with_dependencies(
    fn: Callable[..., Any],
    deps: dict[str, Depends],
    context_param: str | None,
    *,
    is_async: bool,
    name: str,
) -> tuple[Callable[..., Any], str]:
    """Wrap ``fn`` so its dependencies are solved around each call.

    Returns the wrapper (an ``async def``) and the name of the keyword argument
    that carries the :class:`Context` into it (the function's own Context
    parameter if it has one, else a private name the wrapper removes).

    Raises:
        TypeError: a dependency cannot be planned (a parameter that is neither
            a Context nor a dependency and has no default; a cycle).
    """
    plans = {param: (marker, _plan(marker.fn)) for param, marker in deps.items()}
    ctx_name = context_param if context_param is not None else _CTX

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> Any:
        ctx = kwargs[ctx_name] if context_param is not None else kwargs.pop(_CTX)
        async with _Exits() as stack:
            for param, (marker, plan) in plans.items():
                kwargs[param] = await _solve(plan, marker, ctx, stack)
            return await run_function(fn, kwargs, is_async=is_async, name=name)

    return call, ctx_name
