"""Driving ``tests/servers/faulty_server.py``: its ``diag`` tool, its exit counters, the bounds.

The faulty server counts what its handlers did (started, finished, cancelled, hung,
blocked threads) and reports it through the ``diag`` tool while it runs and as a
``faulty-exit {...}`` line on stderr after draining.
"""

from __future__ import annotations

import json
from typing import Any

import trio

from .process import ServerProcess

#: The grace the tests give the server (``--grace``).
GRACE = 0.5
#: "Exits under 1 s beyond the grace" (issue 7), with slack for a loaded machine.
EXIT_BOUND = GRACE + 2.5


async def diag(server: ServerProcess) -> dict[str, Any]:
    """The server's counters, from its ``diag`` tool."""
    reply = await server.request("tools/call", {"name": "diag", "arguments": {}})
    return json.loads(reply["result"]["content"][0]["text"])  # type: ignore[no-any-return]


def exit_counts(server: ServerProcess) -> dict[str, int]:
    """The counters the server printed on stderr after draining (``faulty-exit {...}``)."""
    for line in server.stderr_text().splitlines():
        if line.startswith("faulty-exit "):
            return json.loads(line.removeprefix("faulty-exit "))  # type: ignore[no-any-return]
    raise AssertionError(f"no faulty-exit line on stderr:\n{server.stderr_text()}")


async def wait_for(server: ServerProcess, pred: Any, what: str) -> dict[str, Any]:
    """Poll ``diag`` until ``pred`` holds of it (``what`` names the wait, for a reader)."""
    while True:
        d = await diag(server)
        if pred(d):
            return d  # type: ignore[no-any-return]
        await trio.sleep(0.05)
