"""Raw-HTTP MCP helpers of the legacy-session tests: messages, headers, answers, SSE events.

What the shared-session tests (in one process or over worker processes) send and
read without an MCP client: :func:`rpc` and :func:`call` build requests,
:func:`get_headers` the headers of a GET (:func:`~_support.http.legacy_headers`
those of a POST), :func:`answer_of` finds the JSON-RPC answer in a JSON or SSE
body, :class:`Events` and :func:`events_of` read a streamed SSE response as it
comes. ``client`` is an ``httpx`` (or ``httpx2``) ``AsyncClient``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import trio

from .http import LEGACY, legacy_headers, sse_events

__all__ = [
    "Events",
    "answer_of",
    "call",
    "events_of",
    "get_headers",
    "post",
    "rpc",
    "until_status",
]

#: A hang guard for :func:`until_status` (not a timed assertion).
LIMIT = 20


def rpc(rid: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-RPC request."""
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}


def call(rid: Any, tool: str, meta: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    """A legacy ``tools/call`` of ``tool`` with ``args`` (``meta``: its ``_meta``)."""
    params: dict[str, Any] = {"name": tool, "arguments": args}
    if meta is not None:
        params["_meta"] = meta
    return rpc(rid, "tools/call", params)


def get_headers(sid: str, last: str | None = None, version: str = LEGACY) -> dict[str, str]:
    """A GET of session ``sid``'s stream (``last``: its ``Last-Event-ID``)."""
    headers = {
        "accept": "text/event-stream",
        "mcp-session-id": sid,
        "mcp-protocol-version": version,
    }
    if last is not None:
        headers["last-event-id"] = last
    return headers


def answer_of(response: Any) -> Any:
    """The JSON-RPC answer in a JSON or SSE response body (an SSE body's last one)."""
    if response.headers["content-type"].startswith("application/json"):
        return response.json()
    datas = [json.loads(e["data"]) for e in sse_events(response.text) if e.get("data")]
    return [d for d in datas if "id" in d and ("result" in d or "error" in d)][-1]


async def post(client: Any, url: str, sid: str, msg: dict[str, Any]) -> Any:
    """POST ``msg`` in session ``sid``: its answer (the POST must succeed)."""
    r = await client.post(url, json=msg, headers=legacy_headers(sid))
    assert r.status_code == 200, r.text
    return answer_of(r)


async def until_status(
    client: Any, url: str, msg: dict[str, Any], sid: str, status: int, limit: float = LIMIT
) -> Any:
    """POST ``msg`` until its answer has ``status`` (a change another worker made arrived)."""
    with trio.fail_after(limit):
        while True:
            r = await client.post(url, json=msg, headers=legacy_headers(sid))
            if r.status_code == status:
                return r
            await trio.sleep(0.01)


async def events_of(response: Any) -> AsyncIterator[dict[str, str]]:
    """Each SSE event of a streamed response, as its fields."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value


class Events:
    """The SSE events of one streamed response, one at a time."""

    def __init__(self, response: Any) -> None:
        self._events = events_of(response)

    async def next(self) -> dict[str, str]:
        """The next event's fields; ``EOFError`` once the response ended."""
        async for event in self._events:
            return event
        raise EOFError

    async def message(self) -> dict[str, Any]:
        """The next event that carries a message (priming events skipped), its id in
        ``_event_id``."""
        while True:
            event = await self.next()
            if event.get("data"):
                out: dict[str, Any] = json.loads(event["data"])
                out["_event_id"] = event["id"]
                return out
