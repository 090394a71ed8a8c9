"""A server for the scale-out tests: run by ``trio-mcp run`` with ``TRIO_MCP_REDIS_URL`` set.

Tools (``task="optional"``: a task whenever the request declares the tasks extension):

* ``hold(label)``: writes ``started <label> <pid>`` to ``$SCALEOUT_LOG``, then waits
  until cancelled and writes ``stopped <label> <pid>`` (the test reads the log: the
  handler really stopped, in the process that ran it);
* ``quick()``: answers ``done`` at once.
"""

from __future__ import annotations

import os

import trio

from trio_mcp import Server

server = Server("scaleout")


def _log(line: str) -> None:
    with open(os.environ["SCALEOUT_LOG"], "a") as f:
        f.write(f"{line} {os.getpid()}\n")


@server.tool(task="optional")
async def hold(label: str) -> str:
    _log(f"started {label}")
    try:
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            _log(f"stopped {label}")


@server.tool(task="optional")
async def quick() -> str:
    return "done"
