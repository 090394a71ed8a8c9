"""The real HTTP server in the test's own Trio loop, and the raw requests the HTTP tests send.

``serving(server, **options)`` runs ``server.serve_http`` on 127.0.0.1:0 and
yields the transport; :func:`raw_request` sends one HTTP/1.1 request over a
socket with exactly the header lines given (duplicates, odd casing and odd
values included, which an HTTP client library would merge or refuse), and
returns the status and body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import trio

from trio_mcp import Server
from trio_mcp.lowlevel import HttpTransport

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}
ACCEPT = "application/json, text/event-stream"


@asynccontextmanager
async def serving(server: Server, **options: Any) -> AsyncIterator[HttpTransport]:
    """``server.serve_http("127.0.0.1", 0, **options)`` for the duration of the block."""
    async with trio.open_nursery() as nursery:
        transport = await nursery.start(
            lambda task_status: server.serve_http(
                "127.0.0.1", 0, task_status=task_status, **options
            )
        )
        try:
            yield transport
        finally:
            transport.stop()


def modern_call(
    rid: Any, tool: str, args: dict[str, Any], token: int | None = None
) -> dict[str, Any]:
    """A modern ``tools/call`` (``token``: its ``progressToken``)."""
    meta: dict[str, Any] = dict(META)
    if token is not None:
        meta["progressToken"] = token
    params = {"name": tool, "arguments": args, "_meta": meta}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def legacy_call(rid: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    params = {"name": tool, "arguments": args}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    h = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        h["mcp-name"] = name
    return h


def legacy_headers(sid: str, **extra: str) -> dict[str, str]:
    """A POST's headers in legacy session ``sid`` (``extra``: more, or others)."""
    return {"accept": ACCEPT, "mcp-session-id": sid, "mcp-protocol-version": LEGACY, **extra}


def sse_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value
        if fields:
            events.append(fields)
    return events


async def initialize(
    client: Any,
    url: str,
    *,
    capabilities: dict[str, Any] | None = None,
    version: str = LEGACY,
    **headers: str,
) -> str:
    """Open a legacy session with ``client`` (an httpx or httpx2 client); return its id.

    ``initialize`` with ``capabilities`` (none by default) asking for ``version``,
    then ``notifications/initialized``; ``headers`` go with both.
    """
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    r = await client.post(url, json=init, headers={"accept": ACCEPT, **headers})
    assert r.status_code == 200, r.text
    sid: str = r.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    r = await client.post(url, json=note, headers={**legacy_headers(sid), **headers})
    assert r.status_code == 202
    return sid


async def raw_request(
    url: str,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes = b"",
    *,
    method: bytes = b"POST",
) -> tuple[int, bytes]:
    """One HTTP/1.1 request with exactly these header lines; ``(status, body)``.

    ``Content-Length`` is added unless given; ``Connection: close`` ends the
    exchange, so the body is whatever comes before EOF (chunked bodies are
    returned as sent on the wire).
    """
    split = urlsplit(url)
    lines = [method + b" " + split.path.encode() + b" HTTP/1.1"]
    names = {name.lower() for name, _ in headers}
    if b"host" not in names:
        lines.append(b"host: " + split.netloc.encode())
    lines += [name + b": " + value for name, value in headers]
    if b"content-length" not in names:
        lines.append(b"content-length: %d" % len(body))
    lines.append(b"connection: close")
    stream = await trio.open_tcp_stream(split.hostname or "127.0.0.1", split.port or 80)
    async with stream:
        await stream.send_all(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        data = bytearray()
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        rest = _dechunk(rest)
    return status, rest


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def json_body(data: bytes) -> Any:
    """The JSON body of a response (the last SSE event's data when it is a stream)."""
    text = data.decode()
    if text.lstrip().startswith("{") or text.lstrip().startswith("["):
        return json.loads(text)
    events = [e for e in sse_events(text) if e.get("data")]
    return json.loads(events[-1]["data"]) if events else None
