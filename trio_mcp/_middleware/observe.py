"""Seeing requests: structured logging, timing, and error masking."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import trio

from .._app._context import Context
from .._app._middleware import CallNext, Middleware
from .._errors import INTERNAL_ERROR, InternalError, McpError

__all__ = ["ErrorMasking", "RequestLogging", "Timing", "TimingStats"]

log = logging.getLogger("trio_mcp")

_TARGET = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def target_of(ctx: Context) -> str | None:
    """The tool or prompt name, or resource URI, a request is about (``None`` for others)."""
    key = _TARGET.get(ctx.method)
    value = ctx.params.get(key) if key is not None else None
    return value if type(value) is str else None


class RequestLogging(Middleware):
    """One structured log record per request, when it ends.

    The record's message reads ``tools/call add id=3 ok 1.2ms``; its
    ``extra`` carries the same as a dict under ``mcp`` (for a JSON formatter):
    ``method``, ``id``, ``target`` (tool, prompt or URI), ``outcome``
    (``ok``, ``tool_error``, ``error``, ``cancelled``), ``code`` (the JSON-RPC
    error code), ``duration_ms``, ``subject`` (the bearer token's, if any),
    ``timings`` (what :class:`Timing` and others recorded) and, with
    ``include_params``, ``params``. Put it outermost to time everything inside.

    Args:
        logger: The logger (or its name) records go to.
        level: The level of a record for a request that succeeded.
        error_level: The level for one answered with an error.
        include_params: Add the request's params (they may hold user data).
    """

    def __init__(
        self,
        logger: logging.Logger | str = "trio_mcp.requests",
        *,
        level: int = logging.INFO,
        error_level: int = logging.WARNING,
        include_params: bool = False,
    ) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        self.level = level
        self.error_level = error_level
        self.include_params = include_params

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        start = trio.current_time()
        outcome: str = "error"
        code: int | None = INTERNAL_ERROR
        try:
            result = await call_next(ctx)
            outcome, code = ("tool_error" if result.get("isError") else "ok"), None
            return result
        except McpError as exc:
            code = exc.code
            raise
        except trio.Cancelled:
            outcome, code = "cancelled", None
            raise
        finally:
            self._emit(ctx, outcome, code, trio.current_time() - start)

    def _emit(self, ctx: Context, outcome: str, code: int | None, seconds: float) -> None:
        level = self.level if outcome in ("ok", "tool_error") else self.error_level
        if not self.logger.isEnabledFor(level):
            return
        token = ctx.access_token
        fields: dict[str, Any] = {
            "method": ctx.method,
            "id": ctx.request_id,
            "target": target_of(ctx),
            "outcome": outcome,
            "code": code,
            "duration_ms": round(seconds * 1000, 3),
            "subject": token.subject if token is not None else None,
            "timings": dict(ctx.timings),
        }
        if self.include_params:
            fields["params"] = ctx.params
        target = f" {fields['target']}" if fields["target"] else ""
        status = outcome if code is None else f"{outcome} {code}"
        self.logger.log(
            level,
            "%s%s id=%r %s %.1fms",
            ctx.method,
            target,
            ctx.request_id,
            status,
            seconds * 1000,
            extra={"mcp": fields},
        )


@attrs.define
class TimingStats:
    """What :class:`Timing` saw of one method: ``count`` requests, ``total`` and ``max`` seconds."""

    count: int = 0
    total: float = 0.0
    max: float = 0.0

    @property
    def mean(self) -> float:
        """Mean seconds per request (0 before the first)."""
        return self.total / self.count if self.count else 0.0


class Timing(Middleware):
    """Measure how long the rest of the chain takes: ``ctx.timings[name]``, and per-method stats.

    The clock is Trio's (``trio.current_time()``): monotonic, and virtual under
    ``trio.testing.MockClock``. A request that was cancelled is timed too.

    Args:
        name: The key in ``ctx.timings``.
    """

    def __init__(self, name: str = "total") -> None:
        self.name = name
        #: Method -> :class:`TimingStats`, since the middleware was made.
        self.stats: dict[str, TimingStats] = {}

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        start = trio.current_time()
        try:
            return await call_next(ctx)
        finally:
            seconds = trio.current_time() - start
            ctx.timings[self.name] = seconds
            stats = self.stats.get(ctx.method)
            if stats is None:
                stats = self.stats[ctx.method] = TimingStats()
            stats.count += 1
            stats.total += seconds
            stats.max = max(stats.max, seconds)


class ErrorMasking(Middleware):
    """Keep internal detail from clients: what they read is a fixed text, the log has the rest.

    * A tool that raised: its ``isError`` result says ``tool_message``
      (``{name}`` is the tool's name) instead of the exception's own text.
    * An ``McpError`` with code ``-32603`` (internal error) is answered with
      ``message`` and no ``data``.
    * Any other exception: ``message`` (the runtime already answers a generic
      ``-32603``; this makes the text yours).

    Every masked error is logged with its traceback (logger ``trio_mcp``, which
    ``server.run()`` sends to stderr). Other ``McpError`` codes are meant for
    the client and pass unchanged.
    """

    def __init__(
        self,
        message: str = "Internal error",
        *,
        tool_message: str = "Error executing tool {name}",
    ) -> None:
        self.message = message
        self.tool_message = tool_message

    async def on_request(self, ctx: Context, call_next: CallNext) -> dict[str, Any]:
        try:
            result = await call_next(ctx)
        except McpError as exc:
            if exc.code != INTERNAL_ERROR:
                raise
            log.error("trio_mcp: %s (id %r) failed: %s", ctx.method, ctx.request_id, exc.message)
            raise InternalError(message=self.message) from None
        except Exception:
            log.exception("trio_mcp: %s (id %r) failed", ctx.method, ctx.request_id)
            raise InternalError(message=self.message) from None
        if ctx.exception is not None and result.get("isError"):
            # The tool raised (its traceback is already in the log): say only that it failed.
            text = self.tool_message.format(name=target_of(ctx))
            return {"content": [{"type": "text", "text": text}], "isError": True}
        return result
