"""One loop over session events (dispatch), one answer encoder (encode_outcome), one Peer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import trio
import trio.testing

from trio_mcp._errors import InvalidParams
from trio_mcp._protocol import (
    ClientResponse,
    IncomingRequest,
    Notified,
    Outgoing,
    ServerInfo,
    ServerSession,
)
from trio_mcp._runtime import AccessToken, Peer, dispatch, encode_outcome, serve_connection
from trio_mcp._wire import Id, encode, encode_line

LEGACY = "2025-06-18"


def session() -> ServerSession:
    s = ServerSession(ServerInfo("t", "1", methods={"tools/call", "ping"}))
    s.receive_message(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}},
        }
    )
    return s


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def on_request(self, request: IncomingRequest) -> None:
        self.seen.append(("request", request.id))

    async def on_send(self, message: Outgoing) -> None:
        assert type(message) is dict
        self.seen.append(("send", message.get("id")))

    def on_cancel(self, rid: Id) -> None:
        self.seen.append(("cancel", rid))

    def on_response(self, response: ClientResponse) -> None:
        self.seen.append(("response", response.id))

    async def on_notified(self, note: Notified) -> None:
        self.seen.append(("notified", note.method))


async def test_dispatch_drives_every_kind_of_event_in_order() -> None:
    s = session()
    rid, _ = s.send_request("roots/list")
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
        {"jsonrpc": "2.0", "id": rid, "result": {"roots": []}},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
    ]
    sink = Recorder()
    for line in lines:
        await dispatch(s.receive_message(line), sink)
    assert sink.seen == [
        ("request", 1),
        ("send", 2),
        ("cancel", 1),
        ("response", rid),
        ("notified", "notifications/roots/list_changed"),
    ]


@pytest.mark.parametrize("framing", [encode, encode_line])
def test_encode_outcome_answers_exactly_once_even_when_the_result_is_not_json(
    framing: Any,
) -> None:
    s = session()
    for rid in (1, 2, 3):
        s.receive_message({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {}})
    ok = encode_outcome(s, 1, {"content": []}, framing)
    assert ok is not None and orjson.loads(ok) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"content": []},
    }
    err = encode_outcome(s, 2, InvalidParams("bad"), framing)
    assert err is not None and orjson.loads(err)["error"]["code"] == -32602
    bad = encode_outcome(s, 3, {"content": {1, 2}}, framing)  # a set is not JSON
    assert bad is not None and bad.endswith(b"\n") == (framing is encode_line)
    answer = orjson.loads(bad)
    assert answer["id"] == 3 and answer["error"]["code"] == -32603
    assert "not JSON-serialisable" in answer["error"]["message"]
    assert s.in_flight == 0  # every request was answered, once


def test_encode_outcome_says_nothing_for_a_cancelled_request() -> None:
    s = session()
    s.receive_message({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}})
    s.receive_message(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    )
    assert encode_outcome(s, 1, {"content": []}, encode) is None


class App:
    """The least an Application is: tools/call answers what ``results`` says."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.info = ServerInfo("t", "1", methods={"tools/call"})
        self.results = results
        self.peers: list[Peer] = []

    def new_session(self) -> ServerSession:
        return ServerSession(self.info)

    def timeout_for(self, request: IncomingRequest) -> float | None:
        return None

    async def handle(self, request: IncomingRequest, peer: Peer) -> dict[str, Any]:
        name = request.params["name"]
        if name == "notify":
            # The Peer declares all a handler needs: identity, streams, notifications.
            assert peer.token is None and peer.subject is None
            assert peer.close_stream(request.id) is False
            assert peer.scope_of(request.id) is not None
            with pytest.raises(TypeError):
                await peer.notify("notifications/message", {"level": "info", "data": {1}})
            await peer.notify("notifications/message", {"level": "info", "data": "hi"})
        result: dict[str, Any] = self.results[name]
        return result

    def timeout_result(self, request: IncomingRequest, seconds: float) -> dict[str, Any] | None:
        return None

    async def notified(self, method: str, params: dict[str, Any], peer: Peer) -> None:
        pass

    def connected(self, peer: Peer) -> None:
        self.peers.append(peer)

    def draining(self, peer: Peer) -> None:
        pass

    def disconnected(self, peer: Peer) -> None:
        pass


async def test_stdio_answers_a_result_that_is_not_json_with_an_internal_error() -> None:
    app = App({"bad": {"content": {1, 2}}, "notify": {"content": []}})
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_connection, app, server, server)
            init = {"protocolVersion": LEGACY, "capabilities": {}}
            lines = [
                {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init},
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "bad"}},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "notify"}},
            ]
            await client.send_all(b"".join(encode_line(m) for m in lines))
            buffer = b""
            while buffer.count(b"\n") < 4:
                buffer += await client.receive_some()
            await client.send_eof()
    got = [orjson.loads(line) for line in buffer.splitlines()]
    by_id = {m.get("id"): m for m in got}
    assert "not JSON-serialisable" in by_id[1]["error"]["message"]
    assert by_id[2]["result"] == {"content": []}
    notes = [m for m in got if m.get("method") == "notifications/message"]
    assert [n["params"]["data"] for n in notes] == ["hi"]


def test_access_token_is_a_runtime_value_reexported_at_the_top() -> None:
    import trio_mcp

    assert trio_mcp.AccessToken is AccessToken
    assert AccessToken("alice").subject == "alice"
