"""MRTR ``requestState`` across workers: any worker with the same ``state_secret`` resumes it.

Two :class:`~trio_mcp.Server` objects stand for two worker processes (each in-memory
client reaches one); nothing is shared but the secret. Without a common secret each
worker signs with its own random key, and the other refuses the state.
"""

from __future__ import annotations

from typing import Any

import pytest

from trio_mcp import Context, McpError, Server
from trio_mcp.testing import connect

CONFIRM = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


def build(secret: bytes | None) -> Server:
    server = Server("mrtr-workers", state_secret=secret)

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Sure?", CONFIRM)
        return f"{answer.action}:{(answer.content or {}).get('ok')}"

    return server


async def retry(client: Any, first: dict[str, Any]) -> Any:
    (key,) = first["inputRequests"]
    params = {
        "name": "ask",
        "arguments": {},
        "inputResponses": {key: {"action": "accept", "content": {"ok": True}}},
        "requestState": first["requestState"],
    }
    return await client.request("tools/call", params)


async def test_state_signed_on_a_is_resumed_on_b_with_one_secret() -> None:
    caps = {"elicitation": {}}
    async with (
        connect(build(b"k" * 32), era="modern", capabilities=caps) as a,
        connect(build(b"k" * 32), era="modern", capabilities=caps) as b,
    ):
        first = await a.call_tool("ask", {})
        assert first["resultType"] == "input_required"
        done = await retry(b, first)
        assert done["content"][0]["text"] == "accept:True"


async def test_without_a_common_secret_b_refuses_the_state() -> None:
    caps = {"elicitation": {}}
    async with (
        connect(build(None), era="modern", capabilities=caps) as a,
        connect(build(None), era="modern", capabilities=caps) as b,
    ):
        first = await a.call_tool("ask", {})
        with pytest.raises(McpError) as info:
            await retry(b, first)
        assert info.value.code == -32602
        assert (await retry(a, first))["content"][0]["text"] == "accept:True"
