"""Content blocks in tool results (audio, resource links...), in both eras."""

from __future__ import annotations

import pytest
from _support.app_server import ERAS, build

from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_content_types(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        result = await client.call_tool("contents")
        assert result["content"] == [
            {"type": "audio", "data": "d2F2", "mimeType": "audio/wav"},
            {
                "type": "resource_link",
                "uri": "config://settings",
                "name": "settings",
                "mimeType": "application/json",
            },
        ]
