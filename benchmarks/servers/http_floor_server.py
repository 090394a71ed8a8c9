"""Peer (HTTP): the floor. ``trio.serve_tcp`` + httptools + orjson, a canned echo answer.

No MCP at all: it answers every POST with the JSON a ``tools/call echo`` gets,
so it shows what Trio, the parser and the socket cost on this machine.
"""

import sys
from functools import partial

import httptools
import orjson
import trio

ANSWER = orjson.dumps(
    {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "hello"}]}}
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER)
    + ANSWER
)


class Conn:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.body: list[bytes] = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        orjson.loads(b"".join(self.body))
        self.body.clear()
        self.out.append(RESPONSE)


async def handle(stream: trio.SocketStream) -> None:
    conn = Conn()
    parser = httptools.HttpRequestParser(conn)
    try:
        while data := await stream.receive_some(65536):
            parser.feed_data(data)
            if conn.out:
                await stream.send_all(b"".join(conn.out))
                conn.out.clear()
    except (trio.BrokenResourceError, httptools.HttpParserError):
        pass


if __name__ == "__main__":
    trio.run(partial(trio.serve_tcp, handle, int(sys.argv[1]), host="127.0.0.1"))
