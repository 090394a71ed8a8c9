"""Resource subscriptions and list_changed (legacy), the ``subscriptions/listen`` stream (modern)."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from _support.app_server import build

from trio_mcp import (
    McpError,
)
from trio_mcp.testing import connect


async def test_legacy_subscribe_and_dynamic_changes() -> None:
    server = build()
    async with connect(server) as client:
        await client.request("resources/subscribe", {"uri": "config://settings"})
        assert server.notify_resource_updated("config://settings") == 1
        assert server.notify_resource_updated("test://binary") == 0
        note = await client.wait_notification("notifications/resources/updated")
        assert note["params"] == {"uri": "config://settings"}
        await client.request("resources/unsubscribe", {"uri": "config://settings"})
        assert server.notify_resource_updated("config://settings") == 0

        server.tool(name="late")(lambda: "late")
        await client.wait_notification("notifications/tools/list_changed")
        server.remove_prompt("review")
        await client.wait_notification("notifications/prompts/list_changed")
        server.remove_resource("test://binary")
        await client.wait_notification("notifications/resources/list_changed")
        assert "late" in [t["name"] for t in await client.list_tools()]
        with pytest.raises(McpError) as info:
            await client.request("subscriptions/listen", {"notifications": {}})
        assert info.value.code == -32601


async def test_modern_listen_stream() -> None:
    server = build()
    async with connect(server, era="modern") as client:
        rid = await client.start_request(
            "subscriptions/listen",
            {
                "notifications": {
                    "toolsListChanged": True,
                    "resourceSubscriptions": ["config://settings"],
                }
            },
        )
        ack = await client.wait_notification("notifications/subscriptions/acknowledged")
        assert ack["params"] == {
            "_meta": {"io.modelcontextprotocol/subscriptionId": rid},
            "notifications": {
                "toolsListChanged": True,
                "resourceSubscriptions": ["config://settings"],
            },
        }
        server.tool(name="late")(lambda: "late")
        changed = await client.wait_notification("notifications/tools/list_changed")
        assert changed["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": rid}
        server.remove_prompt("review")  # not asked for: not sent
        assert server.notify_resource_updated("config://settings") == 1
        updated = await client.wait_notification("notifications/resources/updated")
        assert updated["params"]["uri"] == "config://settings"
        assert not [
            n for n in client.notifications if n["method"] == "notifications/prompts/list_changed"
        ]
        with pytest.raises(McpError) as info:
            await client.request("resources/subscribe", {"uri": "config://settings"})
        assert info.value.code == -32601
        # Client cancels: the stream ends with no response.
        await client.cancel(rid)
        await trio.sleep(0.01)
        assert server.notify_resource_updated("config://settings") == 0
    assert client._waiters[rid].message is None


async def test_modern_listen_ends_with_result_on_shutdown() -> None:
    server = build()
    async with connect(server, era="modern") as client:
        rid = await client.start_request(
            "subscriptions/listen", {"notifications": {"toolsListChanged": True}}
        )
        await client.wait_notification("notifications/subscriptions/acknowledged")
    message = client._waiters[rid].message
    assert message is not None
    assert message["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == rid
    assert message["result"]["resultType"] == "complete"
