"""The proxy's provider: every request about a component forwarded to one upstream server.

:class:`Upstream` is a :class:`~trio_mcp._app._registry.Provider` over a
:class:`~trio_mcp.Client`, which runs in the proxy server's services while it
serves (a command line is a child process supervised there: stdin closed, its
grace, terminated, killed; it never outlives the proxy). Each side keeps its
own era: the downstream client's request is answered in its era by the
proxy's session, the upstream request is made in the upstream's.

Per forwarded request:

* ``params._meta``: what :func:`~._meta.forward_meta` keeps (trace context,
  the application's keys) goes upstream, the per-hop keys do not; the same
  holds for the ``_meta`` of the result coming back;
* progress: the call gets a progress token of the proxy's when the client
  asked for progress, and the upstream's ``notifications/progress`` reach the
  client under its own token;
* cancellation: the client's cancel (or deadline) cancels the forwarding
  task, whose upstream request is then cancelled (``notifications/cancelled``,
  or closing the modern HTTP stream);
* input: a modern upstream's ``input_required`` round passes through to a
  modern client as it is (its ``requestState`` is the upstream's), and is
  answered by asking a legacy client real requests; a legacy upstream's
  ``sampling/createMessage``, ``elicitation/create`` and ``roots/list`` are sent
  to the client of the call they belong to (below) and the answer goes back.

Which call a legacy upstream's request belongs to: the wire does not say
(stdio carries no relation between a server's request and the client's). The
rule: the call whose forwarding task is asking (a modern upstream), else the
oldest call in flight (not already waiting for an answer: a call asks one
thing at a time) whose client declared the capability; with none in flight, the one legacy client connected (``roots/list`` after ``initialize``).
With calls of different bearer subjects (users) in flight it is refused to
the upstream (``-32021``): one user's question must not reach another's client.
A modern client cannot be asked in the middle of a request: its call to a
legacy upstream is *held* (:mod:`._held`) and the upstream's requests reach it
as ``input_required`` rounds.

Upstream notifications: ``list_changed`` and ``resources/updated`` go to the
proxy's clients through its hub; log records to the client of the call they
belong to (by the rule above), else to every legacy client whose level lets
them through; dropped (a debug log) when they could be another user's: calls
of different subjects in flight, or legacy clients of different subjects.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._app._context import Context
from .._app._tracing import inject_meta
from .._client import Client, ClientError
from .._client._handlers import Handlers
from .._errors import CAPABILITY_NOT_SUPPORTED, InternalError, McpError, MethodNotFound
from .._protocol import log_enabled
from ._held import HeldCall, Holds
from ._meta import forward_meta

if TYPE_CHECKING:
    from .._app._core import ServerCore
    from .._app._registry import Kind
    from .._app._tools import Tool
    from .._protocol import IncomingRequest
    from .._runtime import Peer

__all__ = ["Upstream"]

log = logging.getLogger("trio_mcp")

#: The downstream request a forwarding task serves (read by the upstream client's handlers).
_serving: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "trio_mcp_proxy_request", default=None
)

_NEEDS = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation"}
_NEEDS["roots/list"] = "roots"
_LISTS = {
    "tools/list": ("tools", "tools"),
    "resources/list": ("resources", "resources"),
    "resources/templates/list": ("resources", "resourceTemplates"),
    "prompts/list": ("prompts", "prompts"),
}
_CHANGED = {f"notifications/{k}/list_changed": k for k in ("tools", "resources", "prompts")}
_DROPPED_RESULT_KEYS = ("ttlMs", "cacheScope")


@attrs.define(eq=False)
class _Forwarding(Handlers):
    """The upstream client's answers to its server: asked of the proxy's own client."""

    upstream: Upstream | None = None

    def capabilities(self) -> dict[str, Any]:
        ctx = _serving.get()
        if ctx is None:  # initialize (legacy upstream): whatever some client may answer
            return {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {"form": {}}}
        caps = ctx.client_capabilities  # modern upstream: what this request's client declared
        return {k: caps[k] for k in ("roots", "sampling", "elicitation") if k in caps}

    async def answer(self, method: str, params: Any) -> dict[str, Any]:
        assert self.upstream is not None
        return await self.upstream.answer(method, params if isinstance(params, dict) else {})


@attrs.define(eq=False)
class Upstream:
    """Forwards to the server ``make_client()`` connects to (see the module docstring).

    Attributes:
        core: The proxy server's core.
        make_client: A fresh, unopened :class:`~trio_mcp.Client` (one per run).
        adopt_name: Take the upstream's name, version and instructions when connected.
    """

    core: ServerCore
    make_client: Callable[[], Client]
    adopt_name: bool = True
    hold_wait: float = 120.0
    hold_limit: int = 64
    client: Client | None = attrs.field(default=None, init=False)
    holds: Holds = attrs.field(init=False)
    _calls: dict[int, Context | HeldCall] = attrs.field(factory=dict, init=False)
    _waiting: list[Context | HeldCall] = attrs.field(factory=list, init=False)  # asking now
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _stop: trio.Event | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.holds = Holds(self.core, self.hold_wait, self.hold_limit)

    # ------------------------------------------------------------ life

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect (raising what connecting raised), serve until :meth:`stop`, then disconnect."""
        self._stop = stop = trio.Event()
        client = self.make_client()
        client.handlers = _Forwarding(upstream=self)
        client.on_notification = self._notified
        async with client:
            self.client = client
            self._adopt(client)
            task_status.started()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch, client)
                    if client.era == "modern":  # its changes come on a listen stream
                        nursery.start_soon(self._listen, client)
                    await stop.wait()
                    nursery.cancel_scope.cancel()
            finally:
                self.client = None

    def stop(self) -> None:
        self.holds.cancel_all()
        if self._stop is not None:
            self._stop.set()

    async def _watch(self, client: Client) -> None:
        await client.session.closed.wait()
        log.error("trio_mcp: proxy: the upstream connection ended: %s", client.session.failure)

    async def _listen(self, client: Client) -> None:
        """A modern upstream's list changes, on one ``subscriptions/listen`` for the proxy."""
        wanted = {
            f"{kind}ListChanged": True
            for kind in ("tools", "resources", "prompts")
            if client.server_capabilities.get(kind, {}).get("listChanged")
        }
        if not wanted:
            return
        try:
            await client.request("subscriptions/listen", {"notifications": wanted}, timeout=None)
        except (McpError, ClientError) as exc:
            log.warning("trio_mcp: proxy: the upstream's list changes are not followed: %s", exc)

    def _adopt(self, client: Client) -> None:
        """The proxy announces what the upstream offers (and, unnamed, its name)."""
        info = self.core.info
        theirs = client.server_capabilities
        caps = {k: v for k, v in info.capabilities.items() if k in theirs or k == "logging"}
        if "resources" in caps:
            caps["resources"] = {
                "listChanged": True,
                "subscribe": bool(theirs["resources"].get("subscribe")),
            }
        info.capabilities = caps
        if self.adopt_name and client.server_info is not None:
            info.name = client.server_info.name or info.name
            info.version = client.server_info.version or info.version
        if info.instructions is None:
            info.instructions = client.instructions

    def _ready(self) -> Client:
        client = self.client
        if client is None or client.session.failure is not None:
            why = "not connected" if client is None else str(client.session.failure)
            raise InternalError(
                message=f"Internal error: the upstream server is unavailable ({why})"
            )
        return client

    # -------------------------------------------------------- provider

    def knows(self, kind: Kind, key: str) -> bool:
        return True  # the upstream decides (and answers "unknown" itself)

    def tool(self, name: str) -> Tool | None:
        return None  # the proxy's own deadline; the upstream's tools are not Tool objects

    @property
    def tasks_supported(self) -> bool:
        return False

    async def items(self, req: IncomingRequest, peer: Peer, ctx: Any) -> list[dict[str, Any]]:
        client = self._ready()
        capability, key = _LISTS[req.method]
        if capability not in client.server_capabilities:
            return []
        meta = inject_meta(forward_meta(req.params.get("_meta")))  # our span, when tracing
        out: list[dict[str, Any]] = []
        cursor: Any = None
        seen: set[str] = set()
        while True:
            params = {"cursor": cursor} if cursor else {}
            result = await self._request(client, req.method, params, meta)
            out.extend(dict(item) for item in result.get(key) or () if isinstance(item, dict))
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                break
            seen.add(cursor)
        if key == "tools":  # the HTTP client needs the schemas for Mcp-Param-* headers
            for tool in out:
                if isinstance(tool.get("name"), str) and isinstance(tool.get("inputSchema"), dict):
                    client._tool_schemas[tool["name"]] = tool["inputSchema"]
        return out

    async def forward(self, req: IncomingRequest, peer: Peer, ctx: Any) -> dict[str, Any]:
        client = self._ready()
        if req.method in ("resources/subscribe", "resources/unsubscribe") and not (
            client.era == "legacy"
            and client.server_capabilities.get("resources", {}).get("subscribe")
        ):
            return {}  # an upstream that cannot be subscribed to (or only by listening)
        own = ctx is None
        if own:
            ctx = Context(req, peer, self.core)
        params = dict(req.params)
        meta = inject_meta(forward_meta(params.pop("_meta", None)))  # our span, when tracing
        params.pop("task", None)  # a task here would be the upstream's, unknown to our store
        if client.era == "legacy" and self.holds.wanted(req):  # a modern client, asked in rounds
            try:
                result = await self.holds.serve(
                    req, ctx, lambda held: self._held_call(client, req, params, meta, held)
                )
            finally:
                if own:
                    ctx._finish()
            return _result(result)
        token: str | None = None
        if req.progress_token is not None:
            token = f"proxy-{next(self._ids)}"
            meta["progressToken"] = token
            client._progress[token] = ctx.report_progress
        key = next(self._ids)
        self._calls[key] = ctx
        serving = _serving.set(ctx)
        try:
            if (
                req.method == "tools/call"
                and client.transport.kind == "http"
                and params.get("name") not in client._tool_schemas
            ):
                await client.list_tools()  # the schema gives its Mcp-Param-* headers
            if client.era == "legacy":
                params.pop("inputResponses", None)
                params.pop("requestState", None)
                result = await self._request(client, req.method, params, meta)
            elif req.features.input_required:  # modern on both sides: rounds pass through
                result = await self._request(client, req.method, params, meta)
            else:  # a legacy client answers the rounds of a modern upstream here
                result = await self._request(client, req.method, params, meta, rounds=True)
        finally:
            _serving.reset(serving)
            del self._calls[key]
            if token is not None:
                client._progress.pop(token, None)
            if own:
                ctx._finish()
        return _result(result)

    async def _held_call(
        self,
        client: Client,
        req: IncomingRequest,
        params: dict[str, Any],
        meta: dict[str, Any],
        held: HeldCall,
    ) -> dict[str, Any]:
        """The upstream request of a held call (in the services nursery)."""
        params = {k: v for k, v in params.items() if k not in ("inputResponses", "requestState")}
        token: str | None = None
        if req.progress_token is not None:  # to the client of whichever round is being served

            async def progress(done: float, total: float | None, message: str | None) -> None:
                if held.round is not None:
                    await held.round.report_progress(done, total, message)

            token = f"proxy-{next(self._ids)}"
            meta = dict(meta, progressToken=token)
            client._progress[token] = progress
        key = next(self._ids)
        self._calls[key] = held
        try:
            return await self._request(client, req.method, params, meta)
        finally:
            del self._calls[key]
            if token is not None:
                client._progress.pop(token, None)

    async def _request(
        self,
        client: Client,
        method: str,
        params: dict[str, Any],
        meta: dict[str, Any],
        *,
        rounds: bool = False,
    ) -> dict[str, Any]:
        try:
            if rounds:
                return await client.request_with_input(method, params, meta=meta, timeout=None)
            return await client.request(method, params, meta=meta, timeout=None)
        except ClientError as exc:
            raise InternalError(message=f"Internal error: the upstream server: {exc}") from None

    # ----------------------------------------------- from the upstream

    def _mixed(self) -> bool:
        """Whether calls of more than one bearer subject are in flight (nobody to route to)."""
        return len({_subject(call) for call in self._calls.values()}) > 1

    def _belongs_to(self, capability: str | None) -> Context | HeldCall | None:
        ctx = _serving.get()
        if ctx is not None:
            return ctx
        waiting = self._waiting  # a call asks one thing at a time: those not asking first
        calls = [c for c in self._calls.values() if not any(c is w for w in waiting)]
        calls += [c for c in self._calls.values() if any(c is w for w in waiting)]
        for call in calls:
            if capability is None or isinstance(call.client_capabilities.get(capability), dict):
                return call
        return calls[0] if calls else None

    async def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The upstream asks for input: the right client of the proxy answers."""
        if method == "ping":
            return {}
        capability = _NEEDS.get(method)
        if capability is None:
            raise MethodNotFound(f"Method not found: {method}")
        if _serving.get() is None and self._mixed():  # another user's client must not be asked
            why = f"calls of different users are in flight: whose {method} it is is not known"
            log.warning("trio_mcp: proxy: an upstream request refused: %s", why)
            raise McpError(CAPABILITY_NOT_SUPPORTED, f"the proxy cannot route it ({why})")
        ctx = self._belongs_to(capability)
        if ctx is None:
            peers = [p for p in self.core.hub.peers if p.session.legacy_version is not None]
            if len(peers) == 1 and capability in peers[0].session.legacy_capabilities:
                return await peers[0].request(method, params)
            raise MethodNotFound(f"Method not found: no client of the proxy to ask {method} of")
        if not isinstance(ctx.client_capabilities.get(capability), dict):
            raise McpError(
                CAPABILITY_NOT_SUPPORTED, f"the proxy's client did not declare {capability!r}"
            )
        if not isinstance(ctx, HeldCall) and not ctx.request.features.server_requests:
            raise McpError(
                CAPABILITY_NOT_SUPPORTED,
                f"the proxy's client speaks the modern era: {method} cannot be asked of it "
                "in the middle of a request (the proxy holds as many of its calls as it may)",
            )
        self._waiting.append(ctx)
        try:
            if isinstance(ctx, HeldCall):  # a modern client: asked in its call's next round
                return await ctx.ask(method, params)
            return await ctx._conn.request(method, params, related=ctx.request.id)
        finally:
            self._waiting.remove(ctx)

    async def _notified(self, message: dict[str, Any]) -> None:
        method = message["method"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        kind = _CHANGED.get(method)
        if kind is not None:
            self.core.list_changed(kind)  # type: ignore[arg-type]  # one of ListKind
        elif method == "notifications/resources/updated" and isinstance(params.get("uri"), str):
            self.core.resource_updated(params["uri"])
        elif method == "notifications/message":
            self._log(params)
        else:
            log.debug("trio_mcp: proxy: upstream notification %s not forwarded", method)

    def _log(self, params: dict[str, Any]) -> None:
        level = str(params.get("level", "info"))
        logger = params.get("logger") if isinstance(params.get("logger"), str) else None
        if _serving.get() is None and self._mixed():
            log.debug("trio_mcp: proxy: an upstream log record dropped: whose it is is ambiguous")
            return
        ctx = self._belongs_to(None)
        if isinstance(ctx, HeldCall):
            ctx = ctx.round  # between rounds, nobody to tell
            if ctx is None:
                return
        if ctx is not None:
            ctx.log_nowait(level, params.get("data"), logger=logger)
            return
        peers = [p for p in self.core.hub.peers if p.session.legacy_version is not None]
        if len({peer.subject for peer in peers}) > 1:  # one user's records are not another's
            log.debug("trio_mcp: proxy: an upstream log record dropped: clients of several users")
            return
        for peer in peers:
            if log_enabled(peer.session.legacy_log_level, level):
                peer.notify_nowait("notifications/message", params)


def _subject(call: Context | HeldCall) -> str | None:
    """The bearer subject of a call's client (``None`` without a token)."""
    if isinstance(call, HeldCall):
        return call.subject
    token = call.access_token
    return token.subject if token is not None else None


def _result(result: dict[str, Any]) -> dict[str, Any]:
    """An upstream result made the proxy's: its per-hop ``_meta`` and era envelope dropped."""
    out = {k: v for k, v in result.items() if k not in _DROPPED_RESULT_KEYS}
    if out.get("resultType") == "complete":
        del out["resultType"]
    if "_meta" in out:
        meta = forward_meta(out.pop("_meta"))
        if meta:
            out["_meta"] = meta
    return out
