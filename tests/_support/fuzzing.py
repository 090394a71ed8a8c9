"""Hypothesis strategies for JSON-RPC lines, and the oracles that check what comes back.

Shared by the property-based tests of the session (``tests/protocol/test_session_fuzz.py``)
and of a live connection (``tests/runtime/test_connection_fuzz.py``).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from trio_mcp._wire import encode

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


PV = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LEVEL = "io.modelcontextprotocol/logLevel"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)


json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)


ids = st.one_of(
    st.integers(-5, 40),
    st.sampled_from(["a", "b", "", "dup"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


methods = st.one_of(
    st.sampled_from(
        [
            "ping",
            "initialize",
            "tools/list",
            "tools/call",
            "logging/setLevel",
            "server/discover",
            "no/such/method",
            "notifications/cancelled",
            "notifications/initialized",
            "notifications/whatever",
            "resources/list",
        ]
    ),
    st.text(max_size=8),
    json_values,
)


versions = st.one_of(
    st.sampled_from(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "x"]),
    json_values,
)


metas = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {PV: versions},
        optional={
            CAPS: st.one_of(st.just({}), json_values),
            INFO: st.one_of(st.just({"name": "c", "version": "1"}), json_values),
            LEVEL: st.one_of(st.sampled_from(["debug", "error", "loud"]), json_values),
            "progressToken": json_values,
        },
    ),
)


params = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "_meta": metas,
            "protocolVersion": versions,
            "capabilities": json_values,
            "clientInfo": json_values,
            "name": st.one_of(st.sampled_from(["echo", "add"]), json_values),
            "arguments": json_values,
            "level": st.one_of(st.sampled_from(["debug", "info"]), json_values),
            "requestId": st.one_of(ids, json_values),
            "reason": json_values,
            "cursor": json_values,
        },
    ),
)


jsonrpcs = st.one_of(st.just("2.0"), st.sampled_from(["1.0", "2", 2.0, None]), json_values)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """Mostly near-valid JSON-RPC objects (requests, notifications, responses)."""
    kind = draw(st.sampled_from(["near", "near", "request", "notification", "response", "any"]))
    if kind == "any":
        return draw(json_values)
    if kind == "near":
        return draw(near_valid())
    msg: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        msg["jsonrpc"] = draw(jsonrpcs) if draw(st.integers(0, 5)) == 0 else "2.0"
    if kind in ("request", "response"):
        msg["id"] = draw(ids)
    if kind == "response":
        which = draw(st.sampled_from(["result", "error", "both", "neither"]))
        if which in ("result", "both"):
            msg["result"] = draw(json_values)
        if which in ("error", "both"):
            msg["error"] = draw(
                st.one_of(
                    st.fixed_dictionaries({"code": st.integers(), "message": st.text()}),
                    json_values,
                )
            )
        return msg
    msg["method"] = draw(methods)
    if draw(st.booleans()):
        msg["params"] = draw(params)
    return msg


MODERN_META: dict[str, Any] = {
    PV: "2026-07-28",
    CAPS: {"elicitation": {}},
    INFO: {"name": "c", "version": "1"},
    LEVEL: "info",
    "progressToken": "p",
}


#: One valid request per method; fuzzing mutates a few of their fields.

TEMPLATES: list[dict[str, Any]] = [
    {"method": "ping"},
    {"method": "initialize", "params": {"protocolVersion": "2025-03-26", "capabilities": {}}},
    {"method": "logging/setLevel", "params": {"level": "info"}},
    {"method": "server/discover", "params": {"_meta": MODERN_META}},
    {"method": "tools/list", "params": {"cursor": "bzox", "_meta": MODERN_META}},
    {"method": "tools/list", "params": {"cursor": "bzox"}},
    {
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": 1}},
    },
    {
        "method": "tools/call",
        "params": {
            "name": "add",
            "arguments": {"a": 1, "b": 2},
            "requestState": "x.y",
            "inputResponses": {"k": {"action": "accept"}},
            "_meta": MODERN_META,
        },
    },
    {"method": "tools/call", "params": {"name": "sync_add", "arguments": {"a": 1, "b": 2}}},
    {"method": "resources/list", "params": {}},
    {"method": "resources/templates/list", "params": {}},
    {"method": "resources/read", "params": {"uri": "mem://a"}},
    {"method": "resources/read", "params": {"uri": "users://7/profile"}},
    {"method": "resources/subscribe", "params": {"uri": "mem://a"}},
    {"method": "resources/unsubscribe", "params": {"uri": "mem://a"}},
    {"method": "prompts/list", "params": {}},
    {"method": "prompts/get", "params": {"name": "greet", "arguments": {"who": "w"}}},
    {
        "method": "completion/complete",
        "params": {
            "ref": {"type": "ref/prompt", "name": "greet"},
            "argument": {"name": "who", "value": "w"},
            "context": {"arguments": {}},
        },
    },
    {
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": MODERN_META},
    },
    {"method": "notifications/cancelled", "params": {"requestId": 1, "reason": "r"}},
    {"method": "notifications/initialized"},
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if type(obj) is dict:
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    return out


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request of some method with 0-2 params fields replaced by any JSON, or deleted.

    (The envelope itself is fuzzed by :func:`messages`.)
    """
    msg: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    msg["jsonrpc"] = "2.0"
    if not msg["method"].startswith("notifications/"):
        msg["id"] = draw(st.one_of(st.integers(0, 30), ids))
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(msg.get("params"), ("params",)) if type(msg.get("params")) is dict else []
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = msg
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.integers(0, 4)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return msg


def valid_id(value: Any) -> bool:
    return type(value) in (int, str)


def echo_id(msg: Any) -> Any:
    return msg["id"] if valid_id(msg["id"]) else None


def request_shaped(msg: Any) -> bool:
    return type(msg) is dict and "method" in msg and "id" in msg


def needs_no_answer(msg: Any) -> bool:
    """An independent oracle: a valid notification or response gets no answer."""
    if type(msg) is not dict or msg.get("jsonrpc") != "2.0":
        return False
    if "method" in msg:
        p = msg.get("params")
        return "id" not in msg and type(msg["method"]) is str and (p is None or type(p) is dict)
    if ("result" in msg) == ("error" in msg):
        return False
    if "id" not in msg or not (msg["id"] is None or valid_id(msg["id"])):
        return False
    if "error" in msg:
        err = msg["error"]
        return type(err) is dict and type(err.get("code")) is int
    return True


def check_response(msg: Any) -> None:
    """A well-formed JSON-RPC 2.0 response object, encodable as one JSON line."""
    assert type(msg) is dict, msg
    assert msg["jsonrpc"] == "2.0", msg
    assert "id" in msg and (msg["id"] is None or valid_id(msg["id"])), msg
    assert ("result" in msg) != ("error" in msg), msg
    if "error" in msg:
        err = msg["error"]
        assert type(err["code"]) is int and type(err["message"]) is str, msg
        assert set(err) <= {"code", "message", "data"}, msg
    else:
        assert type(msg["result"]) is dict, msg
    assert b"\n" not in encode(msg)


def key(rid: Any) -> tuple[str, Any]:
    return (type(rid).__name__, rid)  # True == 1 as dict keys: keep them apart
