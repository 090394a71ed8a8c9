"""One identity cannot starve the others (issue 13, item 10), against the real HTTP server.

Per bearer-token subject: legacy sessions and handlers in flight have a quota
(429 over it) well under the endpoint's limits (503), so another subject is
still served. A modern ``requestState`` (MRTR) issued to one subject is refused
to another.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from _support.http import (
    ACCEPT,
    LEGACY,
    META,
    initialize,
    legacy_call,
    legacy_headers,
    modern_call,
    modern_headers,
    serving,
)

from trio_mcp import AccessToken, BearerAuth, Context, Server

httpx = pytest.importorskip("httpx2")

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


async def verify(token: str) -> AccessToken | None:
    subject = TOKENS.get(token)
    return AccessToken(subject) if subject else None


AUTH = BearerAuth(verify=verify)


def bearer(who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {who}-token"}


def build() -> tuple[Server, dict[str, Any]]:
    server = Server("quotas", "1.0")
    state: dict[str, Any] = {"running": 0, "release": trio.Event()}

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def wait() -> str:
        state["running"] += 1
        try:
            await state["release"].wait()
        finally:
            state["running"] -= 1
        return "released"

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("Your name?", {"type": "object", "properties": {}})
        return f"{answer.action}"

    return server, state


async def until(predicate: Any) -> None:
    while not predicate():
        await trio.sleep(0.01)


async def test_an_identity_at_its_session_quota_gets_429_and_others_are_served() -> None:
    server, _ = build()
    options = {"auth": AUTH, "max_sessions_per_identity": 2, "max_sessions": 10}
    with trio.fail_after(15):
        async with serving(server, **options) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            first = await initialize(c, url, **bearer("alice"))
            await initialize(c, url, **bearer("alice"))
            init = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {}},
            }
            r = await c.post(url, json=init, headers={"accept": ACCEPT, **bearer("alice")})
            assert r.status_code == 429 and r.json()["id"] == 1
            await initialize(c, url, **bearer("bob"))  # bob is not held up by alice
            r = await c.delete(url, headers={**legacy_headers(first), **bearer("alice")})
            assert r.status_code == 200
            await initialize(c, url, **bearer("alice"))  # her quota has room again
            assert len(t.sessions) == 3


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_an_identity_at_its_request_quota_gets_429_and_others_are_served(
    era: str,
) -> None:
    server, state = build()
    options = {"auth": AUTH, "max_requests_per_identity": 2, "max_requests": 3}
    with trio.fail_after(20):
        async with serving(server, **options) as t, httpx.AsyncClient(timeout=15) as c:
            url = t.urls[0]
            sessions = {}
            if era == "legacy":
                sessions = {who: await initialize(c, url, **bearer(who)) for who in TOKENS.values()}

            async def call(who: str, rid: int, tool: str = "wait") -> Any:
                if era == "modern":
                    body = modern_call(rid, tool, {"text": "hi"} if tool == "echo" else {})
                    headers = modern_headers("tools/call", tool)
                else:
                    body = legacy_call(rid, tool, {"text": "hi"} if tool == "echo" else {})
                    headers = legacy_headers(sessions[who])
                return await c.post(url, json=body, headers={**headers, **bearer(who)})

            answers: list[Any] = []
            async with trio.open_nursery() as nursery:

                async def keep(who: str, rid: int) -> None:
                    answers.append(await call(who, rid))

                for rid in (1, 2):
                    nursery.start_soon(keep, "alice", rid)
                await until(lambda: state["running"] == 2)
                r = await call("alice", 3, "echo")
                assert r.status_code == 429  # her share is used up: refused, not queued
                r = await call("bob", 4, "echo")
                assert r.status_code == 200 and "hi" in r.text  # under max_requests: served
                state["release"].set()
            assert [a.status_code for a in answers] == [200, 200]
            r = await call("alice", 5, "echo")
            assert r.status_code == 200  # her handlers ended: room again
            assert not t._quotas.requests  # nothing counted once nothing runs


async def test_request_state_is_bound_to_the_token_subject() -> None:
    server, _ = build()
    meta = {**META, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}
    with trio.fail_after(15):
        async with serving(server, auth=AUTH) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            headers = modern_headers("tools/call", "ask")

            async def ask(who: str, extra: dict[str, Any]) -> Any:
                body = modern_call(1, "ask", {})
                body["params"] = {**body["params"], "_meta": meta, **extra}
                r = await c.post(url, json=body, headers={**headers, **bearer(who)})
                return r.json()

            first = (await ask("alice", {}))["result"]
            assert first["resultType"] == "input_required"
            [key] = first["inputRequests"]
            retry = {
                "inputResponses": {key: {"action": "decline"}},
                "requestState": first["requestState"],
            }
            stolen = await ask("bob", retry)  # bob replays alice's state
            assert stolen["error"]["code"] == -32602
            assert "requestState" in stolen["error"]["message"]
            done = (await ask("alice", retry))["result"]
            assert done["resultType"] == "complete"
            assert done["content"][0]["text"] == "decline"
