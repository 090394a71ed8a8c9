"""A server whose ``fail`` tool raises from a few frames deep: each call logs a traceback.

``ok`` answers. Logging is configured the way most programs do it, with
``logging.basicConfig`` on stderr before ``server.run()``.
"""

from __future__ import annotations

import logging
import sys

from trio_mcp import Server

server = Server("tracebacks")


def _deeper(n: int) -> None:
    if n:
        _deeper(n - 1)
    raise RuntimeError("failing on purpose, with a traceback of some length " + "x" * 200)


@server.tool()
async def fail() -> str:
    """Raise (the traceback goes to stderr)."""
    _deeper(5)
    return "unreachable"


@server.tool()
async def ok() -> str:
    """Answer."""
    return "ok"


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    server.run()
