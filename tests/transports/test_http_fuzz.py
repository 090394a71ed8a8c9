"""Property-based test (hypothesis) of the real HTTP server: headers and bodies.

Each example sends a few requests over raw sockets to one live server: a
valid request of either era, then mutated. Headers are duplicated (with the
same or another value), dropped, given odd values (empty, blank, control
and non-ASCII characters, malformed origins, base64 sentinels gone wrong),
odd casing, or added where they do not belong; bodies are replaced by random
JSON or bytes. What must hold, for every request:

* it is answered, with a status from the documented table
  (:data:`trio_mcp._transports._http.STATUSES`);
* a JSON answer is a JSON-RPC message;
* nothing is logged as an error (no traceback: no 500 in disguise);
* the server stays up: a valid request after each example is answered 200.

The server requires a bearer token (``Bearer good``), so ``Authorization`` is
fuzzed too. It runs in its own thread and Trio loop for the whole module (starting
one per example would cost more than the examples).
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import attrs
import orjson
import pytest
import trio
from _support.fuzzing import json_values
from _support.http import ACCEPT, LEGACY, MODERN, legacy_call, modern_call
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_mcp
from trio_mcp import AccessToken, BearerAuth, Server
from trio_mcp._transports._http import STATUSES

Headers = list[tuple[bytes, bytes]]


@attrs.define
class Live:
    host: str
    port: int
    errors: list[logging.LogRecord]


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


async def verify(token: str) -> AccessToken | None:
    return AccessToken("fuzzer") if token == "good" else None


AUTH = BearerAuth(verify=verify)
TOKEN = (b"authorization", b"Bearer good")


def build() -> Server:
    server = Server("http-fuzz", "1.0", timeout=5)

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def forecast(
        region: Annotated[str | None, trio_mcp.McpHeader("Region")] = None, days: int = 1
    ) -> str:
        return f"{region}:{days}"

    return server


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    errors: list[logging.LogRecord] = []
    handler = _Collect(errors)
    loggers = [logging.getLogger(name) for name in ("trio_mcp", "hypercorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    ready: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        async def main() -> None:
            server = build()
            async with trio.open_nursery() as nursery:
                t = await nursery.start(
                    lambda task_status: server.serve_http(
                        "127.0.0.1",
                        0,
                        task_status=task_status,
                        body_timeout=5,
                        auth=AUTH,
                        max_sessions_per_identity=1 << 20,  # "init" examples open sessions
                    )
                )
                ready.put((t, trio.lowlevel.current_trio_token()))

        try:
            trio.run(main)
        finally:
            ready.put(None)

    thread = threading.Thread(target=run, name="http-fuzz-server", daemon=True)
    thread.start()
    transport, token = ready.get(timeout=60)
    port = int(transport.urls[0].split(":")[2].split("/")[0])
    try:
        yield Live("127.0.0.1", port, errors)
    finally:
        trio.from_thread.run_sync(transport.stop, trio_token=token)
        thread.join(30)
        for logger in loggers:
            logger.removeHandler(handler)


# ------------------------------------------------------------ the raw client


def send(live: Live, method: bytes, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
    """One request; the status, the response headers, and the body (SSE: read to its end).

    A GET that opens a stream is not read past its headers (a standalone
    stream never ends); everything else is read to EOF (``Connection: close``).
    """
    lines = [method + b" /mcp HTTP/1.1"]
    names = {k.lower() for k, _ in headers}
    if b"host" not in names:
        lines.append(b"host: 127.0.0.1:%d" % live.port)
    lines += [k + b": " + v for k, v in headers]
    lines += [b"content-length: %d" % len(body), b"connection: close"]
    with socket.create_connection((live.host, live.port), timeout=20) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"no answer: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        got = [tuple(h.split(b": ", 1)) for h in header_lines]
        response_headers: Headers = [(k.lower(), v) for k, v in got]  # type: ignore[misc]
        sse = (b"content-type", b"text/event-stream") in response_headers
        if not (sse and method == b"GET"):
            while chunk := sock.recv(65536):
                rest += chunk
    if (b"transfer-encoding", b"chunked") in response_headers:
        rest = _dechunk(rest)
    return int(status_line.split(b" ")[1]), response_headers, rest


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def initialize(live: Live) -> str:
    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}},
    }
    status, headers, data = send(
        live, b"POST", [(b"content-type", b"application/json"), TOKEN], orjson.dumps(body)
    )
    assert status == 200, data
    return dict(headers)[b"mcp-session-id"].decode()


def check_answer(status: int, headers: Headers, body: bytes) -> None:
    assert status in STATUSES, (status, body)
    ctype = dict(headers).get(b"content-type", b"")
    if ctype == b"application/json" and body:
        msg = json.loads(body)
        for item in msg if type(msg) is list else [msg]:
            assert item["jsonrpc"] == "2.0", item
            assert ("result" in item) != ("error" in item), item
            if "error" in item:
                assert type(item["error"]["code"]) is int
    elif ctype == b"text/event-stream" and body:
        for block in body.decode().split("\n\n"):
            for line in block.split("\n"):
                if line.startswith("data: ") and line[6:]:
                    json.loads(line[6:])


# ---------------------------------------------------------------- strategies

MODERN_HEADERS: Headers = [
    TOKEN,
    (b"content-type", b"application/json"),
    (b"accept", ACCEPT.encode()),
    (b"mcp-protocol-version", MODERN.encode()),
]

odd_values = st.one_of(
    st.sampled_from(
        [
            b"",
            b" ",
            b"\t",
            b"null",
            b"http://[::1",
            b"http://[evil.com]",
            b"http://evil.example.com",
            b"=?base64?ZWNobw==?=",
            b"=?base64?!!!?=",
            b"=?base64??=",
            b"Bearer ",
            b"bearer x",
            b"Bearer good",
            b"bearer good",
            b"Basic Z29vZA==",
            b"*/*",
            b"text/event-stream",
            b"application/json; charset=utf-8",
            b"2025-11-25",
            b"2026-07-28",
            b"1999-01-01",
            b"tools/call",
            b"echo",
            b"g.1",
            b"p1.2",
            b"\xff\xfe\xe9",
            b"x" * 3000,
            b"\x01\x7f",
        ]
    ),
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)

header_names = st.sampled_from(
    [
        b"host",
        b"origin",
        b"authorization",
        b"content-type",
        b"accept",
        b"mcp-protocol-version",
        b"mcp-method",
        b"mcp-name",
        b"mcp-param-region",
        b"mcp-session-id",
        b"last-event-id",
    ]
)


def casing(draw: st.DrawFn, name: bytes) -> bytes:
    return draw(st.sampled_from([name, name.upper(), name.title(), name.swapcase()]))


@st.composite
def request(draw: st.DrawFn, sid: str) -> tuple[bytes, Headers, bytes]:
    kind = draw(
        st.sampled_from(["modern_echo", "modern_param", "modern_list", "legacy", "init", "note"])
    )
    headers: Headers
    if kind == "modern_echo":
        body: Any = modern_call(1, "echo", {"text": draw(st.text(max_size=10))})
        headers = [*MODERN_HEADERS, (b"mcp-method", b"tools/call"), (b"mcp-name", b"echo")]
    elif kind == "modern_param":
        region = draw(st.sampled_from(["eu", "us-west", "é"]))
        body = modern_call(2, "forecast", {"region": region, "days": 2})
        value = region.encode() if region.isascii() else b"=?base64?w6k=?="
        headers = [
            *MODERN_HEADERS,
            (b"mcp-method", b"tools/call"),
            (b"mcp-name", b"forecast"),
            (b"mcp-param-region", value),
        ]
    elif kind == "modern_list":
        body = modern_call(3, "x", {})
        body["method"] = "tools/list"
        body["params"] = {"_meta": body["params"]["_meta"]}
        headers = [*MODERN_HEADERS, (b"mcp-method", b"tools/list")]
    elif kind == "legacy":
        body = legacy_call(4, "echo", {"text": "hi"})
        headers = [
            TOKEN,
            (b"content-type", b"application/json"),
            (b"accept", ACCEPT.encode()),
            (b"mcp-session-id", sid.encode()),
            (b"mcp-protocol-version", LEGACY.encode()),
        ]
    elif kind == "init":
        body = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}},
        }
        headers = [TOKEN, (b"content-type", b"application/json"), (b"accept", ACCEPT.encode())]
    else:
        body = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        headers = [
            TOKEN,
            (b"content-type", b"application/json"),
            (b"mcp-session-id", sid.encode()),
        ]
    raw = orjson.dumps(body)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["dup", "drop", "odd", "case", "add", "body"]))
        if op == "body":
            raw = draw(
                st.one_of(
                    json_values.map(lambda v: orjson.dumps(v)),
                    st.binary(max_size=40),
                    st.just(raw[: len(raw) // 2]),
                )
            )
        elif op == "add":
            headers.append((casing(draw, draw(header_names)), draw(odd_values)))
        elif headers:
            i = draw(st.integers(0, len(headers) - 1))
            name, value = headers[i]
            if op == "dup":
                same = draw(st.booleans())
                headers.insert(
                    draw(st.integers(0, len(headers))),
                    (casing(draw, name), value if same else draw(odd_values)),
                )
            elif op == "drop":
                del headers[i]
            elif op == "odd":
                headers[i] = (name, draw(odd_values))
            else:
                headers[i] = (casing(draw, name), value)
    method = draw(st.sampled_from([b"POST"] * 6 + [b"GET", b"DELETE", b"PUT"]))
    return method, headers, raw if method == b"POST" else b""


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_request_gets_a_documented_status_and_the_server_stays_up(
    live: Live, data: st.DataObject
) -> None:
    sid = initialize(live)
    for _ in range(data.draw(st.integers(1, 3))):
        method, headers, body = data.draw(request(sid))
        check_answer(*send(live, method, headers, body))
    assert live.errors == [], [r.getMessage() for r in live.errors]
    ping = modern_call(9, "echo", {"text": "still here"})
    status, _, answer = send(
        live,
        b"POST",
        [*MODERN_HEADERS, (b"mcp-method", b"tools/call"), (b"mcp-name", b"echo")],
        orjson.dumps(ping),
    )
    assert status == 200 and b"still here" in answer
    status, _, _ = send(live, b"DELETE", [TOKEN, (b"mcp-session-id", sid.encode())], b"")
    assert status in (200, 404)  # 404: an example ended it already
