"""Prompts: listing, arguments, and messages of every content type, in both eras."""

from __future__ import annotations

import pytest
from _support.app_server import ERAS, build

from trio_mcp import (
    McpError,
)
from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_prompts(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        listed = await client.request("prompts/list")
        assert listed["prompts"] == [
            {
                "name": "review",
                "title": "Code review",
                "description": "Review code.",
                "arguments": [
                    {"name": "code", "required": True},
                    {"name": "strict", "required": False},
                ],
            }
        ]
        got = await client.request(
            "prompts/get", {"name": "review", "arguments": {"code": "x", "strict": "true"}}
        )
        assert got["messages"][0] == {
            "role": "user",
            "content": {"type": "text", "text": "review x strict=True"},
        }
        assert got["messages"][1]["content"]["type"] == "image"
        assert got["messages"][2]["content"]["resource"]["uri"] == "config://settings"
        for params in (
            {"name": "review"},
            {"name": "nope"},
            {"name": "review", "arguments": {"code": 1}},
        ):
            with pytest.raises(McpError) as info:
                await client.request("prompts/get", params)
            assert info.value.code == -32602
