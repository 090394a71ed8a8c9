"""The HTTP router, in process (ASGI messages, no socket): the era decided once, one status table,
and the same answer encoder as stdio in both eras."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import trio

from trio_mcp._protocol import Era, IncomingRequest, Send, ServerInfo, ServerSession, era_of
from trio_mcp._protocol._versions import META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION
from trio_mcp._runtime import Peer
from trio_mcp._transports import HttpOptions, HttpTransport
from trio_mcp._transports._http import choose_era
from trio_mcp._transports._http_modern import HTTP_STATUS, http_status

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
META = {META_PROTOCOL_VERSION: MODERN, META_CLIENT_CAPABILITIES: {}}


def scope(**headers: str) -> dict[str, Any]:
    return {"headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}}
MODERN_CALL = {**CALL, "params": {"name": "x", "_meta": META}}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": LEGACY, "capabilities": {}},
}


@pytest.mark.parametrize(
    ("msg", "headers", "era"),
    [
        (MODERN_CALL, {}, Era.MODERN),  # the body names it: headers cannot change that
        (MODERN_CALL, {"mcp_session_id": "s"}, Era.MODERN),
        (INIT, {"mcp_protocol_version": MODERN}, Era.LEGACY),
        (CALL, {"mcp_session_id": "s", "mcp_protocol_version": MODERN}, Era.LEGACY),
        (CALL, {"mcp_protocol_version": MODERN}, Era.MODERN),  # the session answers -32602
        (CALL, {"mcp_protocol_version": LEGACY}, Era.LEGACY),
        (CALL, {}, Era.LEGACY),
        ([CALL], {"mcp_protocol_version": MODERN}, Era.MODERN),
        ([CALL], {}, Era.LEGACY),
    ],
)
def test_choose_era(msg: Any, headers: dict[str, str], era: Era) -> None:
    assert choose_era(scope(**headers), era_of(msg)) is era


@pytest.mark.parametrize(
    "msg",
    [
        MODERN_CALL,
        {**CALL, "params": {"name": "x", "_meta": {**META, META_PROTOCOL_VERSION: "2099-01-01"}}},
        INIT,
        CALL,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        [CALL],
    ],
)
def test_era_of_is_the_sessions_own_rule(msg: Any) -> None:
    session = ServerSession(ServerInfo("t", "1", methods={"tools/call"}))
    events = session.receive_message(msg)
    named = era_of(msg)
    if named is Era.MODERN:
        assert session.legacy_version is None
        event = events[0]
        assert (type(event) is IncomingRequest and event.era is Era.MODERN) or (
            type(event) is Send and event.message["error"]["code"] == -32022  # type: ignore[call-overload]
        )
    elif named is Era.LEGACY:
        assert session.legacy_version is not None  # initialize opened the legacy era
    else:
        assert session.legacy_version is None
        assert not any(type(e) is IncomingRequest for e in events)


def test_one_status_table_for_modern_errors() -> None:
    assert http_status(-32601, handler=False) == http_status(-32601, handler=True) == 404
    assert http_status(-32602, handler=False) == 400  # the request itself is wrong
    assert http_status(-32602, handler=True) == 200  # a tool's invalid arguments: an answer
    assert http_status(-32603, handler=True) == http_status(-32603, handler=False) == 200
    assert all(len(row) == 2 for row in HTTP_STATUS.values())


class App:
    def __init__(self) -> None:
        self.info = ServerInfo("t", "1", methods={"tools/call"})

    def new_session(self) -> ServerSession:
        return ServerSession(self.info)

    def timeout_for(self, request: IncomingRequest) -> float | None:
        return None

    async def handle(self, request: IncomingRequest, peer: Peer) -> dict[str, Any]:
        if request.params.get("name") == "bad":
            return {"content": {1, 2}}  # a set: not JSON
        await peer.notify("notifications/message", {"level": "info", "data": "hi"})
        return {"content": [], "closed": peer.close_stream(request.id)}

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        return None

    async def notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        pass

    def connected(self, peer: Peer) -> None:
        pass

    def draining(self, peer: Peer) -> None:
        pass

    def disconnected(self, peer: Peer) -> None:
        pass


async def post(
    transport: HttpTransport, body: Any, **headers: str
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    done = trio.Event()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    all_headers = {"host": "localhost", "content_type": "application/json", **headers}
    asgi = {"type": "http", "method": "POST", "path": "/mcp", **scope(**all_headers)}
    await transport(asgi, receive, send)  # type: ignore[arg-type]
    start = sent[0]
    body_bytes = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body_bytes


def data_events(body: bytes) -> list[Any]:
    return [orjson.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: {")]


async def test_both_eras_answer_a_result_that_is_not_json_like_stdio() -> None:
    transport = HttpTransport(App(), HttpOptions())
    with trio.fail_after(5):
        async with transport.running():
            call = {**MODERN_CALL, "params": {"name": "bad", "_meta": META}}
            headers = {"mcp_protocol_version": MODERN, "mcp_method": "tools/call"}
            status, _, body = await post(transport, call, **headers, mcp_name="bad")
            assert status == 200
            error = orjson.loads(body)["error"]
            assert error["code"] == -32603 and "not JSON-serialisable" in error["message"]

            # modern, with a notification first: SSE; a modern POST has no stream to close
            call = {**MODERN_CALL, "params": {"name": "ok", "_meta": META}}
            status, hdrs, body = await post(transport, call, **headers, mcp_name="ok")
            assert status == 200 and hdrs[b"content-type"] == b"text/event-stream"
            note, answer = data_events(body)
            assert note["method"] == "notifications/message"
            assert answer["result"]["closed"] is False

            status, hdrs, _ = await post(transport, INIT)
            assert status == 200
            sid = hdrs[b"mcp-session-id"].decode()
            status, _, body = await post(
                transport, {**CALL, "params": {"name": "bad"}}, mcp_session_id=sid
            )
            error_answer = orjson.loads(body)  # the answer came first: plain JSON
            assert error_answer["error"]["code"] == -32603
            assert "not JSON-serialisable" in error_answer["error"]["message"]
