"""Resources and resource templates, in both eras, through the in-memory client."""

from __future__ import annotations

import pytest
from _support.app_server import ERAS, build

from trio_mcp import (
    McpError,
)
from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_resources(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        listed = await client.request("resources/list")
        assert [r["uri"] for r in listed["resources"]] == ["config://settings", "test://binary"]
        assert listed["resources"][0] == {
            "uri": "config://settings",
            "name": "settings",
            "description": "App settings.",
            "mimeType": "application/json",
            "annotations": {"priority": 1},
        }
        templates = await client.request("resources/templates/list")
        assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == [
            "users://{user_id}/age",
            "files://{+path}",
        ]
        text = await client.request("resources/read", {"uri": "config://settings"})
        assert text["contents"] == [
            {"uri": "config://settings", "mimeType": "application/json", "text": '{"debug":true}'}
        ]
        blob = await client.request("resources/read", {"uri": "test://binary"})
        assert blob["contents"][0]["blob"] == "AAE="
        typed = await client.request("resources/read", {"uri": "users://41/age"})
        assert typed["contents"][0]["text"] == "user 42"
        nested = await client.request("resources/read", {"uri": "files://a/b"})
        assert nested["contents"][0] == {
            "uri": "files://a/b",
            "mimeType": "text/x-test",
            "text": "A/B",
        }
        expected = -32002 if era == "legacy" else -32602
        for uri in ("nope://x", "files://missing"):
            with pytest.raises(McpError) as info:
                await client.request("resources/read", {"uri": uri})
            assert info.value.code == expected
            assert info.value.data == {"uri": uri}
        with pytest.raises(McpError) as info:
            await client.request("resources/read", {"uri": "users://abc/age"})
        assert info.value.code == -32602
