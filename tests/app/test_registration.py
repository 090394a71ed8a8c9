"""Registration hygiene: bare and called decorators; a duplicate name is an error unless replaced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from trio_mcp import CompletionRequest, Server
from trio_mcp._app._tools import make_tool
from trio_mcp.testing import connect


def test_bare_and_called_forms_register_the_same() -> None:
    server = Server("forms")

    @server.tool
    def bare_tool(x: int) -> int:
        return x

    @server.tool()
    def called_tool(x: int) -> int:
        return x

    @server.prompt
    def bare_prompt(topic: str) -> str:
        return topic

    @server.prompt()
    def called_prompt(topic: str) -> str:
        return topic

    @server.completer
    async def complete(request: CompletionRequest) -> list[str]:
        return []

    @server.background
    async def ticker() -> None:
        pass

    @server.background()
    async def other() -> None:
        pass

    # each decorator gives the function back unchanged
    assert bare_tool(1) == called_tool(1) == 1
    assert bare_prompt("a") == called_prompt("a") == "a"
    assert set(server.tools) == {"bare_tool", "called_tool"}
    assert set(server._registry.prompts) == {"bare_prompt", "called_prompt"}
    assert server._registry.completer is complete
    assert server._background == [ticker, other]


def test_bare_resource_is_a_clear_type_error() -> None:
    server = Server("r")
    with pytest.raises(TypeError, match="needs the resource's URI"):
        server.resource(lambda: "x")  # type: ignore[arg-type]


def one() -> str:
    return "one"


def two() -> str:
    return "two"


REGISTER: dict[str, Callable[[Server, Callable[..., Any], bool], None]] = {
    "tool": lambda s, fn, replace: s.tool(name="same", replace=replace)(fn),
    "prompt": lambda s, fn, replace: s.prompt(name="same", replace=replace)(fn),
    "resource": lambda s, fn, replace: s.resource("mem://same", replace=replace)(fn),
    "resource template": lambda s, fn, replace: s.resource("mem://{id}", replace=replace)(
        lambda id: fn()
    ),
    "add_tool": lambda s, fn, replace: s.add_tool(make_tool(fn, name="same"), replace=replace),
}


@pytest.mark.parametrize("kind", REGISTER)
def test_a_duplicate_raises_naming_the_first(kind: str) -> None:
    server = Server("dup")
    register = REGISTER[kind]
    register(server, one, False)
    with pytest.raises(ValueError) as info:
        register(server, two, False)
    message = str(info.value)
    assert "is already registered" in message and "replace=True" in message
    if kind != "resource template":  # the template's handler is a lambda around one
        assert f"one at {__file__}:" in message
    assert message.startswith(kind.replace("add_tool", "tool") + " ")


@pytest.mark.parametrize("kind", REGISTER)
async def test_replace_true_replaces(kind: str) -> None:
    server = Server("dup")
    register = REGISTER[kind]
    register(server, one, False)
    register(server, two, True)
    async with connect(server) as client:
        if kind in ("tool", "add_tool"):
            result = await client.call_tool("same")
            assert result["content"] == [{"type": "text", "text": "two"}]
        elif kind == "prompt":
            got = await client.get_prompt("same", {})
            assert got["messages"][0]["content"]["text"] == "two"
        else:
            uri = "mem://same" if kind == "resource" else "mem://7"
            assert (await client.read_resource(uri))["contents"][0]["text"] == "two"


async def test_a_refused_duplicate_changes_nothing() -> None:
    server = Server("dup")
    server.tool(name="same")(one)
    changes: list[str] = []
    server._registry.on_change = changes.append
    with pytest.raises(ValueError):
        server.tool(name="same")(two)
    assert changes == []
    assert server.tools["same"].fn is one
