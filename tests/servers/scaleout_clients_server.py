"""A server for the official clients driving a deployment through a balancer without affinity.

Run by ``trio-mcp run --transport http`` (one process per worker) with
``TRIO_MCP_REDIS_URL`` set and ``SCALEOUT_SECRET`` (the ``requestState`` key,
the same in every worker). ``tests/e2e/test_scale_out_clients.py`` drives it
with the Python and TypeScript SDK clients.

* tool ``whoami()``: this worker's pid (the test maps it to a worker);
* tool ``count(steps)``: reports progress ``1..steps`` of ``steps`` (50 ms apart), then answers
  ``counted <steps> on <pid>``;
* resource ``scaleout://motd``: a fixed text;
* prompt ``greet(name)``: one user message.
"""

from __future__ import annotations

import os

import trio

from trio_mcp import Context, Message, Server

server = Server("scaleout-clients", state_secret=os.environ["SCALEOUT_SECRET"].encode())


@server.tool()
def whoami() -> str:
    """The pid of the worker process that ran this call."""
    return str(os.getpid())


@server.tool()
async def count(steps: int, ctx: Context) -> str:
    """Report progress 1..steps of steps, then say how far it counted and where."""
    for step in range(1, steps + 1):
        if step > 1:  # apart, so that each reaches the client on its own (see the TS test)
            await trio.sleep(0.05)
        await ctx.report_progress(step, steps, f"step {step} of {steps}")
    return f"counted {steps} on {os.getpid()}"


@server.resource("scaleout://motd", mime_type="text/plain")
def motd() -> str:
    """The message of the day."""
    return "no affinity needed"


@server.prompt()
def greet(name: str) -> list[Message]:
    """Greet someone."""
    return [Message("user", f"Hello, {name}!")]
