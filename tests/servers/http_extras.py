"""examples/everything.py plus the conformance fixtures that exercise the HTTP transport.

A stand-in until everything.py carries them: ``test_reconnection`` (SSE polling),
``test_missing_capability`` (-32021 -> HTTP 400), ``test_streaming_elicitation`` and
``test_logging_tool`` (the modern response stream), ``test_trigger_*_change`` (listen
streams) and an ``x-mcp-header`` tool (``Mcp-Param-*`` validation).

    python tests/servers/http_extras.py --port 3001
    CONFORMANCE_SERVER=tests/servers/http_extras.py make conformance
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from everything import build

from trio_mcp import Context

server = build()


@server.tool()
async def test_reconnection(ctx: Context) -> str:
    """Tests SSE stream disconnection and client reconnection (SEP-1699)."""
    ctx.close_sse_stream()
    await trio.sleep(0.1)
    return (
        "Reconnection test completed successfully. If you received this, "
        "the client properly reconnected after stream closure."
    )


@server.tool()
async def test_missing_capability(ctx: Context) -> str:
    """Test tool requiring sampling."""
    await ctx.sample("hello", max_tokens=10)
    return "Success"


@server.tool()
async def test_streaming_elicitation(ctx: Context) -> str:
    """Diagnostic tool validating response progress streams."""
    await ctx.report_progress(50, 100)
    return "Streaming complete"


@server.tool()
async def test_logging_tool(ctx: Context) -> str:
    """Diagnostic logging validator tool."""
    await ctx.info("Diagnostic trace logging activated")
    return "Logging evaluated"


@server.tool()
async def test_trigger_tool_change() -> str:
    """Re-registers a tool: listen streams hear tools/list_changed."""
    server.add_tool(server.tools["test_simple_text"])
    return "Mutation triggered"


@server.tool()
async def test_trigger_prompt_change() -> str:
    """Registers a prompt: listen streams hear prompts/list_changed."""
    server.prompt(name="extra_trigger_prompt")(lambda: "changed")
    return "Mutation triggered"


@server.tool()
async def test_header_param(region: str, query: str) -> str:
    """A tool whose ``region`` argument is mirrored in the Mcp-Param-Region header."""
    return f"{region}: {query}"


server.tools["test_header_param"].input_schema["properties"]["region"]["x-mcp-header"] = "Region"

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--transport", choices=["http"], default="http")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3001)
    args = ap.parse_args()
    server.run(transport="http", host=args.host, port=args.port)
