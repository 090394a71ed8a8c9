"""The sans-IO session: every rule of trio_mcp/_protocol/_session.py, with no event loop."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._errors import InvalidParams, LocalProtocolError, McpError, ResourceNotFound
from trio_mcp._protocol import (
    CancelRequest,
    ClientResponse,
    Era,
    IncomingRequest,
    Notified,
    Send,
    ServerInfo,
    ServerSession,
)
from trio_mcp._wire import OversizedLine, encode

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
}


def session() -> ServerSession:
    return ServerSession(
        ServerInfo(
            "srv",
            "1.2",
            instructions="Be nice.",
            capabilities={"tools": {"listChanged": True}},
            methods=frozenset({"tools/list", "tools/call"}),
        )
    )


def feed(s: ServerSession, msg: Any) -> list[Any]:
    return s.receive_line(encode(msg))


def req(id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def init(s: ServerSession, version: str = "2025-06-18") -> dict[str, Any]:
    [event] = feed(
        s,
        req(
            0,
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "c"}},
        ),
    )
    assert type(event) is Send
    assert feed(s, {"jsonrpc": "2.0", "method": "notifications/initialized"}) == []
    return event.message  # type: ignore[return-value]


def error_of(events: list[Any]) -> tuple[Any, int]:
    [event] = events
    assert type(event) is Send
    return event.message["id"], event.message["error"]["code"]


# --------------------------------------------------------------------- legacy


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_initialize_echoes_supported_version(version: str) -> None:
    result = init(session(), version)["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"] == {"name": "srv", "version": "1.2"}
    assert result["capabilities"] == {"tools": {"listChanged": True}}
    assert result["instructions"] == "Be nice."  # every legacy schema defines it, 2024-11-05 too


def test_initialize_unknown_version_answers_latest_legacy() -> None:
    assert init(session(), "1999-01-01")["result"]["protocolVersion"] == "2025-11-25"


def test_initialize_twice_is_invalid_request() -> None:
    s = session()
    init(s)
    assert error_of(feed(s, req(9, "initialize", {"protocolVersion": "2025-06-18"}))) == (9, -32600)


def test_requests_before_initialize_are_refused_but_ping_works() -> None:
    s = session()
    assert error_of(feed(s, req(1, "tools/list"))) == (1, -32602)
    [pong] = feed(s, req(2, "ping"))
    assert pong.message == {"jsonrpc": "2.0", "id": 2, "result": {}}


def test_request_after_initialize_is_handed_to_app() -> None:
    s = session()
    init(s, "2025-06-18")
    [event] = feed(s, req(5, "tools/call", {"name": "x", "_meta": {"progressToken": "p"}}))
    assert type(event) is IncomingRequest
    assert (event.id, event.method, event.era, event.version) == (
        5,
        "tools/call",
        Era.LEGACY,
        "2025-06-18",
    )
    assert event.progress_token == "p"
    assert s.in_flight == 1
    assert s.respond(5, {"content": []}) == {"jsonrpc": "2.0", "id": 5, "result": {"content": []}}
    assert s.in_flight == 0


def test_unknown_method_is_method_not_found() -> None:
    s = session()
    init(s)
    assert error_of(feed(s, req(3, "nope/nope"))) == (3, -32601)


def test_unknown_notification_is_passed_on_and_answered_by_nothing() -> None:
    s = session()
    init(s)
    assert feed(s, {"jsonrpc": "2.0", "method": "notifications/whatever"}) == [
        Notified("notifications/whatever", {})
    ]


def test_parse_error_has_null_id() -> None:
    assert error_of(session().receive_line(b"{oops")) == (None, -32700)


def test_oversized_line_gets_invalid_request() -> None:
    assert error_of(session().receive_line(OversizedLine(10, 5))) == (None, -32600)


def test_batch_refused_unless_2025_03_26() -> None:
    s = session()
    init(s, "2025-06-18")
    assert error_of(feed(s, [req(1, "ping"), req(2, "ping")])) == (None, -32600)


def test_batch_in_2025_03_26_answers_as_one_array() -> None:
    s = session()
    init(s, "2025-03-26")
    events = feed(s, [req(1, "ping"), req(2, "tools/list"), {"jsonrpc": "2.0", "method": "n"}, 5])
    assert [type(e) for e in events] == [IncomingRequest, Notified]
    batch = s.respond(2, {"tools": []})
    assert isinstance(batch, list)
    assert [(m["id"], m.get("result"), m.get("error", {}).get("code")) for m in batch] == [
        (1, {}, None),
        (None, None, -32600),
        (2, {"tools": []}, None),
    ]


def test_empty_batch_is_invalid_request() -> None:
    s = session()
    init(s, "2025-03-26")
    assert error_of(feed(s, [])) == (None, -32600)


def test_initialize_in_batch_is_refused() -> None:
    s = session()
    init(s, "2025-03-26")
    [event] = feed(s, [req(1, "initialize", {"protocolVersion": "2025-03-26"})])
    assert event.message[0]["error"]["code"] == -32600


def test_duplicate_in_flight_id_is_invalid_request() -> None:
    s = session()
    init(s)
    [first] = feed(s, req(4, "tools/list"))
    assert type(first) is IncomingRequest
    assert error_of(feed(s, req(4, "tools/list"))) == (4, -32600)
    assert s.respond(4, {"tools": []}) is not None  # the first still gets its answer


def test_cancel_drops_the_answer() -> None:
    s = session()
    init(s)
    feed(s, req(7, "tools/call", {"name": "slow"}))
    events = feed(
        s, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    )
    assert events == [CancelRequest(7, None)]
    assert s.is_cancelled(7)
    assert s.respond(7, {"content": []}) is None
    assert s.in_flight == 0


def test_cancel_unknown_id_is_ignored() -> None:
    s = session()
    init(s)
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
    assert feed(s, note) == []


def test_answering_twice_is_a_local_error() -> None:
    s = session()
    init(s)
    feed(s, req(1, "tools/list"))
    s.respond(1, {"tools": []})
    with pytest.raises(LocalProtocolError):
        s.respond(1, {"tools": []})
    with pytest.raises(LocalProtocolError):
        s.respond_error(1, McpError(-1, "x"))


def test_set_level_and_server_requests() -> None:
    s = session()
    init(s)
    [ok] = feed(s, req(1, "logging/setLevel", {"level": "warning"}))
    assert ok.message["result"] == {}
    assert s.legacy_log_level == "warning"
    assert error_of(feed(s, req(2, "logging/setLevel", {"level": "loud"}))) == (2, -32602)
    rid, msg = s.send_request("roots/list")
    assert msg == {"jsonrpc": "2.0", "id": rid, "method": "roots/list"}
    [event] = feed(s, {"jsonrpc": "2.0", "id": rid, "result": {"roots": []}})
    assert event == ClientResponse(rid, {"roots": []}, None)
    # A second answer, or an answer to nothing, is ignored.
    assert feed(s, {"jsonrpc": "2.0", "id": rid, "result": {}}) == []


def test_server_requests_need_a_legacy_session() -> None:
    with pytest.raises(LocalProtocolError):
        session().send_request("roots/list")


# --------------------------------------------------------------------- modern


def test_discover() -> None:
    [event] = feed(session(), req("d", "server/discover", {"_meta": MODERN_META}))
    result = event.message["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == ["2026-07-28"]
    assert result["capabilities"] == {"tools": {"listChanged": True}}
    assert result["instructions"] == "Be nice."
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {
        "name": "srv",
        "version": "1.2",
    }
    assert result["ttlMs"] >= 0 and result["cacheScope"] in ("public", "private")


def test_modern_request_needs_no_handshake_and_gets_result_type() -> None:
    s = session()
    [event] = feed(s, req(1, "tools/list", {"_meta": MODERN_META}))
    assert type(event) is IncomingRequest
    assert event.era is Era.MODERN
    assert event.client_capabilities == {"elicitation": {}}
    assert event.client_info == {"name": "c", "version": "1"}
    out = s.respond(1, {"tools": []})
    assert isinstance(out, dict)
    result = out["result"]
    assert result["resultType"] == "complete"
    assert "ttlMs" in result and "cacheScope" in result
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "srv"


def test_tools_call_result_has_no_cache_hints() -> None:
    s = session()
    feed(s, req(1, "tools/call", {"_meta": MODERN_META, "name": "x"}))
    out = s.respond(1, {"content": []})
    assert isinstance(out, dict)
    assert out["result"]["resultType"] == "complete"
    assert "ttlMs" not in out["result"]


def test_modern_unsupported_version() -> None:
    meta = dict(MODERN_META, **{"io.modelcontextprotocol/protocolVersion": "2099-01-01"})
    [event] = feed(session(), req(1, "tools/list", {"_meta": meta}))
    error = event.message["error"]
    assert error["code"] == -32022
    assert error["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}


@pytest.mark.parametrize(
    "meta",
    [
        {"io.modelcontextprotocol/protocolVersion": "2026-07-28"},
        dict(MODERN_META, **{"io.modelcontextprotocol/clientCapabilities": "all"}),
        dict(MODERN_META, **{"io.modelcontextprotocol/clientInfo": 5}),
        dict(MODERN_META, **{"io.modelcontextprotocol/logLevel": "loud"}),
    ],
    ids=["no-capabilities", "capabilities-not-object", "client-info-not-object", "bad-log-level"],
)
def test_modern_broken_meta_is_invalid_params(meta: dict[str, Any]) -> None:
    assert error_of(feed(session(), req(1, "tools/list", {"_meta": meta}))) == (1, -32602)


def test_modern_has_no_ping_or_initialize_semantics_for_unknown_methods() -> None:
    assert error_of(feed(session(), req(1, "ping", {"_meta": MODERN_META}))) == (1, -32601)
    assert error_of(feed(session(), req(1, "logging/setLevel", {"_meta": MODERN_META}))) == (
        1,
        -32601,
    )


def test_modern_resource_not_found_is_invalid_params() -> None:
    s = session()
    feed(s, req(1, "tools/call", {"_meta": MODERN_META}))
    out = s.respond_error(1, ResourceNotFound("Resource not found", {"uri": "x://y"}))
    assert isinstance(out, dict) and out["error"]["code"] == -32602
    s2 = session()
    init(s2)
    feed(s2, req(1, "tools/call"))
    out = s2.respond_error(1, ResourceNotFound("Resource not found"))
    assert isinstance(out, dict) and out["error"]["code"] == -32002


def test_both_eras_on_one_connection() -> None:
    s = session()
    init(s, "2025-11-25")
    [legacy] = feed(s, req(1, "tools/list"))
    [modern] = feed(s, req(2, "tools/list", {"_meta": MODERN_META}))
    assert (legacy.era, modern.era) == (Era.LEGACY, Era.MODERN)
    assert "resultType" not in s.respond(1, {"tools": []})["result"]  # type: ignore[index,call-overload]
    assert s.respond(2, {"tools": []})["result"]["resultType"] == "complete"  # type: ignore[index,call-overload]


def test_invalid_params_type_for_initialize() -> None:
    s = session()
    assert error_of(feed(s, req(1, "initialize", {"protocolVersion": 5}))) == (1, -32602)
    # The failed attempt left the session uninitialized; a good one still works.
    assert init(s)["result"]["protocolVersion"] == "2025-06-18"


def test_errors_are_typed_by_fault() -> None:
    assert issubclass(InvalidParams, McpError)
    assert not issubclass(LocalProtocolError, McpError)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":"', 42),
        (b'{"jsonrpc":"2.0","method":"m","id":"abc","params"', "abc"),
        (b'{"method":"m","params":{"id":5', None),
        (b'{"id":1.5,', None),
        (b'{"id":{"a":1}', None),
        (b"", None),
    ],
)
def test_oversized_line_answer_echoes_a_recoverable_id(head: bytes, expected: Any) -> None:
    [event] = session().receive_line(OversizedLine(10_000, 16, head))
    assert event.message["id"] == expected
    assert event.message["error"]["code"] == -32600


async def test_non_finite_float_result_is_stated_in_text() -> None:
    from trio_mcp import Server
    from trio_mcp.testing import connect

    server = Server("x")

    @server.tool()
    async def add(a: float, b: float) -> float:
        return a + b

    async with connect(server) as client:
        result = await client.call_tool("add", {"a": 1e308, "b": 1e308})
    assert result["content"] == [{"type": "text", "text": "inf"}]


def test_capabilities_for_a_version_merges_its_extras() -> None:
    info = ServerInfo(
        "srv",
        "1",
        capabilities={"tools": {"listChanged": True}, "extensions": {"a/x": {}}},
        extra_capabilities={
            "2025-11-25": {"tasks": {"list": {}}},
            "2026-07-28": {"extensions": {"b/y": {}}},
        },
        methods=frozenset({"tools/list"}),
    )
    assert info.capabilities_for("2025-06-18") is info.capabilities
    assert info.capabilities_for("2025-11-25") == {
        "tools": {"listChanged": True},
        "extensions": {"a/x": {}},
        "tasks": {"list": {}},
    }
    assert info.capabilities_for("2026-07-28")["extensions"] == {"a/x": {}, "b/y": {}}
    assert "extensions" in info.capabilities and "b/y" not in info.capabilities["extensions"]
    s = ServerSession(info)
    [event] = feed(
        s,
        req(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}),
    )
    assert event.message["result"]["capabilities"]["tasks"] == {"list": {}}
    [event] = feed(ServerSession(info), req(1, "initialize", {"protocolVersion": "2025-06-18"}))
    assert "tasks" not in event.message["result"]["capabilities"]
    [event] = feed(ServerSession(info), req("d", "server/discover", {"_meta": MODERN_META}))
    caps = event.message["result"]["capabilities"]
    assert "tasks" not in caps and caps["extensions"] == {"a/x": {}, "b/y": {}}
