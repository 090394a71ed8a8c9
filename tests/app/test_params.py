"""Every method's params are checked by type once, before any handler logic (issue 13, item 8).

Each malformed params object gets ``-32602`` naming the field, in both eras, and
the connection keeps answering. A stdio run drives the real process too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_mcp import McpError, Server
from trio_mcp.testing import connect, connect_process

EVERYTHING = Path(__file__).resolve().parents[2] / "examples" / "everything.py"

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("tools/call", {}, '"name" must be a string'),
    ("tools/call", {"name": ["echo"]}, '"name" must be a string'),
    ("tools/call", {"name": "echo", "arguments": "x"}, '"arguments" must be an object'),
    ("tools/call", {"name": "echo", "arguments": [1]}, '"arguments" must be an object'),
    ("tools/list", {"cursor": 5}, '"cursor" must be a string'),
    ("resources/read", {"uri": {"a": 1}}, '"uri" must be a string'),
    ("resources/templates/list", {"cursor": []}, '"cursor" must be a string'),
    ("prompts/get", {"name": 1}, '"name" must be a string'),
    ("prompts/get", {"name": "greet", "arguments": {"n": 1}}, '"arguments" must be an object of'),
    ("completion/complete", {}, '"ref" must be an object'),
    (
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": ["p"]}, "argument": {"name": "a", "value": ""}},
        '"ref.name" must be a string',
    ),
    (
        "completion/complete",
        {"ref": {"type": "ref/resource", "uri": {}}, "argument": {"name": "a", "value": ""}},
        '"ref.uri" must be a string',
    ),
    (
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": 3}},
        '"argument.name" must be a string',
    ),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "p"},
            "argument": {"name": "a", "value": ""},
            "context": {"arguments": "x"},
        },
        '"context.arguments" must be an object',
    ),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "p"},
            "argument": {"name": "a", "value": ""},
            "context": {"arguments": {"b": 7}},
        },
        '"context.arguments" must be an object of strings',
    ),
    (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "p"},
            "argument": {"name": "a", "value": ""},
            "context": 42,
        },
        '"context" must be an object',
    ),
]

LEGACY_ONLY: list[tuple[str, dict[str, Any], str]] = [
    ("resources/subscribe", {"uri": 1}, '"uri" must be a string'),
    ("resources/unsubscribe", {}, '"uri" must be a string'),
]


def _server() -> Server:
    server = Server("params")

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.prompt()
    def greet(n: str = "x") -> str:
        return n

    @server.resource("file:///{name}")
    def file(name: str) -> str:
        return name

    return server


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_wrong_types_are_invalid_params_naming_the_field(era: str) -> None:
    cases = BAD + (LEGACY_ONLY if era == "legacy" else [])
    with trio.fail_after(30):
        async with connect(_server(), era=era) as client:  # type: ignore[arg-type]
            for method, params, message in cases:
                with pytest.raises(McpError) as info:
                    await client.request(method, params)
                assert info.value.code == -32602, (method, params, info.value)
                assert message in info.value.message, (method, params, info.value.message)
            # still serving, and a good call still works
            result = await client.call_tool("echo", {"text": "ok"})
            assert result["content"][0]["text"] == "ok"


async def test_listen_params_are_checked() -> None:
    with trio.fail_after(30):
        async with connect(_server(), era="modern") as client:
            for params, message in [
                ({}, '"notifications" must be an object'),
                ({"notifications": {"toolsListChanged": "yes"}}, "must be a boolean"),
                ({"notifications": {"resourceSubscriptions": "file:///a"}}, "must be an array"),
                ({"notifications": {"resourceSubscriptions": [1]}}, "an array of strings"),
            ]:
                with pytest.raises(McpError) as info:
                    await client.request("subscriptions/listen", params)
                assert info.value.code == -32602
                assert message in info.value.message


async def test_completion_with_wrong_types_over_stdio_real_process() -> None:
    """The real process answers -32602 (not -32603 "unhashable type") and stays up."""
    with trio.fail_after(60):
        async with connect_process([sys.executable, str(EVERYTHING)]) as client:
            for params in [
                {"ref": {"type": "ref/prompt", "name": ["x"]}, "argument": {"name": "a"}},
                {"ref": {"type": "ref/resource", "uri": {"u": 1}}, "argument": {"name": "a"}},
                {
                    "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                    "argument": {"name": "arg1", "value": ""},
                    "context": {"arguments": "nope"},
                },
                {
                    "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                    "argument": {"name": "arg1", "value": ""},
                    "context": {"arguments": {"arg2": 5}},
                },
            ]:
                with pytest.raises(McpError) as info:
                    await client.request("completion/complete", params)
                assert info.value.code == -32602, info.value
            assert await client.ping() == {}
