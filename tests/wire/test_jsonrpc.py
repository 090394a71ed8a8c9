"""JSON-RPC 2.0 envelopes: ``classify`` of valid and invalid messages, with the id to echo."""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp._errors import InvalidParams, InvalidRequest
from trio_mcp._wire import (
    Notification,
    Request,
    Response,
    classify,
)


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, Request(1, "ping", {})),
        (
            {"jsonrpc": "2.0", "id": "a", "method": "x", "params": {"k": 1}},
            Request("a", "x", {"k": 1}),
        ),
        ({"jsonrpc": "2.0", "method": "n"}, Notification("n", {})),
        ({"jsonrpc": "2.0", "id": 3, "result": {"ok": True}}, Response(3, {"ok": True}, None)),
        (
            {"jsonrpc": "2.0", "id": 3, "error": {"code": 1, "message": "m"}},
            Response(3, None, {"code": 1, "message": "m"}),
        ),
    ],
)
def test_classify_valid(msg: dict[str, Any], kind: object) -> None:
    assert classify(msg) == kind


@pytest.mark.parametrize(
    ("msg", "echo_id"),
    [
        (1, None),
        ("str", None),
        ({"id": 1, "method": "ping"}, 1),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
        ({"jsonrpc": "2.0", "id": 2, "method": "ping", "params": "x"}, 2),
        ({"jsonrpc": "2.0", "id": 2}, 2),
        ({"jsonrpc": "2.0", "id": 2, "result": {}, "error": {"code": 1}}, None),
    ],
)
def test_classify_invalid_request(msg: Any, echo_id: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        classify(msg)
    assert info.value.code == -32600
    assert info.value.request_id == echo_id


def test_array_params_are_invalid_params() -> None:
    with pytest.raises(InvalidParams) as info:
        classify({"jsonrpc": "2.0", "id": 7, "method": "x", "params": [1]})
    assert info.value.code == -32602
    assert info.value.request_id == 7
