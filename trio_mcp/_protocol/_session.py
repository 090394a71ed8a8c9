"""The sans-IO server session: lines in, events and messages out.

One :class:`ServerSession` per connection (one stdio process, one socket, one
HTTP session). It never awaits and never does I/O; the runtime feeds it lines
and writes what it returns. Its rules, in one place:

Era selection (``basic/versioning`` of 2026-07-28), decided *per request*:

* a request whose ``params._meta`` names ``io.modelcontextprotocol/protocolVersion``
  is **modern**: served statelessly; the version must be a modern one
  (else ``-32022`` with ``data.supported``/``data.requested``) and
  ``clientCapabilities`` must be an object (else ``-32602``);
* ``initialize`` selects the **legacy** era for this connection;
* ``ping`` is answered in any state (legacy);
* any other request without modern ``_meta`` is legacy and needs a completed
  ``initialize``; before it, the answer is ``-32602`` naming both ways in.

:func:`era_of` is that rule for one message, for a transport that must route a
message before it has a session for it (Streamable HTTP).

Lifecycle of the legacy era, as a table::

    state            | initialize          | ping | other request     | batch (array)
    -----------------+---------------------+------+-------------------+----------------------
    NEW              | -> READY (answered) | ok   | -32602            | -32600
    READY            | -32600 (twice)      | ok   | handled           | only if 2025-03-26

Versions: every rule that differs between protocol versions is a read of the
feature table (``_features.py``): the row is chosen once per request (at
``initialize`` for a legacy session, from ``_meta`` for a modern request),
carried on :class:`IncomingRequest` as ``features``, and every outgoing message
(results, server requests, notifications, the handshake) is shaped for it by
``_shape.py``, in this class and nowhere else.

Exactly-once: every request id handed out as :class:`IncomingRequest` is
tracked until ``respond``/``respond_error``. A cancelled request's answer is
dropped (``None``). Answering an unknown or already-answered id is a
:class:`LocalProtocolError`: a bug in the caller, never a second answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import attrs

from .._errors import (
    RESOURCE_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    InvalidParams,
    InvalidRequest,
    LocalProtocolError,
    McpError,
    MethodNotFound,
    ProtocolError,
)
from .._wire import (
    Id,
    Notification,
    OversizedLine,
    Request,
    Response,
    classify,
    decode,
    error_response,
    notification,
    request,
    result_response,
)
from ._events import (
    CancelRequest,
    ClientResponse,
    Event,
    IncomingRequest,
    Notified,
    Outgoing,
    Send,
)
from ._features import FEATURES, Features
from ._info import ServerInfo
from ._levels import _LOG_RANK, sniff_id
from ._shape import (
    shape_input_requests,
    shape_notification,
    shape_request,
    shape_result,
)
from ._versions import (
    LEGACY_VERSIONS,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    MODERN_VERSIONS,
    Era,
    names_version,
)

__all__ = ["ServerSession"]

# Modern results that carry caching hints (server/utilities/caching).
_CACHEABLE = frozenset(
    {"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}
)


@attrs.define(slots=True, eq=False)
class _InFlight:
    method: str
    features: Features
    cancelled: bool = False
    batch: _Batch | None = None


@attrs.define(slots=True, eq=False)
class _Batch:
    pending: int = 0
    responses: list[dict[str, Any]] = attrs.field(factory=list)


@attrs.define(eq=False)
class ServerSession:
    """The protocol state of one connection. See the module docstring for the rules."""

    info: ServerInfo
    #: The negotiated legacy version, once ``initialize`` was answered.
    legacy_version: str | None = attrs.field(default=None, init=False)
    #: Its row of the feature table.
    legacy_features: Features | None = attrs.field(default=None, init=False)
    legacy_capabilities: dict[str, Any] = attrs.field(factory=dict, init=False)
    legacy_client_info: dict[str, Any] | None = attrs.field(default=None, init=False)
    #: Set by ``logging/setLevel`` (legacy); ``None`` means the client never asked.
    legacy_log_level: str | None = attrs.field(default=None, init=False)
    initialized_notified: bool = attrs.field(default=False, init=False)
    #: Resource URIs this legacy session subscribed to (``resources/subscribe``).
    subscriptions: set[str] = attrs.field(factory=set, init=False)
    _in_flight: dict[Id, _InFlight] = attrs.field(factory=dict, init=False)
    _outgoing: set[Id] = attrs.field(factory=set, init=False)
    _next_id: Callable[[], int] = attrs.field(
        factory=lambda: itertools.count(1).__next__, init=False
    )

    # ------------------------------------------------------------------ input

    @property
    def in_flight(self) -> int:
        """How many requests await an answer from the application."""
        return len(self._in_flight)

    def receive_line(self, line: bytes | OversizedLine) -> list[Event]:
        """Handle one framed line. Never raises for anything the peer sent."""
        if type(line) is OversizedLine:
            err = InvalidRequest(
                f"Invalid Request: message of {line.size} bytes exceeds the {line.limit}-byte limit",
                {"limit": line.limit},
            )
            return [Send(error_response(sniff_id(line.head), err.to_error()))]
        try:
            msg = decode(line)  # type: ignore[arg-type]
        except ProtocolError as exc:
            return [Send(error_response(None, exc.to_error()))]
        return self.receive_message(msg)

    def receive_message(self, msg: Any) -> list[Event]:
        """Handle one decoded JSON value (an object, or an array in 2025-03-26)."""
        if type(msg) is list:
            return self._receive_batch(msg)
        events: list[Event] = []
        self._receive_one(msg, events, None)
        return events

    def _receive_batch(self, items: list[Any]) -> list[Event]:
        if self.legacy_features is None or not self.legacy_features.batches:
            err = InvalidRequest(
                "Invalid Request: JSON-RPC batches are only accepted in protocol version 2025-03-26"
            )
            return [Send(error_response(None, err.to_error()))]
        if not items:
            err = InvalidRequest("Invalid Request: empty batch")
            return [Send(error_response(None, err.to_error()))]
        batch = _Batch()
        events: list[Event] = []
        for item in items:
            self._receive_one(item, events, batch)
        # Replies produced synchronously join the batch instead of going out alone.
        kept: list[Event] = []
        for ev in events:
            if type(ev) is Send and type(ev.message) is dict:
                batch.responses.append(ev.message)
            else:
                kept.append(ev)
        if batch.pending == 0 and batch.responses:
            kept.append(Send(batch.responses))
        return kept

    def _receive_one(self, msg: Any, events: list[Event], batch: _Batch | None) -> None:
        try:
            kind = classify(msg)
        except ProtocolError as exc:
            events.append(Send(error_response(exc.request_id, exc.to_error())))
            return
        if type(kind) is Request:
            try:
                self._receive_request(kind, events, batch)
            except ProtocolError as exc:
                events.append(Send(error_response(kind.id, exc.to_error())))
        elif type(kind) is Notification:
            self._receive_notification(kind, events)
        else:
            assert type(kind) is Response
            self._receive_response(kind, events)

    def _receive_request(self, req: Request, events: list[Event], batch: _Batch | None) -> None:
        if req.id in self._in_flight:
            raise InvalidRequest(f"Invalid Request: id {req.id!r} is already in flight")
        params = req.params
        meta = params.get("_meta")
        method = req.method
        if names_version(meta):
            events.append(self._modern_request(req, meta, batch))
            return
        if method == "initialize":
            if batch is not None:
                raise InvalidRequest("Invalid Request: initialize must not be part of a batch")
            events.append(Send(result_response(req.id, self._initialize(params))))
            return
        if method == "ping":
            events.append(Send(result_response(req.id, {})))
            return
        features = self.legacy_features
        if features is None:
            raise InvalidParams(
                "Invalid params: missing _meta['io.modelcontextprotocol/protocolVersion']"
                " (modern era), and no initialize was received (legacy era)",
                {"supported": list(MODERN_VERSIONS + LEGACY_VERSIONS)},
            )
        if method == "logging/setLevel":
            level = params.get("level")
            if type(level) is not str or level not in _LOG_RANK:
                raise InvalidParams(f"Invalid params: unknown log level {level!r}")
            self.legacy_log_level = level
            events.append(Send(result_response(req.id, {})))
            return
        if method not in self.info.methods or method in self.info.modern_only:
            raise MethodNotFound(f"Method not found: {method}")
        token = meta.get("progressToken") if type(meta) is dict else None
        self._track(req.id, method, features, batch)
        events.append(
            IncomingRequest(
                req.id,
                method,
                params,
                Era.LEGACY,
                features.version,
                self.legacy_capabilities,
                self.legacy_client_info,
                token,
                self.legacy_log_level,
                features,
            )
        )

    def _modern_request(self, req: Request, meta: dict[str, Any], batch: _Batch | None) -> Event:
        version = meta[META_PROTOCOL_VERSION]
        if version not in MODERN_VERSIONS:
            raise ProtocolError(
                "Unsupported protocol version",
                {"supported": list(MODERN_VERSIONS), "requested": version},
                code=UNSUPPORTED_PROTOCOL_VERSION,
            )
        caps = meta.get(META_CLIENT_CAPABILITIES)
        if type(caps) is not dict:
            raise InvalidParams(
                "Invalid params: _meta['io.modelcontextprotocol/clientCapabilities']"
                " must be an object"
            )
        info = meta.get(META_CLIENT_INFO)
        if info is not None and type(info) is not dict:
            raise InvalidParams(
                "Invalid params: _meta['io.modelcontextprotocol/clientInfo'] must be an object"
            )
        level = meta.get(META_LOG_LEVEL)
        if level is not None and (type(level) is not str or level not in _LOG_RANK):
            raise InvalidParams(f"Invalid params: unknown log level {level!r}")
        method = req.method
        if method == "server/discover":
            return Send(result_response(req.id, self._discover()))
        if method not in self.info.methods or method in self.info.legacy_only:
            raise MethodNotFound(f"Method not found: {method}")
        token = meta.get("progressToken")
        features = FEATURES[version]
        self._track(req.id, method, features, batch)
        return IncomingRequest(
            req.id, method, req.params, Era.MODERN, version, caps, info, token, level, features
        )

    def _track(self, id: Id, method: str, features: Features, batch: _Batch | None) -> None:
        self._in_flight[id] = _InFlight(method, features, False, batch)
        if batch is not None:
            batch.pending += 1

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.legacy_version is not None:
            raise InvalidRequest("Invalid Request: initialize was already received")
        requested = params.get("protocolVersion")
        if type(requested) is not str:
            raise InvalidParams('Invalid params: "protocolVersion" must be a string')
        caps = params.get("capabilities", {})
        if type(caps) is not dict:
            raise InvalidParams('Invalid params: "capabilities" must be an object')
        client_info = params.get("clientInfo")
        version = requested if requested in LEGACY_VERSIONS else LEGACY_VERSIONS[0]
        features = FEATURES[version]
        self.legacy_version = version
        self.legacy_features = features
        self.legacy_capabilities = caps
        self.legacy_client_info = client_info if type(client_info) is dict else None
        return self.info.initialize_result(features)

    def _discover(self) -> dict[str, Any]:
        return self.info.discover_result()

    def _receive_notification(self, note: Notification, events: list[Event]) -> None:
        method = note.method
        if method == "notifications/cancelled":
            rid = note.params.get("requestId")
            flight = self._in_flight.get(rid) if type(rid) in (int, str) else None  # type: ignore[arg-type]
            if flight is not None and not flight.cancelled and flight.method != "initialize":
                flight.cancelled = True
                reason = note.params.get("reason")
                events.append(CancelRequest(rid, reason if type(reason) is str else None))  # type: ignore[arg-type]
            return  # unknown or finished ids are ignored, as the spec says
        if method == "notifications/initialized":
            self.initialized_notified = True
            return
        events.append(Notified(method, note.params))

    def _receive_response(self, resp: Response, events: list[Event]) -> None:
        if resp.id is None or resp.id not in self._outgoing:
            return  # a response to nothing: ignored (there is no one to tell)
        self._outgoing.discard(resp.id)
        events.append(ClientResponse(resp.id, resp.result, resp.error))

    # ----------------------------------------------------------------- output

    def respond(self, id: Id, result: dict[str, Any]) -> Outgoing | None:
        """Answer request ``id``. Returns what to send, or ``None`` if nothing must be.

        ``None`` means the request was cancelled (nothing may be sent for it) or
        it is part of a batch that is not complete yet.

        Raises:
            LocalProtocolError: ``id`` is not awaiting an answer.
        """
        flight = self._pop(id)
        features = flight.features
        if features.shaped and flight.method in features.shaped:
            result = shape_result(features, flight.method, result)
        if features.era is Era.MODERN:
            result = self._modern_result(features, flight.method, result)
        return self._finish(flight, result_response(id, result))

    def respond_error(self, id: Id, error: McpError) -> Outgoing | None:
        """Answer request ``id`` with a JSON-RPC error. Same contract as :meth:`respond`."""
        flight = self._pop(id)
        err = error.to_error()
        if err["code"] == RESOURCE_NOT_FOUND:
            err["code"] = flight.features.resource_not_found  # -32602 in 2026-07-28
        return self._finish(flight, error_response(id, err))

    def is_cancelled(self, id: Id) -> bool:
        """True if the client cancelled request ``id`` (which is still in flight)."""
        flight = self._in_flight.get(id)
        return flight is not None and flight.cancelled

    def _pop(self, id: Id) -> _InFlight:
        try:
            return self._in_flight.pop(id)
        except KeyError:
            raise LocalProtocolError(f"request {id!r} is not awaiting an answer") from None

    def _finish(self, flight: _InFlight, message: dict[str, Any]) -> Outgoing | None:
        batch = flight.batch
        if batch is None:
            return None if flight.cancelled else message
        batch.pending -= 1
        if not flight.cancelled:
            batch.responses.append(message)
        if batch.pending == 0 and batch.responses:
            return batch.responses
        return None

    def _modern_result(
        self, features: Features, method: str, result: dict[str, Any]
    ) -> dict[str, Any]:
        if "resultType" not in result:
            result["resultType"] = "complete"
        if "inputRequests" in result:  # input_required, a task's tasks/get: shape elicitations
            result["inputRequests"] = shape_input_requests(features, result["inputRequests"])
        meta = result.get("_meta")
        if meta is None:
            result["_meta"] = {META_SERVER_INFO: self.info.implementation()}
        elif META_SERVER_INFO not in meta:
            meta[META_SERVER_INFO] = self.info.implementation()
        if method in _CACHEABLE and result["resultType"] == "complete":
            result.setdefault("ttlMs", self.info.ttl_ms)
            result.setdefault("cacheScope", self.info.cache_scope)
        return result

    def notification(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Build a server notification (progress, log, list_changed...).

        Shaped for the legacy session's version, if there is one (notifications
        are the same in every modern version so far).
        """
        features = self.legacy_features
        if features is not None and features.shaped and method in features.shaped:
            params = shape_notification(features, method, params)
        return notification(method, params)

    def send_request(
        self, method: str, params: dict[str, Any] | None = None
    ) -> tuple[Id, dict[str, Any]]:
        """Build a server-to-client request (legacy era only). Returns ``(id, message)``.

        ``params`` are shaped for the session's version first (see ``_shape.py``).

        Raises:
            LocalProtocolError: no legacy session was initialized.
            InternalError: the request cannot be expressed in the negotiated
                version (e.g. a multi-select elicitation in 2025-06-18); no id
                was used and nothing must be sent.
        """
        features = self.legacy_features
        if features is None:
            raise LocalProtocolError("server-to-client requests need an initialized legacy session")
        if params is not None and method in features.shaped:
            params = shape_request(features, method, params)
        rid = self._next_id()
        self._outgoing.add(rid)
        return rid, request(rid, method, params)

    def forget_request(self, id: Id) -> None:
        """Stop waiting for the answer to a server-to-client request (it was cancelled)."""
        self._outgoing.discard(id)
