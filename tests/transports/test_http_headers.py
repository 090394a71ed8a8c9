"""Request headers against the real HTTP server: duplicates, odd values, a malformed Origin.

Issue 13, item 4, and the 408 path of item 11. Requests go over a raw socket
(:func:`_support.http.raw_request`) with exactly the header lines given: a
client library would merge or refuse duplicates. After each fault the server
answers a valid request, and nothing was logged as an error (no traceback).
"""

from __future__ import annotations

import logging
from typing import Annotated

import orjson
import pytest
import trio
from _support.http import MODERN, json_body, modern_call, raw_request, serving

import trio_mcp
from trio_mcp import AccessToken, BearerAuth, Server

CALL = orjson.dumps(modern_call(7, "forecast", {"region": "eu", "days": 2}))
GOOD: list[tuple[bytes, bytes]] = [
    (b"content-type", b"application/json"),
    (b"accept", b"application/json, text/event-stream"),
    (b"mcp-protocol-version", MODERN.encode()),
    (b"mcp-method", b"tools/call"),
    (b"mcp-name", b"forecast"),
    (b"mcp-param-region", b"eu"),
]


def build() -> Server:
    server = Server("headers", "1.0")

    @server.tool()
    async def forecast(
        region: Annotated[str | None, trio_mcp.McpHeader("Region")] = None, days: int = 1
    ) -> str:
        return f"{region}:{days}"

    return server


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def ok(url: str) -> None:
    status, body = await raw_request(url, GOOD, CALL)
    assert status == 200, body
    assert json_body(body)["result"]["content"][0]["text"] == "eu:2"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (b"mcp-method", -32020),
        (b"mcp-name", -32020),
        (b"mcp-protocol-version", -32020),
        (b"mcp-param-region", -32020),
        (b"host", -32600),
        (b"origin", -32600),
        (b"mcp-session-id", -32600),
        (b"content-type", -32600),
        (b"last-event-id", -32600),
    ],
)
async def test_a_duplicate_header_is_refused(
    name: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with trio.fail_after(15):
        async with serving(build()) as t:
            url = t.urls[0]
            values = dict(GOOD)
            values.setdefault(b"host", t.urls[0].split("/")[2].encode())
            values.setdefault(b"origin", b"http://localhost:5173")
            values.setdefault(b"mcp-session-id", b"abc")
            values.setdefault(b"last-event-id", b"g.1")
            first = [(k, v) for k, v in GOOD if k != name] + [(name, values[name])]
            for second in (values[name], b"other"):  # even the same value twice
                for casing in (name, name.upper()):
                    status, body = await raw_request(url, [*first, (casing, second)], CALL)
                    assert status == 400, (name, body)
                    if name == b"host" and not body:
                        continue  # h11 refuses it before the app (our check is for other servers)
                    assert json_body(body)["error"]["code"] == code
            await ok(url)
    no_errors_logged(caplog)


async def test_duplicate_authorization_is_refused() -> None:
    async def verify(token: str) -> AccessToken | None:
        return AccessToken(token) if token in ("alice", "bob") else None

    with trio.fail_after(15):
        async with serving(build(), auth=BearerAuth(verify=verify)) as t:
            url = t.urls[0]
            alice = (b"authorization", b"Bearer alice")
            status, _ = await raw_request(url, [*GOOD, alice], CALL)
            assert status == 200
            for second in (b"Bearer bob", b"Bearer alice"):
                status, body = await raw_request(
                    url, [*GOOD, alice, (b"Authorization", second)], CALL
                )
                assert status == 400, body
            status, _ = await raw_request(url, [*GOOD, (b"authorization", b"Bearer   ")], CALL)
            assert status == 401  # an empty token is no token (never reaches the verifier)


async def test_mcp_param_header_for_an_absent_argument_is_refused() -> None:
    with trio.fail_after(15):
        async with serving(build()) as t:
            url = t.urls[0]
            body = orjson.dumps(modern_call(8, "forecast", {"days": 3}))
            without = [(k, v) for k, v in GOOD if k != b"mcp-param-region"]
            status, data = await raw_request(url, without, body)
            assert status == 200 and json_body(data)["result"]["content"][0]["text"] == "None:3"
            status, data = await raw_request(url, GOOD, body)  # Mcp-Param-Region: eu, no region
            assert status == 400
            assert json_body(data)["error"]["code"] == -32020
            await ok(url)


@pytest.mark.parametrize(
    "origin",
    [b"http://[::1", b"http://[evil.com]", b"http://a]b", b"null", b"", b"http://", b"\xff\xfe"],
)
async def test_a_malformed_origin_is_403_not_500(
    origin: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with trio.fail_after(15):
        async with serving(build()) as t:
            status, body = await raw_request(t.urls[0], [*GOOD, (b"origin", origin)], CALL)
            assert status == 403, body
            assert json_body(body)["error"]["code"] == -32600
            await ok(t.urls[0])
    no_errors_logged(caplog)


async def test_odd_casing_of_header_names_is_the_same_header() -> None:
    with trio.fail_after(15):
        async with serving(build()) as t:
            odd = [(k.upper() if i % 2 else k.title(), v) for i, (k, v) in enumerate(GOOD)]
            status, body = await raw_request(t.urls[0], odd, CALL)
            assert status == 200, body


async def test_clients_leaving_mid_body_get_408_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 11: the 408 answer used to meet Hypercorn closing the connection the client
    had ended (``trio.BusyResourceError``, a traceback in the log) about once in six."""
    caplog.set_level(logging.WARNING)
    n = 90
    got: list[bytes] = []
    with trio.fail_after(60):
        async with serving(build(), body_timeout=0.2) as t:
            port = int(t.urls[0].split(":")[2].split("/")[0])

            async def client(i: int) -> None:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(
                        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                        b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{"
                    )
                    if i % 3 == 0:  # leave at some point around the timeout
                        await trio.sleep(0.4 * (i / n))
                        return
                    data = b""
                    while b"\r\n\r\n" not in data and (chunk := await stream.receive_some()):
                        data += chunk
                    got.append(data.split(b"\r\n", 1)[0])
                    if i % 3 == 2:  # send the rest of the body after the answer, then leave
                        try:
                            await stream.send_all(b"x" * 99)
                        except trio.BrokenResourceError:
                            pass

            async with trio.open_nursery() as nursery:
                for i in range(n):
                    nursery.start_soon(client, i)
            await ok(t.urls[0])
    assert got and all(line.startswith(b"HTTP/1.1 408") for line in got), got
    no_errors_logged(caplog)


def test_check_unique_reads_the_raw_header_list() -> None:
    """Hypercorn's h11 refuses a second Host itself; another server may not, so the router
    checks every header it reads, whatever the server in front of it did."""
    from trio_mcp._transports._asgi import HttpError
    from trio_mcp._transports._http_headers import check_unique

    check_unique({"headers": [(b"accept", b"a"), (b"accept", b"b"), (b"x-other", b"1")] * 2})
    for name in (b"host", b"Origin", b"MCP-NAME", b"mcp-param-x", b"authorization"):
        with pytest.raises(HttpError) as info:
            check_unique({"headers": [(name, b"1"), (name.lower(), b"1")]})
        assert info.value.status == 400


def test_the_header_map_is_made_once_and_follows_the_header_list() -> None:
    """``header()`` reads a map made once per request (kept in the scope): the first value,
    stripped; a scope whose header list is replaced is read anew, not from the old map."""
    from trio_mcp._transports._asgi import header, headers_of

    scope: dict[str, object] = {
        "headers": [(b"Accept", b" a \t"), (b"accept", b"b"), (b"x-one", b"1")]
    }
    assert header(scope, b"accept") == "a"
    assert headers_of(scope)[1] == {b"accept"}
    assert headers_of(scope)[0] is headers_of(scope)[0]  # made once
    scope["headers"] = [(b"x-two", b"2")]
    assert header(scope, b"accept") is None and header(scope, b"x-two") == "2"
    assert headers_of(scope)[1] == frozenset()


def test_http_request_info_headers_join_repeats_and_compare_as_a_mapping() -> None:
    from trio_mcp import HttpRequestInfo

    info = HttpRequestInfo.of(
        "POST", "/mcp", b"q=1", [(b"Accept", b"a"), (b"accept", b" b "), (b"X", b"1")], None, None
    )
    assert dict(info.headers) == {"accept": "a, b", "x": "1"}
    assert info.headers == {"accept": "a, b", "x": "1"} and info.headers["x"] == "1"
    assert info == HttpRequestInfo.of(
        "POST", "/mcp", b"q=1", [(b"accept", b"a, b"), (b"x", b"1")], None, None
    )
    assert info.query == "q=1" and len(info.headers) == 2
