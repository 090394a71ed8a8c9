"""Per-request policies over real HTTP: scopes (403), rate limits (429) and ``ctx.http``.

The server runs on a loopback port in the test's own loop (Hypercorn); the client is
``httpx2``. Modern-era answers carry the HTTP status; legacy-era answers ride an SSE
stream already opened with 200, so there the JSON-RPC error (same code and data) is
the answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from _support.http import ACCEPT, LEGACY, META, MODERN, serving

from trio_mcp import AccessToken, BearerAuth, Context, Server
from trio_mcp.middleware import RateLimit

httpx = pytest.importorskip("httpx2")

TOKENS = {
    "reader": AccessToken("alice", frozenset({"files:read"})),
    "writer": AccessToken("bob", frozenset({"files:read", "files:write"})),
}


async def verify(token: str) -> AccessToken | None:
    return TOKENS.get(token)


AUTH = BearerAuth(verify=verify, resource="http://127.0.0.1/mcp")


def build() -> Server:
    server = Server("policies", "1.0")

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool(scopes={"files:write"})
    async def write(path: str) -> str:
        return f"wrote {path}"

    @server.resource("files://readme", scopes={"files:read"})
    async def readme() -> str:
        return "read me"

    @server.tool()
    async def where(ctx: Context) -> dict[str, Any]:
        http = ctx.http
        assert http is not None
        return {
            "method": http.method,
            "path": http.path,
            "tenant": http.headers.get("x-tenant"),
            "client": http.client[0] if http.client else None,
            "subject": http.token.subject if http.token else None,
        }

    return server


def modern(method: str, params: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``client.post``: a modern request and its mirrored headers."""
    headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
    name = params.get("name") or params.get("uri")
    if name is not None:
        headers["mcp-name"] = name
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
    return {"json": body, "headers": headers}


async def legacy_session(c: Any, url: str, token: str | None = None) -> dict[str, str]:
    """Initialize a legacy session; return the headers its later requests need."""
    auth = {"authorization": f"Bearer {token}"} if token else {}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    r = await c.post(url, json=init, headers={"accept": ACCEPT, **auth})
    assert r.status_code == 200, r.text
    headers = {
        "accept": ACCEPT,
        "mcp-session-id": r.headers["mcp-session-id"],
        "mcp-protocol-version": LEGACY,
        **auth,
    }
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await c.post(url, json=note, headers=headers)).status_code == 202
    return headers


async def legacy(c: Any, url: str, headers: dict[str, str], rid: int, method: str, **params: Any):  # type: ignore[no-untyped-def]
    """One legacy request; its answer from the SSE stream (or the JSON body)."""
    msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
    r = await c.post(url, json=msg, headers=headers)
    assert r.status_code == 200, r.text
    if r.headers["content-type"] == "application/json":
        return r.json()
    data = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
    return json.loads([d for d in data if d][-1])


# ------------------------------------------------------------------- scopes


async def test_scopes_hide_and_refuse_with_403_and_the_challenge_modern() -> None:
    with trio.fail_after(10):
        async with serving(build(), auth=AUTH) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            r = await c.post(url, **modern("tools/list", {}, "reader"))
            assert [x["name"] for x in r.json()["result"]["tools"]] == ["echo", "where"]
            r = await c.post(url, **modern("tools/list", {}, "writer"))
            assert [x["name"] for x in r.json()["result"]["tools"]] == ["echo", "write", "where"]

            call = {"name": "write", "arguments": {"path": "/tmp/x"}}
            r = await c.post(url, **modern("tools/call", call, "reader"))
            assert r.status_code == 403
            challenge = r.headers["www-authenticate"]
            assert challenge.startswith('Bearer error="insufficient_scope"')
            assert 'scope="files:write"' in challenge
            assert 'resource_metadata="http://127.0.0.1/' in challenge
            error = r.json()["error"]
            assert error["code"] == -32051
            assert error["data"] == {
                "requiredScopes": ["files:write"],
                "missingScopes": ["files:write"],
            }
            r = await c.post(url, **modern("tools/call", call, "writer"))
            assert r.status_code == 200
            assert r.json()["result"]["content"][0]["text"] == "wrote /tmp/x"

            r = await c.post(url, **modern("resources/list", {}, "reader"))
            assert [x["uri"] for x in r.json()["result"]["resources"]] == ["files://readme"]


async def test_scopes_without_auth_over_http_refuse_everyone() -> None:
    with trio.fail_after(10):
        async with serving(build()) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            r = await c.post(url, **modern("tools/list", {}))
            assert "write" not in [x["name"] for x in r.json()["result"]["tools"]]
            r = await c.post(url, **modern("resources/read", {"uri": "files://readme"}))
            assert r.status_code == 403
            assert 'scope="files:read"' in r.headers["www-authenticate"]


async def test_scopes_legacy_session_gets_the_json_rpc_error() -> None:
    with trio.fail_after(10):
        async with serving(build(), auth=AUTH) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            headers = await legacy_session(c, url, "reader")
            listed = await legacy(c, url, headers, 1, "tools/list")
            assert "write" not in [x["name"] for x in listed["result"]["tools"]]
            answer = await legacy(c, url, headers, 2, "tools/call", name="write", arguments={})
            assert answer["error"]["code"] == -32051
            assert answer["error"]["data"]["missingScopes"] == ["files:write"]


# --------------------------------------------------------------- rate limits


async def test_rate_limit_429_with_retry_after_modern_and_error_legacy() -> None:
    server = build()
    server.add_middleware(RateLimit(rate=0.01, burst=2, methods={"tools/call"}))
    call = {"name": "echo", "arguments": {"text": "x"}}
    with trio.fail_after(10):
        async with serving(server, auth=AUTH) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            for _ in range(2):
                r = await c.post(url, **modern("tools/call", call, "reader"))
                assert r.status_code == 200, r.text
            r = await c.post(url, **modern("tools/call", call, "reader"))
            assert r.status_code == 429
            assert 95 <= int(r.headers["retry-after"]) <= 100  # one token per 100 s
            assert r.json()["error"]["code"] == -32050
            assert 95 <= r.json()["error"]["data"]["retryAfter"] <= 100
            # per subject: bob has his own bucket, and so does a legacy session of his
            r = await c.post(url, **modern("tools/call", call, "writer"))
            assert r.status_code == 200
            headers = await legacy_session(c, url, "writer")
            answer = await legacy(c, url, headers, 1, "tools/call", **call)
            assert answer["result"]["content"][0]["text"] == "x"
            answer = await legacy(c, url, headers, 2, "tools/call", **call)
            assert answer["error"]["code"] == -32050


# ------------------------------------------------------------------ ctx.http


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_ctx_http_sees_the_request(era: str) -> None:
    with trio.fail_after(10):
        async with serving(build(), auth=AUTH) as t, httpx.AsyncClient() as c:
            url = t.urls[0]
            call = {"name": "where", "arguments": {}}
            if era == "modern":
                kwargs = modern("tools/call", call, "writer")
                kwargs["headers"]["x-tenant"] = "acme"
                answer = (await c.post(url, **kwargs)).json()
            else:
                headers = await legacy_session(c, url, "writer")
                answer = await legacy(
                    c, url, {**headers, "x-tenant": "acme"}, 5, "tools/call", **call
                )
            assert json.loads(answer["result"]["content"][0]["text"]) == {
                "method": "POST",
                "path": "/mcp",
                "tenant": "acme",
                "client": "127.0.0.1",
                "subject": "bob",
            }
