"""trio_mcp.client.OAuth against a real authorization server and trio_mcp's own protected server.

Both run on loopback ports in the test: :class:`_support.oauth_as.AuthServer`
(registration, an authorization endpoint that approves at once, a token
endpoint checking PKCE with hashlib) and ``server.serve_http(auth=BearerAuth(...))``
(401 with ``resource_metadata``, RFC 9728 metadata, 403 ``insufficient_scope``
for a tool with scopes). Nothing of the client is mocked: the authorization
URL is followed over HTTP the way a browser would, without the user.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import trio
from _support.oauth_as import AuthServer

from trio_mcp import BearerAuth, Context, McpError, Server
from trio_mcp._client._oauth_discovery import parse_challenge
from trio_mcp.client import AuthorizationError, Client, MemoryStorage, OAuth

LIMIT = 30


@pytest.fixture
def auth_server() -> Iterator[AuthServer]:
    with AuthServer().running() as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def protected(auth_server: AuthServer, resource: str | None = None) -> AsyncIterator[str]:
    """A trio_mcp server whose HTTP endpoint needs ``mcp:tools``; ``write`` also ``files:write``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = Server("oauth-test", "1.0")

    @server.tool()
    async def whoami(ctx: Context) -> str:
        assert ctx.access_token is not None
        return " ".join(sorted(ctx.access_token.scopes))

    @server.tool(scopes={"files:write"})
    async def write() -> str:
        return "written"

    auth = BearerAuth(
        verify=auth_server.verify,
        resource=resource or url,
        authorization_servers=[auth_server.issuer],
        required_scopes=("mcp:tools",),
    )
    async with trio.open_nursery() as nursery:
        transport = await nursery.start(
            lambda task_status: server.serve_http(
                "127.0.0.1", port, task_status=task_status, auth=auth
            )
        )
        try:
            yield url
        finally:
            transport.stop()


class Browser:
    """Follows the authorization URL like a browser whose user approves: the 302's Location."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def __call__(self, url: str) -> str:
        self.urls.append(url)
        async with httpx.AsyncClient(follow_redirects=False) as http:
            response = await http.get(url)
        assert response.status_code == 302
        return response.headers["location"]

    def query(self, n: int) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.urls[n]).query).items()}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_authorization_code_flow_with_registration_and_pkce(
    auth_server: AuthServer, era: str
) -> None:
    browser, storage = Browser(), MemoryStorage()
    with trio.fail_after(LIMIT):
        async with protected(auth_server) as url:
            oauth = OAuth(browser, storage=storage, client_name="tests")
            async with Client(url, era=era, auth=oauth) as client:  # type: ignore[arg-type]
                assert (await client.call_tool("whoami")).text == "mcp:tools"
            # the same storage: the token is reused, no second authorization
            async with Client(url, era=era, auth=OAuth(browser, storage=storage)) as client:  # type: ignore[arg-type]
                assert (await client.call_tool("whoami")).text == "mcp:tools"
    assert len(browser.urls) == 1
    [registration] = auth_server.seen("/register")
    assert registration["application_type"] == "native"
    assert registration["client_name"] == "tests"
    assert "refresh_token" in registration["grant_types"]
    assert registration["token_endpoint_auth_method"] == "none"  # the server supports it
    query = browser.query(0)
    assert query["code_challenge_method"] == "S256"
    assert query["resource"] == url  # RFC 8707
    assert query["scope"] == "mcp:tools"  # the 401's scope
    [exchange] = auth_server.seen("/token")
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["resource"] == url and exchange["code_verifier"]  # PKCE checked by the AS
    # RFC 9728 first (named by the 401), then RFC 8414 at the issuer
    first = next(p for m, p, _ in auth_server.requests if m == "GET")
    assert first == "/.well-known/oauth-authorization-server"


async def test_step_up_asks_for_the_union_of_scopes(auth_server: AuthServer) -> None:
    browser = Browser()
    with trio.fail_after(LIMIT):
        async with (
            protected(auth_server) as url,
            Client(url, era="modern", auth=OAuth(browser)) as client,
        ):
            assert (await client.call_tool("whoami")).text == "mcp:tools"
            assert (await client.call_tool("write")).text == "written"  # 403, then step-up
            assert (await client.call_tool("whoami")).text == "files:write mcp:tools"
    assert len(browser.urls) == 2
    assert set(browser.query(1)["scope"].split()) == {"mcp:tools", "files:write"}


async def test_no_step_up_for_scopes_already_granted(auth_server: AuthServer) -> None:
    auth_server.withhold = {"files:write"}  # granted on paper, refused by the server
    browser = Browser()
    with trio.fail_after(LIMIT):
        async with (
            protected(auth_server) as url,
            Client(url, era="modern", auth=OAuth(browser)) as client,
        ):
            with pytest.raises(McpError, match="files:write"):
                await client.call_tool("write")
    assert len(browser.urls) == 2  # the first authorization and one step-up, no loop


async def test_an_expired_token_is_refreshed_not_reauthorized(auth_server: AuthServer) -> None:
    auth_server.refresh = True
    auth_server.expires_in = 5  # under the client's 30 s leeway: expired as soon as issued
    browser = Browser()
    with trio.fail_after(LIMIT):
        async with (
            protected(auth_server) as url,
            Client(url, era="modern", auth=OAuth(browser)) as client,
        ):
            for _ in range(3):
                assert (await client.call_tool("whoami")).text == "mcp:tools"
    grants = [form["grant_type"] for form in auth_server.seen("/token")]
    assert grants[0] == "authorization_code"
    assert grants[1:] and set(grants[1:]) == {"refresh_token"}
    assert len(browser.urls) == 1


async def test_a_pre_registered_client_authenticates_with_basic(auth_server: AuthServer) -> None:
    auth_server.pre_registered = {"my-app": "s3cret"}
    auth_server.auth_methods = ["client_secret_basic"]
    with trio.fail_after(LIMIT):
        async with protected(auth_server) as url:
            oauth = OAuth(Browser(), client_id="my-app", client_secret="s3cret")
            async with Client(url, era="modern", auth=oauth) as client:
                assert (await client.call_tool("whoami")).text == "mcp:tools"
    assert auth_server.seen("/register") == []
    [exchange] = auth_server.seen("/token")
    assert exchange["authorization"].startswith("Basic ")
    assert "client_secret" not in exchange


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"iss_mode": "wrong"}, "comes from issuer 'https://evil.example'"),
        ({"iss_mode": "omit"}, "has no iss, which"),
        (
            {"metadata_issuer": "https://attacker.example"},
            "names issuer 'https://attacker.example'",
        ),
    ],
)
async def test_a_wrong_issuer_is_refused_before_any_token(
    auth_server: AuthServer, setup: dict[str, Any], message: str
) -> None:
    for name, value in setup.items():
        setattr(auth_server, name, value)
    with trio.fail_after(LIMIT):
        async with protected(auth_server) as url:
            with pytest.raises(AuthorizationError, match=message):
                async with Client(url, era="modern", auth=OAuth(Browser())):
                    pass
    assert auth_server.seen("/token") == []


async def test_metadata_for_another_resource_is_refused(auth_server: AuthServer) -> None:
    with trio.fail_after(LIMIT):
        async with protected(auth_server, resource="http://127.0.0.1:1/mcp") as url:
            with pytest.raises(
                AuthorizationError, match=re.escape("names resource 'http://127.0.0.1:1/mcp'")
            ):
                async with Client(url, era="modern", auth=OAuth(Browser())):
                    pass
    assert auth_server.seen("/register") == [] and auth_server.seen("/authorize") == []


async def test_without_an_authorize_handler_the_error_says_so(auth_server: AuthServer) -> None:
    with trio.fail_after(LIMIT):
        async with protected(auth_server) as url:
            with pytest.raises(AuthorizationError, match=r"give OAuth\(authorize=...\)"):
                async with Client(url, era="modern", auth=OAuth()):
                    pass


async def test_an_issuer_with_a_path_is_discovered_under_it() -> None:
    with AuthServer(path="/tenant1").running() as auth_server:
        with trio.fail_after(LIMIT):
            async with (
                protected(auth_server) as url,
                Client(url, era="modern", auth=OAuth(Browser())) as client,
            ):
                assert (await client.call_tool("whoami")).text == "mcp:tools"
    gets = [p for m, p, _ in auth_server.requests if m == "GET" and "well-known" in p]
    assert gets == ["/.well-known/oauth-authorization-server/tenant1"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (None, None, None)),
        (
            'Bearer resource_metadata="https://a/.well-known/x", scope="a b"',
            ("https://a/.well-known/x", "a b", None),
        ),
        (
            'Bearer error="insufficient_scope", scope="files:write", error_description="no"',
            (None, "files:write", "insufficient_scope"),
        ),
        ('bearer scope=read, DPoP algs="ES256"', (None, "read", None)),
        ('Bearer scope="say \\"hi\\""', (None, 'say "hi"', None)),
    ],
)
def test_parse_challenge(header: str | None, expected: tuple[Any, ...]) -> None:
    challenge = parse_challenge(header)
    assert (challenge.resource_metadata, challenge.scope, challenge.error) == expected


def fake_as(
    *, endpoint: str = "https://as.example/authorize", prm: dict[str, Any] | None = None
) -> httpx.AsyncClient:
    """An in-process authorization server (and its protected resource metadata) over httpx."""
    docs = {
        "/.well-known/oauth-protected-resource/mcp": prm
        if prm is not None
        else {
            "resource": "https://mcp.example/mcp",
            "authorization_servers": ["https://as.example"],
        },
        "/.well-known/oauth-authorization-server": {
            "issuer": "https://as.example",
            "authorization_endpoint": endpoint,
            "token_endpoint": "https://as.example/token",
            "registration_endpoint": "https://as.example/register",
            "code_challenge_methods_supported": ["S256"],
        },
    }

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/register":
            return httpx.Response(201, json={"client_id": "c1"})
        doc = docs.get(request.url.path)
        return httpx.Response(200, json=doc) if doc is not None else httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def never(url: str) -> str:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"endpoint": "http://as.example/authorize"}, r"authorization_endpoint of .* is not HTTPS"),
        ({"prm": {"authorization_servers": ["https://as.example"]}}, "has no resource"),
    ],
)
async def test_plain_http_endpoints_and_metadata_without_resource_are_refused(
    setup: dict[str, Any], message: str
) -> None:
    seen: list[str] = []
    oauth = OAuth(lambda url: seen.append(url))  # type: ignore[arg-type,return-value]
    oauth._http = lambda: fake_as(**setup)  # type: ignore[method-assign]
    with pytest.raises(AuthorizationError, match=message):
        await oauth._authorize("k", "https://mcp.example/mcp", parse_challenge(None), [])
    assert seen == []  # the user is never sent there


async def test_a_plain_http_resource_metadata_url_is_refused() -> None:
    seen: list[str] = []
    oauth = OAuth(lambda url: seen.append(url))  # type: ignore[arg-type,return-value]
    oauth._http = fake_as  # type: ignore[method-assign]
    challenge = parse_challenge('Bearer resource_metadata="http://mcp.example/.well-known/x"')
    with pytest.raises(AuthorizationError, match=r"resource metadata URL .* is not HTTPS"):
        await oauth._authorize("k", "https://mcp.example/mcp", challenge, [])
    assert seen == []


async def test_an_authorize_step_that_never_finishes_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    oauth = OAuth(never, authorize_timeout=60)
    oauth._http = fake_as  # type: ignore[method-assign]
    with pytest.raises(AuthorizationError, match="did not finish within 60 s"):
        await oauth._authorize("k", "https://mcp.example/mcp", parse_challenge(None), [])
    assert await oauth.storage.get("tokens https://mcp.example/mcp") is None
