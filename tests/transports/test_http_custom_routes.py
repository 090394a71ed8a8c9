"""``@server.route``: custom HTTP routes beside the MCP endpoint, on both HTTP servers.

Over real HTTP (httpx, and raw requests for header lines a client library would not
send): the native server and Hypercorn serving ``asgi_app()``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from _support.http import modern_call, modern_headers, raw_request, serving

from trio_mcp import BearerAuth, HttpRequest, HttpResponse, Server
from trio_mcp.auth import StaticTokens

httpx = pytest.importorskip("httpx2")

SERVERS = ["native", "hypercorn"]


def routed() -> tuple[Server, list[HttpRequest]]:
    server = Server("routed")
    seen: list[HttpRequest] = []

    @server.tool()
    async def add(a: int, b: int) -> int:
        return a + b

    @server.route("/healthz")
    async def healthz(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse.json({"ok": True, "q": dict(request.query)}, headers={"x-ok": "1"})

    @server.route("/hook", methods=["POST", "put"])
    async def hook(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(201, f"{request.method} {request.json()['n'] + 1}")

    @server.route("/me", auth=True)
    async def me(request: HttpRequest) -> HttpResponse:
        assert request.token is not None
        return HttpResponse(body=request.token.subject)

    @server.route("/boom")
    async def boom(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("secret detail")

    return server, seen


def auth() -> BearerAuth:
    return BearerAuth(
        verify=StaticTokens({"tok": "alice"}), resource="http://127.0.0.1/mcp", required_scopes=()
    )


def base(url: str) -> str:
    return url.rsplit("/mcp", 1)[0]


@pytest.mark.parametrize("http_server", SERVERS)
async def test_a_route_answers_beside_the_mcp_endpoint(http_server: str) -> None:
    server, seen = routed()
    with trio.fail_after(20):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as client:
            r = await client.get(
                base(t.urls[0]) + "/healthz?check=db&check=cache&x=", headers={"X-Probe": "k8s"}
            )
            assert r.status_code == 200
            assert r.json() == {"ok": True, "q": {"check": "db", "x": ""}}
            assert r.headers["content-type"] == "application/json"
            assert r.headers["x-ok"] == "1"
            [request] = seen
            assert (request.method, request.path, request.body) == ("GET", "/healthz", b"")
            assert request.headers["x-probe"] == "k8s"
            assert request.query_string == "check=db&check=cache&x="
            assert request.client is not None and request.client[0] == "127.0.0.1"

            r = await client.post(base(t.urls[0]) + "/hook", json={"n": 41})
            assert (r.status_code, r.text) == (201, "POST 42")
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            r = await client.put(base(t.urls[0]) + "/hook", json={"n": 1})
            assert (r.status_code, r.text) == (201, "PUT 2")

            # The MCP endpoint is unchanged, and an unknown path is still 404.
            r = await client.post(
                t.urls[0],
                json=modern_call(1, "add", {"a": 1, "b": 2}),
                headers=modern_headers("tools/call", "add"),
            )
            assert r.json()["result"]["content"][0]["text"] == "3"
            assert (await client.get(base(t.urls[0]) + "/nope")).status_code == 404


@pytest.mark.parametrize("http_server", SERVERS)
async def test_another_method_is_405_with_allow(http_server: str) -> None:
    server, seen = routed()
    with trio.fail_after(20):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as client:
            r = await client.delete(base(t.urls[0]) + "/hook")
            assert r.status_code == 405
            assert r.headers["allow"] == "POST, PUT"
            assert (await client.post(base(t.urls[0]) + "/healthz")).status_code == 405
    assert seen == []


@pytest.mark.parametrize("http_server", SERVERS)
async def test_host_and_origin_guards_apply_to_routes(http_server: str) -> None:
    server, seen = routed()
    with trio.fail_after(20):
        async with serving(server, http_server=http_server) as t:
            url = base(t.urls[0]) + "/healthz"
            status, _ = await raw_request(url, [(b"host", b"evil.example")], method=b"GET")
            assert status == 421  # DNS rebinding
            origin = (b"origin", b"https://evil.example")
            status, _ = await raw_request(url, [origin], method=b"GET")
            assert status == 403
            twice = [(b"x-a", b"1"), (b"X-A", b"2")]
            status, _ = await raw_request(url, twice, method=b"GET")
            assert status == 200  # only the headers the guards read must be unique
            status, _ = await raw_request(url, [origin, origin], method=b"GET")
            assert status == 400
    assert [r.headers["x-a"] for r in seen] == ["1, 2"]


@pytest.mark.parametrize("http_server", SERVERS)
async def test_routes_are_not_behind_the_bearer_token_unless_asked(http_server: str) -> None:
    server, _ = routed()
    with trio.fail_after(20):
        async with (
            serving(server, http_server=http_server, auth=auth()) as t,
            httpx.AsyncClient() as client,
        ):
            root = base(t.urls[0])
            assert (await client.get(root + "/healthz")).status_code == 200  # no token needed
            r = await client.get(root + "/me")
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith("Bearer")
            r = await client.get(root + "/me", headers={"authorization": "Bearer tok"})
            assert (r.status_code, r.text) == (200, "alice")
            r = await client.post(
                t.urls[0],
                json=modern_call(1, "add", {"a": 1, "b": 2}),
                headers=modern_headers("tools/call", "add"),
            )
            assert r.status_code == 401  # the MCP endpoint still is


async def test_a_route_asking_for_auth_on_an_app_without_it_is_refused() -> None:
    server, _ = routed()
    with trio.fail_after(20):
        async with serving(server) as t, httpx.AsyncClient() as client:
            assert (await client.get(base(t.urls[0]) + "/me")).status_code == 401  # fail closed


@pytest.mark.parametrize("http_server", SERVERS)
async def test_a_handler_that_raises_is_500_without_its_message(
    http_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = routed()
    with trio.fail_after(20):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as client:
            r = await client.get(base(t.urls[0]) + "/boom")
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert "secret detail" in caplog.text  # logged, not sent


async def test_a_route_added_while_serving_is_served() -> None:
    server = Server("late")
    with trio.fail_after(20):
        async with serving(server) as t, httpx.AsyncClient() as client:
            assert (await client.get(base(t.urls[0]) + "/late")).status_code == 404

            @server.route("/late")
            async def late(request: HttpRequest) -> HttpResponse:
                return HttpResponse(body="here")

            assert (await client.get(base(t.urls[0]) + "/late")).text == "here"


def test_registration_is_checked() -> None:
    server = Server("s")

    async def handler(request: HttpRequest) -> Any:
        return HttpResponse()

    server.route("/a")(handler)
    with pytest.raises(ValueError, match="already registered"):
        server.route("/a")(handler)
    with pytest.raises(ValueError, match="must start with '/'"):
        server.route("a")(handler)
    with pytest.raises(ValueError, match="no methods"):
        server.route("/b", methods=[])(handler)


def test_a_route_at_the_mcp_endpoints_path_is_refused() -> None:
    # It would shadow the endpoint, and with auth=False bypass its bearer check.
    server = Server("s")

    @server.route("/mcp/", methods=["POST"])
    async def shadow(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    with pytest.raises(ValueError, match="is the MCP endpoint's path '/mcp'"):
        server.asgi_app(path="/mcp")
    assert server.asgi_app(path="/other") is not None


async def test_a_route_added_at_the_endpoints_path_later_does_not_shadow_it() -> None:
    server, _ = routed()
    with trio.fail_after(20):
        async with serving(server) as t, httpx.AsyncClient() as client:

            @server.route(urlsplit(t.urls[0]).path, methods=["POST"])
            async def shadow(request: HttpRequest) -> HttpResponse:
                return HttpResponse(body="shadowed")

            call, headers = (
                modern_call(1, "add", {"a": 1, "b": 2}),
                modern_headers("tools/call", "add"),
            )
            r = await client.post(t.urls[0], json=call, headers=headers)
    assert r.text != "shadowed" and r.status_code == 200


@pytest.mark.parametrize("http_server", SERVERS)
async def test_response_headers_cannot_inject_lines_or_reframe_the_body(
    http_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A route that echoes the request into a header (a redirect's Location) must not
    # let a CR LF in it write a header of the attacker's; nor may a handler's own
    # Content-Length / Transfer-Encoding contradict the framing the server writes.
    server = Server("echo")

    @server.route("/go")
    async def go(request: HttpRequest) -> HttpResponse:
        return HttpResponse(302, headers={"location": request.query["next"]})

    @server.route("/framed")
    async def framed(request: HttpRequest) -> HttpResponse:
        return HttpResponse(body="hello", headers={request.query["h"]: request.query["v"]})

    with trio.fail_after(20):
        async with serving(server, http_server=http_server) as t, httpx.AsyncClient() as client:
            root = base(t.urls[0])
            r = await client.get(root + "/go?next=/a")
            assert (r.status_code, r.headers["location"]) == (302, "/a")
            r = await client.get(root + "/go?next=/a%0d%0aset-cookie:%20evil=1")
            assert r.status_code == 500
            assert "set-cookie" not in r.headers
            for name, value in [
                ("content-length", "0"),
                ("transfer-encoding", "chunked"),
                ("bad name", "1"),
            ]:
                r = await client.get(root + "/framed", params={"h": name, "v": value})
                assert (r.status_code, r.text) == (500, "Internal Server Error"), name
    assert "header" in caplog.text
