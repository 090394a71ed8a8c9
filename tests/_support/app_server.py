"""One in-memory server with every primitive: resources, a template, a prompt, a completer,
and tools that use each part of :class:`~trio_mcp.Context` (progress, logging, elicitation,
sampling, roots). The ``tests/app`` tests drive it with ``trio_mcp.testing.connect``.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from trio_mcp import (
    AudioContent,
    Completion,
    CompletionRequest,
    Context,
    EmbeddedResource,
    ImageContent,
    Message,
    ResourceContents,
    ResourceLink,
    Server,
)

ERAS = ["legacy", "modern"]


@attrs.frozen
class Answer:
    name: str


def build(**kw: Any) -> Server:
    server = Server("surface", version="2.0", **kw)

    @server.resource("config://settings", mime_type="application/json", annotations={"priority": 1})
    async def settings() -> dict[str, Any]:
        """App settings."""
        return {"debug": True}

    @server.resource("test://binary")
    async def binary() -> bytes:
        return b"\x00\x01"

    @server.resource("users://{user_id}/age")
    async def age(user_id: int) -> str:
        return f"user {user_id + 1}"

    @server.resource("files://{+path}")
    async def files(path: str) -> ResourceContents:
        if path == "missing":
            raise FileNotFoundError(path)
        return ResourceContents(f"files://{path}", text=path.upper(), mime_type="text/x-test")

    @server.prompt(title="Code review")
    async def review(code: str, strict: bool = False) -> list[Message]:
        """Review code."""
        return [
            Message("user", f"review {code} strict={strict}"),
            Message("user", ImageContent(b"img", "image/png")),
            Message(
                "assistant",
                EmbeddedResource("config://settings", text="{}", mime_type="application/json"),
            ),
        ]

    @server.completer
    async def complete(req: CompletionRequest) -> list[str] | Completion:
        if req.argument == "code":
            return [f"{req.value}{i}" for i in range(150)]
        return Completion([f"{req.ref}:{req.context}"], total=1, has_more=False)

    @server.tool()
    async def contents() -> list[Any]:
        return [
            AudioContent(b"wav", "audio/wav"),
            ResourceLink("config://settings", "settings", mime_type="application/json"),
        ]

    @server.tool()
    async def progress(ctx: Context) -> str:
        await ctx.report_progress(1, 3, "one")
        await ctx.report_progress(1, 3, "again")  # not increasing: dropped
        await ctx.report_progress(2, 3)
        return "done"

    @server.tool()
    async def logs(ctx: Context) -> str:
        await ctx.debug("d")
        await ctx.info("i", logger="app")
        await ctx.error({"code": 7})
        logging.getLogger("bridge.test").warning("from logging")
        return "logged"

    @server.tool()
    async def ask(ctx: Context) -> str:
        first = await ctx.elicit("Your name?", Answer)
        second = await ctx.elicit(
            "Again?", {"type": "object", "properties": {"n": {"type": "integer"}}}
        )
        return f"{first.action}:{first.content}:{second.content}"

    @server.tool()
    async def think(ctx: Context) -> str:
        result = await ctx.sample("2+2?", max_tokens=5)
        return str(result["content"]["text"])

    @server.tool()
    async def roots(ctx: Context) -> list[str]:
        return [r["uri"] for r in await ctx.list_roots()]

    @server.tool()
    async def swallow(ctx: Context) -> str:
        try:
            await ctx.elicit("name?")
        except Exception as exc:  # a handler that catches everything must not break MRTR
            return f"caught {exc}"
        return "answered"

    return server
