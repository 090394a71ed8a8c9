"""``completion/complete`` for prompt arguments and resource templates, in both eras."""

from __future__ import annotations

import pytest
from _support.app_server import ERAS, build

from trio_mcp import (
    McpError,
)
from trio_mcp.testing import connect


@pytest.mark.parametrize("era", ERAS)
async def test_completion(era: str) -> None:
    async with connect(build(), era=era) as client:  # type: ignore[arg-type]
        many = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "review"},
                "argument": {"name": "code", "value": "v"},
            },
        )
        assert many["completion"]["values"][:2] == ["v0", "v1"]
        assert len(many["completion"]["values"]) == 100
        assert (many["completion"]["total"], many["completion"]["hasMore"]) == (150, True)
        ctx = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "users://{user_id}/age"},
                "argument": {"name": "user_id", "value": ""},
                "context": {"arguments": {"other": "1"}},
            },
        )
        assert ctx["completion"] == {
            "values": ["users://{user_id}/age:{'other': '1'}"],
            "total": 1,
            "hasMore": False,
        }
        with pytest.raises(McpError):
            await client.request(
                "completion/complete",
                {
                    "ref": {"type": "ref/prompt", "name": "x"},
                    "argument": {"name": "a", "value": ""},
                },
            )
