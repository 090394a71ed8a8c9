"""The seed guide's server again, written with pydantic models and dataclasses.

The same server as ``examples/seed_server.py`` (same tools, resources and
prompt, same answers, same configuration from the environment), in the style
of a user coming from the official SDK or fastmcp:

* the configuration and the search corpus are frozen dataclasses;
* ``search`` takes a pydantic model (its fields are the tool's arguments, its
  JSON Schema is pydantic's own) and pydantic validates the arguments:
  ``Field`` bounds, a ``Literal`` for the sort key, a ``field_validator`` for
  the whitespace rule; a refusal is reported as ``$.path: reason`` lines;
* ``add_numbers`` documents its arguments with ``Field(description=...)``;
* corpus dates are ``datetime.date`` values.

Configuration comes from the environment: ``API_KEY``, ``API_ENDPOINT``,
``MAX_RETRIES``, ``DEBUG``, ``CACHE_TTL``, ``SEED_ROOT``.

Run it: ``API_KEY=... python examples/seed_server_typed.py`` (stdio). Needs pydantic 2.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Literal

import trio
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trio_mcp import Context, InvalidParams, Message, ResourceNotFound, Server
from trio_mcp.files import FileTooLarge, OutsideRoot, RootedDirectory

log = logging.getLogger("seed_server_typed")


@dataclasses.dataclass(frozen=True)
class Config:
    """Server configuration, from the environment. The API key is optional here:
    only the tool that needs it checks for it."""

    api_key: str | None
    api_endpoint: str
    max_retries: int
    debug: bool
    cache_ttl: float
    root: Path

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            api_key=os.environ.get("API_KEY") or None,
            api_endpoint=os.environ.get("API_ENDPOINT", "https://api.example.com").rstrip("/"),
            max_retries=int(os.environ.get("MAX_RETRIES", "3")),
            debug=os.environ.get("DEBUG", "").lower() == "true",
            cache_ttl=float(os.environ.get("CACHE_TTL", "300")),
            root=Path(os.environ.get("SEED_ROOT", ".")).resolve(),
        )

    def public(self) -> dict[str, object]:
        """The settings a client may see (never the key itself)."""
        return {
            "api_endpoint": self.api_endpoint,
            "api_key_configured": self.api_key is not None,
            "max_retries": self.max_retries,
            "debug": self.debug,
            "cache_ttl": self.cache_ttl,
            "root": str(self.root),
        }


class SearchArgs(BaseModel):
    """Search arguments: validated by pydantic before the tool runs."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500, description="What to look for")
    limit: int = Field(default=10, ge=1, le=100)
    filters: list[str] | None = None
    sort_by: Literal["date", "relevance", "title"] | None = None

    @field_validator("query")
    @classmethod
    def no_outer_whitespace(cls, value: str) -> str:
        if value.strip() != value:
            raise ValueError("query cannot have leading/trailing whitespace")
        return value


@dataclasses.dataclass(frozen=True)
class Document:
    title: str
    tags: tuple[str, ...]
    date: datetime.date


# A tiny corpus standing in for a search backend.
DOCUMENTS = [
    Document("Trio tutorial", ("python", "async"), datetime.date(2024, 1, 2)),
    Document("Structured concurrency", ("async",), datetime.date(2023, 5, 6)),
    Document("MCP specification", ("protocol",), datetime.date(2025, 11, 25)),
    Document("Python packaging", ("python",), datetime.date(2022, 3, 4)),
]


def build(config: Config | None = None) -> Server:
    config = config or Config.from_env()
    server = Server("seed-server", version="1.0.0")

    @server.tool
    async def add_numbers(
        a: Annotated[float, Field(description="First number")],
        b: Annotated[float, Field(description="Second number")],
    ) -> str:
        """Add two numbers together"""
        return f"{a} + {b} = {a + b}"

    @server.tool(annotations={"readOnlyHint": True})
    async def search(args: SearchArgs) -> str:
        """Search for items"""
        words = args.query.lower().split()
        hits = [
            d
            for d in DOCUMENTS
            if all(w in d.title.lower() for w in words)
            and (not args.filters or set(args.filters) & set(d.tags))
        ]
        if args.sort_by == "date":
            hits.sort(key=lambda d: d.date)
        elif args.sort_by == "title":
            hits.sort(key=lambda d: d.title)
        hits = hits[: args.limit]
        lines = [f"Found {len(hits)} results for '{args.query}'"]
        lines += [f"- {d.title}" for d in hits]
        return "\n".join(lines)

    @server.tool(annotations={"readOnlyHint": True, "openWorldHint": True})
    async def api_get(
        path: Annotated[str, Field(description="Path under the API endpoint")], ctx: Context
    ) -> str:
        """GET a path of the configured API (answers cached for CACHE_TTL seconds)"""
        if config.api_key is None:
            raise RuntimeError(
                "API_KEY environment variable is required for api_get. Set it in the "
                "server's environment (e.g. the 'env' of this server in your MCP client "
                "configuration) and restart the server."
            )
        url = f"{config.api_endpoint}/{path.lstrip('/')}"
        cached = ctx.cache.get(("api_get", url))
        if cached is not None:
            await ctx.debug(f"cache hit: {url}")
            return str(cached)
        await ctx.debug(f"cache miss: {url}")
        body = await trio.to_thread.run_sync(
            _http_get, url, config.api_key, config.max_retries, abandon_on_cancel=True
        )
        ctx.cache.set(("api_get", url), body, ttl=config.cache_ttl)
        return body

    @server.resource("config://settings", name="Server Configuration", mime_type="application/json")
    async def settings() -> str:
        """Current server settings"""
        return json.dumps(config.public(), indent=2)

    files = RootedDirectory(config.root)

    @server.resource("file:///{+path}", name="File System", mime_type="text/plain")
    async def read_file(path: str) -> str | bytes:
        """Read files under the server's root directory"""
        try:
            data = await files.read_bytes(path)
        except OutsideRoot:
            message = f"Invalid params: {path[:200]!r} is outside the served directory"
            raise InvalidParams(message) from None
        except FileNotFoundError:  # missing, refused, or not a regular file (a directory, a FIFO)
            raise ResourceNotFound("Resource not found", {"uri": f"file:///{path}"}) from None
        except FileTooLarge:
            raise InvalidParams(f"Invalid params: {path[:200]!r} is too large") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    @server.prompt
    async def code_review(
        language: Annotated[str, "Programming language"], code: Annotated[str, "Code to review"]
    ) -> list[Message]:
        """Review code for best practices"""
        return [Message("user", f"Review this {language} code for best practices:\n\n{code}")]

    if config.debug:
        log.info("config: %s", config.public())
    return server


def _http_get(url: str, api_key: str, retries: int) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    last: Exception | None = None
    for _ in range(max(1, retries)):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read().decode("utf-8", "replace")  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"API error {exc.code} for {url}") from None
        except OSError as exc:
            last = exc
    raise RuntimeError(f"API unreachable at {url}: {last}")


if __name__ == "__main__":
    build().run()
