"""A peer for trio_mcp.Client: the official SDK's MCPServer (mcp 2.x), over stdio or HTTP.

``python sdk_peer.py`` serves stdio; ``python sdk_peer.py http PORT`` Streamable HTTP.
``sleep`` appends "cancelled" to the file named by ``PEER_CANCEL_LOG`` when it
is cancelled, so a test asserts cancellation on the server side. ``ask`` and
``think`` use the SDK's era-agnostic resolvers (``Elicit``, ``Sample``): real
requests in the legacy era, ``input_required`` rounds in the modern one.
"""

import os
import sys
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from mcp_types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel

mcp = MCPServer("sdk-peer", version="2.3.0")


class Name(BaseModel):
    name: str


@mcp.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        with open(os.environ["PEER_CANCEL_LOG"], "a") as f:
            f.write("cancelled\n")
        raise
    return "slept"


def ask_name() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


@mcp.tool()
async def ask(answer: Annotated[Name, Resolve(ask_name)]) -> str:
    """Ask the user for a name (elicitation)."""
    return f"hello {answer.name}"


def sample_haiku() -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text="a haiku"))
    return Sample([message], max_tokens=50)


@mcp.tool()
async def think(reply: Annotated[CreateMessageResult, Resolve(sample_haiku)]) -> str:
    """Ask the client's model (sampling)."""
    content = reply.content
    return f"model said: {getattr(content, 'text', content)}"


@mcp.resource("peer://greeting")
def greeting() -> str:
    return "hi from the SDK"


@mcp.prompt()
def review(code: str) -> str:
    return f"Review this: {code}"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run("streamable-http", port=int(sys.argv[2]))
    else:
        mcp.run()
