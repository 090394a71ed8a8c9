"""The hello-world tools with a 1 KiB message size limit (for the oversized-line test)."""

from __future__ import annotations

from trio_mcp import Server

server = Server("small-limit", version="0.0.1", max_message_size=1024)


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run()
