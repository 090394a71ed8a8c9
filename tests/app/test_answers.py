"""The client's answers are checked before a handler sees them (issue 13, item 7).

``examples/everything.py``'s ``confirm_delete`` asks ``{"confirm": boolean}``. A
forged ``action`` or content that violates the schema must never reach it as an
accepted answer ("prod.db: deleted"): the call fails with ``-32602``, in both
eras, against the real process. Unit checks cover sampling results and roots.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp import McpError
from trio_mcp._app._answers import (
    AnswerInvalid,
    check_elicitation,
    check_roots,
    check_sampling,
)
from trio_mcp.testing import connect_process

EVERYTHING = [sys.executable, str(Path(__file__).resolve().parents[2] / "examples/everything.py")]
CAPS = {"elicitation": {"form": {}}}

FORGED: list[dict[str, Any]] = [
    {"action": "hack"},
    {"action": "accept", "content": {"confirm": "false"}},
    {"action": "accept", "content": {"confirm": 1}},
    {"action": "accept", "content": []},
    {"content": {"confirm": True}},
]


@pytest.mark.parametrize("answer", FORGED)
async def test_forged_elicitation_answers_are_refused_legacy(answer: dict[str, Any]) -> None:
    with trio.fail_after(60):
        async with connect_process(EVERYTHING, capabilities=CAPS) as client:
            client.responders["elicitation/create"] = lambda params: answer
            with pytest.raises(McpError) as info:
                await client.call_tool("confirm_delete", {"filename": "prod.db"})
            assert info.value.code == -32602
            assert "Invalid elicitation result" in info.value.message
            client.responders["elicitation/create"] = lambda params: {
                "action": "accept",
                "content": {"confirm": True},
            }
            ok = await client.call_tool("confirm_delete", {"filename": "prod.db"})
            assert ok["content"][0]["text"] == "prod.db: deleted"


@pytest.mark.parametrize("answer", FORGED)
async def test_forged_elicitation_answers_are_refused_modern(answer: dict[str, Any]) -> None:
    with trio.fail_after(60):
        async with connect_process(EVERYTHING, era="modern", capabilities=CAPS) as client:
            first = await client.call_tool("confirm_delete", {"filename": "prod.db"})
            assert first["resultType"] == "input_required"
            (key,) = first["inputRequests"]
            with pytest.raises(McpError) as info:
                await client.request(
                    "tools/call",
                    {
                        "name": "confirm_delete",
                        "arguments": {"filename": "prod.db"},
                        "inputResponses": {key: answer},
                        "requestState": first["requestState"],
                    },
                )
            assert info.value.code == -32602
            good = {key: {"action": "accept", "content": {"confirm": True}}}
            ok = await client.request(
                "tools/call",
                {
                    "name": "confirm_delete",
                    "arguments": {"filename": "prod.db"},
                    "inputResponses": good,
                    "requestState": first["requestState"],
                },
            )
            assert ok["content"][0]["text"] == "prod.db: deleted"


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "age": {"type": "integer", "minimum": 0},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        "size": {"type": "string", "oneOf": [{"const": "S"}, {"const": "L"}]},
    },
    "required": ["name"],
}


def test_elicitation_content_is_checked_against_the_schema() -> None:
    ok = {"name": "Ann", "age": 3, "color": "red", "tags": ["a"], "size": "L", "extra": 1}
    assert check_elicitation(SCHEMA, {"action": "accept", "content": ok}) == (
        "accept",
        {"name": "Ann", "age": 3, "color": "red", "tags": ["a"], "size": "L"},  # extra dropped
    )
    assert check_elicitation(SCHEMA, {"action": "decline", "content": {"x": 1}}) == (
        "decline",
        None,
    )
    for content, path in [
        ({}, "$.content.name: required"),
        ({"name": "A"}, "$.content.name: shorter"),
        ({"name": "Ann", "age": 1.5}, "$.content.age: expected an integer"),
        ({"name": "Ann", "age": True}, "$.content.age: expected an integer"),
        ({"name": "Ann", "age": -1}, "$.content.age: less than"),
        ({"name": "Ann", "color": "green"}, "$.content.color: 'green' is not one of"),
        ({"name": "Ann", "tags": ["c"]}, "$.content.tags: ['c'] has values outside"),
        ({"name": "Ann", "tags": ["a", "b", "a"]}, "$.content.tags: more than 2"),
        ({"name": "Ann", "size": "M"}, "$.content.size: 'M' is not one of"),
    ]:
        with pytest.raises(AnswerInvalid) as info:
            check_elicitation(SCHEMA, {"action": "accept", "content": content})
        assert any(e.startswith(path) for e in info.value.errors), (content, info.value.errors)
        assert info.value.code == -32602


def test_sampling_results_and_roots_are_checked() -> None:
    good = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
    assert check_sampling(good) is good
    for bad in [
        [],
        {"role": "system", "content": {"type": "text", "text": "x"}},
        {"role": "assistant", "content": {"type": "video"}},
        {"role": "assistant", "content": {"type": "text", "text": 3}},
        {"role": "assistant", "content": {"type": "text", "text": "x"}, "model": 7},
    ]:
        with pytest.raises(AnswerInvalid):
            check_sampling(bad)
    roots = [{"uri": "file:///a", "name": "a"}]
    assert check_roots({"roots": roots}) == roots
    for bad_roots in [{}, {"roots": "x"}, {"roots": [{"uri": "http://x"}]}, {"roots": [3]}]:
        with pytest.raises(AnswerInvalid):
            check_roots(bad_roots)
