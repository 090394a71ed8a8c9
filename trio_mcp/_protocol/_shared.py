"""A legacy session shared by several workers: :class:`SharedServerSession` (sans-IO).

With ``TRIO_MCP_REDIS_URL`` a legacy session's POSTs may reach any worker. Each
worker that serves one holds a local copy of the session, built from its record
(:meth:`SharedServerSession.state` is what the record keeps; :meth:`restored`
builds an already-initialized copy from it). What differs from a
:class:`ServerSession` of one process, and nothing else:

* Its server-to-client request ids are strings ``"<worker>.<n>"``, unique per
  session over every worker (JSON-RPC allows string ids; the official clients
  echo them), so an answer names the worker whose handler waits for it.
* A response to an id this copy did not send, but that names another worker
  (``"<other>.<n>"``), is handed on as a :class:`ClientResponse` for the
  transport to route; any other unknown response is ignored, as before.
* ``notifications/cancelled`` for a request not in flight here is handed on as
  a :class:`CancelRequest` (the request may run on another worker); the worker
  that runs it applies it with :meth:`cancel_in_flight`.
* :meth:`batch_of` tells what a JSON-RPC batch (2025-03-26) still owes its client:
  the transport records it, so that another worker can answer every request of a
  batch whose worker died.
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs

from .._wire import Id, Notification, Response
from ._events import CancelRequest, ClientResponse, Event
from ._features import FEATURES
from ._info import ServerInfo
from ._session import ServerSession
from ._versions import LEGACY_VERSIONS

__all__ = ["SharedServerSession"]

#: Server-to-client request numbers, shared by every copy of every session in the process.
_REQUEST_IDS = itertools.count(1)


@attrs.define(eq=False)
class SharedServerSession(ServerSession):
    """One worker's copy of a legacy session that every worker may serve."""

    #: This worker's id: the prefix of its server-to-client request ids.
    worker: str = ""
    #: The session's id (``Mcp-Session-Id``): what its tasks are bound to on every worker.
    sid: str = ""
    #: Tasks of the session running in this worker: the copy is busy while any runs.
    tasks_running: int = 0

    def __attrs_post_init__(self) -> None:
        prefix = f"{self.worker}."
        # one count for every copy in this process: a copy rebuilt after the last one
        # went idle never reuses an id a late answer might still carry
        self._next_id = lambda: f"{prefix}{next(_REQUEST_IDS)}"  # type: ignore[assignment,return-value]

    @classmethod
    def restored(
        cls, info: ServerInfo, worker: str, state: dict[str, Any], sid: str = ""
    ) -> SharedServerSession:
        """An initialized copy from a record's :meth:`state`.

        Raises:
            KeyError, TypeError, ValueError: ``state`` is not a valid record.
        """
        session = cls(info, worker, sid)
        version = state["version"]
        if version not in LEGACY_VERSIONS:
            raise ValueError(f"not a legacy version: {version!r}")
        caps, client, level = state["capabilities"], state.get("client_info"), state.get("level")
        if type(caps) is not dict or (client is not None and type(client) is not dict):
            raise TypeError("capabilities and client info must be objects")
        session.legacy_version = version
        session.legacy_features = FEATURES[version]
        session.legacy_capabilities = caps
        session.legacy_client_info = client
        session.legacy_log_level = level if type(level) is str else None
        session.initialized_notified = True
        session.subscriptions = {str(uri) for uri in state.get("subscriptions", ())}
        return session

    def state(self) -> dict[str, Any]:
        """What the shared record keeps (JSON-serialisable): see :meth:`restored`."""
        return {
            "version": self.legacy_version,
            "capabilities": self.legacy_capabilities,
            "client_info": self.legacy_client_info,
            "level": self.legacy_log_level,
            "subscriptions": sorted(self.subscriptions),
        }

    def owner_of(self, rid: Id) -> str | None:
        """The worker a server-to-client request id names (``None``: not such an id)."""
        if type(rid) is not str:
            return None
        worker, dot, n = rid.partition(".")
        return worker if dot and worker and n.isdigit() else None

    def cancel_in_flight(self, rid: Id) -> bool:
        """Mark request ``rid`` cancelled (a cancel routed from another worker).

        Returns True when it is in flight here (its handler must now be cancelled).
        """
        flight = self._in_flight.get(rid)
        if flight is None or flight.cancelled:
            return False
        flight.cancelled = True
        return True

    def batch_of(self, rid: Id) -> tuple[list[dict[str, Any]], list[Id]] | None:
        """What the batch of request ``rid`` owes: its answers made already, its requests.

        ``None`` when ``rid`` is not in flight or not part of a batch. Called as the
        batch's first request starts (before any of its handlers ran), the answers
        are those the session made itself (``ping``, invalid requests...), which go
        out in the batch's one response with the handlers' answers, and the ids are
        every request of the batch still to be answered (not cancelled).
        """
        flight = self._in_flight.get(rid)
        batch = flight.batch if flight is not None else None
        if batch is None:
            return None
        ids = [i for i, f in self._in_flight.items() if f.batch is batch and not f.cancelled]
        return list(batch.responses), ids

    def _receive_notification(self, note: Notification, events: list[Event]) -> None:
        if note.method == "notifications/cancelled":
            rid = note.params.get("requestId")
            if type(rid) in (int, str) and rid not in self._in_flight:
                reason = note.params.get("reason")
                events.append(CancelRequest(rid, reason if type(reason) is str else None))  # type: ignore[arg-type]
                return  # maybe running on another worker: the transport routes it
        super()._receive_notification(note, events)

    def _receive_response(self, resp: Response, events: list[Event]) -> None:
        rid = resp.id
        if rid is not None and rid not in self._outgoing:
            owner = self.owner_of(rid)
            if owner is not None and owner != self.worker:
                events.append(ClientResponse(rid, resp.result, resp.error))  # for the owner
            return
        super()._receive_response(resp, events)
