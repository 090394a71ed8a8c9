"""Peer (HTTP): a raw ASGI app on uvicorn (httptools, no access log), a canned echo answer.

No MCP: it reads the body, decodes it with orjson and answers every POST with
the JSON a ``tools/call echo`` gets. What an ASGI stack on asyncio costs here,
before any framework runs. ``PORT``.
"""

import sys

import orjson
import uvicorn

ANSWER = orjson.dumps(
    {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "hello"}]}}
)
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))],
}
BODY = {"type": "http.response.body", "body": ANSWER}


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    orjson.loads(b"".join(chunks))
    await send(START)
    await send(BODY)


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        http="httptools",
        loop="asyncio",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
