"""The hello-world server from the README: arithmetic and echo tools over stdio."""

from trio_mcp import Server

server = Server("demo", version="0.1.0", instructions="Arithmetic and echo tools.")


@server.tool()
async def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
async def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run()  # stdio by default; blocks until stdin EOF / SIGTERM / Ctrl+C
