"""What a handler's exception shows a client: never server paths or internals (issue 13, item 9).

* Any ``Exception`` that is not an ``McpError`` answers ``-32603 "Internal error"``;
  the exception and its traceback go to the server's log only.
* An ``McpError`` raised on purpose keeps its message.
* A tool's exception becomes an ``isError`` result with its text (the tool's author
  wrote it), except an ``OSError``'s file names, which are left out.
"""

from __future__ import annotations

import logging

import pytest
import trio

from trio_mcp import InvalidParams, McpError, Server
from trio_mcp.testing import connect

SECRET_PATH = "/srv/secret/instance-42/data.db"


def build() -> Server:
    server = Server("leaky")

    @server.tool()
    async def open_db() -> str:
        raise FileNotFoundError(2, "No such file or directory", SECRET_PATH)

    @server.tool()
    async def rename_db() -> str:
        raise PermissionError(13, "Permission denied", SECRET_PATH, SECRET_PATH + ".bak")

    @server.tool()
    def sync_open() -> str:
        with open(SECRET_PATH):  # a real OSError, from a worker thread
            return "unreachable"

    @server.tool()
    async def plain() -> str:
        raise ValueError("the tool's own words")

    @server.resource("db://{name}")
    async def db(name: str) -> str:
        raise IsADirectoryError(21, "Is a directory", SECRET_PATH + name)

    @server.resource("crash://x")
    async def crash() -> str:
        raise RuntimeError(f"internal state: {SECRET_PATH}")

    @server.prompt()
    async def prompt() -> str:
        raise KeyError(SECRET_PATH)

    @server.resource("refuse://x")
    async def refuse() -> str:
        raise InvalidParams("Invalid params: on purpose")

    return server


async def test_internal_errors_are_generic_on_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "trio_mcp")
    with trio.fail_after(10):
        async with connect(build()) as client:
            for call in (
                lambda: client.read_resource("db://x"),
                lambda: client.read_resource("crash://x"),
                lambda: client.get_prompt("prompt"),
            ):
                with pytest.raises(McpError) as info:
                    await call()
                assert info.value.code == -32603
                assert info.value.message == "Internal error"
                assert info.value.data is None
            with pytest.raises(McpError) as on_purpose:
                await client.read_resource("refuse://x")
            assert (on_purpose.value.code, on_purpose.value.message) == (
                -32602,
                "Invalid params: on purpose",
            )
    # The detail is in the server's log, with the traceback.
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert caplog.records and all(r.exc_info for r in caplog.records)
    assert "internal state" in "".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info), (
        logged
    )


async def test_tool_errors_keep_their_text_without_file_names() -> None:
    with trio.fail_after(10):
        async with connect(build()) as client:
            texts = {}
            for name in ("open_db", "rename_db", "sync_open", "plain"):
                result = await client.call_tool(name)
                assert result["isError"] is True
                texts[name] = result["content"][0]["text"]
    for text in texts.values():
        assert "/srv" not in text and "secret" not in text, text
    assert texts["open_db"] == "Error executing tool open_db: [Errno 2] No such file or directory"
    assert texts["rename_db"] == "Error executing tool rename_db: [Errno 13] Permission denied"
    assert (
        texts["sync_open"] == "Error executing tool sync_open: [Errno 2] No such file or directory"
    )
    assert texts["plain"] == "Error executing tool plain: the tool's own words"
