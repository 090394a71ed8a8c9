"""A legacy upstream's questions, asked of a modern client in ``input_required`` rounds.

A legacy upstream asks for input with real requests (``sampling/createMessage``,
``elicitation/create``, ``roots/list``) in the middle of a call; a modern client
(2026-07-28) can only be asked by ending its request with ``input_required``
and answers by retrying it. The upstream call must therefore outlive the
client's request: it is *held*.

A :class:`HeldCall` runs the upstream request in the proxy server's services
nursery (so it never outlives the server: leaving ``Server.running()`` cancels
it). The downstream request that started it, and each retry, is one *round*:
it hands the client's answers to the upstream's waiting requests, then waits
until the upstream asks again (the round ends ``input_required`` with every
question still unanswered, and a ``requestState`` naming the held call) or the
call ends (the round ends with its result or error).

The ``requestState`` is the proxy server's own (:class:`~.._app._mrtr.RequestState`):
signed, bound to the method, the target, the arguments and the bearer subject,
expiring; it carries the held call's random id, nothing else. Bounds:

* in time: between rounds the call waits ``wait`` seconds for the client to come
  back, then it is cancelled (the upstream gets ``notifications/cancelled``); in
  all, a call lives no longer than a state does (``STATE_TTL``);
* in count: at most ``limit`` calls are held at once; a call beyond that runs
  in its request as before, and a question of the upstream during it is refused;
* on cancel: a round cancelled (the client's ``notifications/cancelled``, a
  closed HTTP stream, the proxy's deadline) cancels the held call with it.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._app._mrtr import STATE_TTL, binding
from .._errors import InternalError, InvalidParams, McpError

if TYPE_CHECKING:
    from .._app._context import Context
    from .._app._core import ServerCore
    from .._protocol import IncomingRequest

__all__ = ["HeldCall", "Holds"]

log = logging.getLogger("trio_mcp")

#: Requests that may end ``input_required`` (and so may hold an upstream call), by what
#: their ``requestState`` binds: the target's key in ``params`` and the arguments' key.
METHODS = {
    "tools/call": ("name", "arguments"),
    "prompts/get": ("name", "arguments"),
    "resources/read": ("uri", None),
}
_ASKS = ("sampling", "elicitation", "roots")
_KEYS = {"sampling/createMessage": "sample", "elicitation/create": "elicit", "roots/list": "roots"}


@attrs.define(eq=False)
class _Question:
    """One request of the upstream, waiting for the client's answer."""

    method: str
    params: dict[str, Any]
    answered: trio.Event = attrs.field(factory=trio.Event)
    answer: dict[str, Any] | None = None
    error: McpError | None = None


@attrs.define(eq=False)
class HeldCall:
    """One upstream call kept across a modern client's rounds (see the module docstring).

    Attributes:
        client_capabilities: What the client of the first round declared (the proxy's
            rule for which call an upstream request belongs to reads it).
        subject: The bearer subject of the call's client (``None`` without a token).
        round: The downstream request being served now, ``None`` between rounds.
    """

    client_capabilities: dict[str, Any]
    wait: float
    subject: str | None = None
    id: str = attrs.field(factory=lambda: secrets.token_urlsafe(16))
    round: Context | None = attrs.field(default=None, init=False)
    ended: bool = attrs.field(default=False, init=False)
    outcome: dict[str, Any] | McpError | None = attrs.field(default=None, init=False)
    _asking: dict[str, _Question] = attrs.field(factory=dict, init=False)
    _life: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    _idle: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False)
    _keys: itertools.count[int] = attrs.field(factory=itertools.count, init=False)

    async def run(
        self,
        call: Callable[[], Awaitable[dict[str, Any]]],
        on_end: Callable[[HeldCall], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Make the upstream ``call`` (in the services nursery); keep its outcome for a round."""
        self._life.deadline = trio.current_time() + STATE_TTL
        task_status.started()
        try:
            with self._life, self._idle:
                try:
                    self.outcome = await call()
                except McpError as exc:
                    self.outcome = exc
                except Exception:  # a bug ends this call only, not the services nursery
                    log.exception("trio_mcp: proxy: a held upstream call raised")
                    self.outcome = InternalError(message="Internal error")
        finally:
            self.ended = True
            if self.outcome is None:
                self.outcome = InternalError(message="Internal error: the call was cancelled")
            for question in self._asking.values():
                question.error = InternalError(message="Internal error: the call has ended")
                question.answered.set()
            self._asking.clear()
            self._changed.set()
            on_end(self)

    def cancel(self) -> None:
        """End the call now (the upstream request is cancelled)."""
        self._life.cancel()

    async def ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The upstream's request ``method``: answered by the client's next round."""
        if self.ended:
            raise InternalError(message="Internal error: the call has ended")
        key = f"{_KEYS.get(method, 'input')}-{next(self._keys)}"
        self._asking[key] = question = _Question(method, params)
        self._changed.set()
        try:
            await question.answered.wait()
        finally:
            self._asking.pop(key, None)
        if question.error is not None:
            raise question.error
        assert question.answer is not None
        return question.answer

    async def serve_round(self, ctx: Context, responses: dict[str, Any]) -> bool:
        """Hand ``responses`` to the upstream's questions; wait for the next one or the end.

        Returns:
            True when the call has ended (:attr:`outcome`), False when it asks
            (:meth:`input_requests`). A round cancelled cancels the call.

        Raises:
            InvalidParams: another round of this call is being served.
        """
        if self.round is not None:
            raise InvalidParams("Invalid params: this requestState is already being answered")
        for key, answer in responses.items():
            question = self._asking.get(key)
            if question is not None and isinstance(answer, dict):
                del self._asking[key]
                question.answer = answer
                question.answered.set()
        self.round = ctx
        self._idle.deadline = math.inf
        waited = False
        try:
            while not self.ended and not self._asking:
                self._changed = trio.Event()
                await self._changed.wait()
            waited = True
        finally:
            self.round = None
            if not waited:
                self.cancel()  # the client cancelled or left: so does the call
        if not self.ended:
            self._idle.deadline = trio.current_time() + self.wait  # then it is abandoned
        return self.ended

    def input_requests(self) -> dict[str, dict[str, Any]]:
        """Every question of the upstream not answered yet, by key."""
        return {k: {"method": q.method, "params": q.params} for k, q in self._asking.items()}


@attrs.define(eq=False)
class Holds:
    """The calls a proxy holds for its modern clients.

    Attributes:
        core: The proxy server's core (its services nursery, its state signer).
        wait: Seconds a held call waits for the client's next round.
        limit: Calls held at once, at most.
    """

    core: ServerCore
    wait: float
    limit: int
    calls: dict[str, HeldCall] = attrs.field(factory=dict, init=False)

    def wanted(self, req: IncomingRequest) -> bool:
        """Whether ``req`` (of a modern client, to a legacy upstream) is served in rounds."""
        if not req.features.input_required or req.method not in METHODS:
            return False
        if "requestState" in req.params:
            return True
        caps = req.client_capabilities
        asks = any(isinstance(caps.get(k), dict) for k in _ASKS)
        return asks and len(self.calls) < self.limit  # beyond: in its request, as before

    async def serve(
        self,
        req: IncomingRequest,
        ctx: Context,
        call: Callable[[HeldCall], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """One round of ``req``: a new held call (``call(held)`` makes it), or a retry.

        Returns:
            The call's result, or an ``input_required`` result.

        Raises:
            McpError: the call's error; ``InvalidParams`` for a state that is not
                valid or names a call that has ended.
        """
        name_key, args_key = METHODS[req.method]
        args = req.params.get(args_key) if args_key is not None else None
        token = ctx.access_token
        subject = token.subject if token is not None else None
        bind = binding(req.method, str(req.params.get(name_key)), args, subject)
        state = req.params.get("requestState")
        responses: Any = {}
        if state is None:
            held = HeldCall(dict(req.client_capabilities), self.wait, subject)
            services = self.core.running_services()
            await services.start(held.run, lambda: call(held), self._ended)
            self.calls[held.id] = held  # once started: its end removes it
        else:
            found = self.core.request_state.verify(state, bind).get("held")
            held_or_none = self.calls.get(found) if isinstance(found, str) else None
            if held_or_none is None:
                raise InvalidParams(
                    "Invalid params: the call this requestState continues has ended"
                )
            held = held_or_none
            responses = req.params.get("inputResponses", {})
            if type(responses) is not dict:
                raise InvalidParams('Invalid params: "inputResponses" must be an object')
        if await held.serve_round(ctx, responses):
            if isinstance(held.outcome, McpError):
                raise held.outcome
            assert held.outcome is not None
            return held.outcome
        return {
            "resultType": "input_required",
            "inputRequests": held.input_requests(),
            "requestState": self.core.request_state.sign(bind, {"held": held.id}),
        }

    def cancel_all(self) -> None:
        for held in list(self.calls.values()):
            held.cancel()

    def _ended(self, held: HeldCall) -> None:
        self.calls.pop(held.id, None)
