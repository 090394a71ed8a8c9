"""Visibility: tags, ``enable``/``disable`` at runtime (with ``list_changed``), and scopes.

Over a stream (this in-memory client is one) the caller is the local user, who holds
every scope; over HTTP scopes hide and refuse (tests/transports/test_http_policies.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp import McpError, Server
from trio_mcp.testing import connect


def build() -> Server:
    server = Server("vis", "1.0")

    @server.tool(tags={"admin"})
    async def wipe() -> str:
        return "wiped"

    @server.tool(tags={"admin", "read"})
    async def audit() -> str:
        return "audited"

    @server.tool(scopes={"files:write"})
    async def write() -> str:
        return "written"

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.resource("data://secret", tags={"admin"})
    async def secret() -> str:
        return "s"

    @server.resource("users://{uid}", tags={"admin"})
    async def user(uid: str) -> str:
        return uid

    @server.prompt(tags={"admin"})
    async def confess() -> str:
        return "c"

    return server


def names(items: list[dict[str, Any]], key: str = "name") -> list[str]:
    return [i[key] for i in items]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_disable_and_enable_by_tag_and_name(era: str) -> None:
    server = build()
    async with connect(server, era=era) as client:  # type: ignore[arg-type]
        assert names(await client.list_tools()) == ["wipe", "audit", "write", "echo"]
        server.disable(tags={"admin"})
        assert names(await client.list_tools()) == ["write", "echo"]
        assert await client.list_resources() == []
        assert (await client.request("resources/templates/list"))["resourceTemplates"] == []
        assert await client.list_prompts() == []
        # Disabled is answered exactly like unknown
        with pytest.raises(McpError) as info:
            await client.call_tool("wipe")
        assert info.value.message == "Unknown tool: wipe"
        with pytest.raises(McpError):
            await client.read_resource("data://secret")
        with pytest.raises(McpError):
            await client.read_resource("users://7")
        with pytest.raises(McpError):
            await client.get_prompt("confess")

        server.enable(names={"audit"})  # a name enabled wins over its disabled tag
        assert names(await client.list_tools()) == ["audit", "write", "echo"]
        assert (await client.call_tool("audit"))["content"][0]["text"] == "audited"
        server.disable(names={"audit", "echo"})
        assert names(await client.list_tools()) == ["write"]
        server.enable(tags={"admin"}, names={"echo"})
        assert names(await client.list_tools()) == ["wipe", "write", "echo"]  # audit: by name
        assert names(await client.list_resources(), "uri") == ["data://secret"]


async def test_rules_apply_to_components_registered_later() -> None:
    server = build()
    server.disable(tags={"beta"})

    @server.tool(tags=["beta"])
    async def shiny() -> str:
        return "new"

    async with connect(server) as client:
        assert "shiny" not in names(await client.list_tools())
        server.enable(tags={"beta"})
        assert (await client.call_tool("shiny"))["content"][0]["text"] == "new"


async def test_list_changed_only_for_lists_that_changed() -> None:
    server = build()
    async with connect(server) as client:
        await client.ping()
        client.notifications.clear()
        server.disable(names={"echo"})
        await client.ping()
        assert [n["method"] for n in client.notifications] == ["notifications/tools/list_changed"]
        client.notifications.clear()
        server.disable(names={"echo"})  # no change: nothing sent
        server.disable(tags={"nobody-has-this"})
        await client.ping()
        assert client.notifications == []
        server.disable(tags={"admin"})
        await client.ping()
        assert sorted(n["method"] for n in client.notifications) == [
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
            "notifications/tools/list_changed",
        ]


async def test_scopes_are_not_enforced_over_a_stream() -> None:
    async with connect(build()) as client:
        assert "write" in names(await client.list_tools())
        assert (await client.call_tool("write"))["content"][0]["text"] == "written"


def test_a_string_is_not_a_collection_of_tags() -> None:
    server = Server("s")
    with pytest.raises(TypeError):

        @server.tool(tags="admin")
        async def t() -> str:
            return ""

    with pytest.raises(TypeError):
        server.disable(tags="admin")
    assert server.tools == {}
