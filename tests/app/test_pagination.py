"""Cursor pagination of the list methods, in both eras."""

from __future__ import annotations

import pytest
from _support.app_server import ERAS, build

from trio_mcp import (
    McpError,
)
from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_pagination(era: str) -> None:
    server = build(page_size=2)
    for i in range(5):
        server.tool(name=f"extra{i}")(lambda: None)
    async with connect(server, era=era) as client:  # type: ignore[arg-type]
        first = await client.request("tools/list")
        assert len(first["tools"]) == 2 and "nextCursor" in first
        names = [t["name"] for t in await client.list_tools()]
        assert names == [t.name for t in server.tools.values()]  # deterministic: registration order
        assert names == [t["name"] for t in await client.list_tools()]
        for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            with pytest.raises(McpError) as info:
                await client.request(method, {"cursor": "not-a-cursor"})
            assert info.value.code == -32602
