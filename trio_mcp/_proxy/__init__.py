"""``trio_mcp.proxy(target)``: a :class:`~trio_mcp.Server` that is another MCP server.

Beside the layers (like ``_middleware``): it composes the server (``_app``) and
the client (``_client``); nothing below imports it. See docs/how-to/proxy.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._app import Server
from .._client import Client
from ._meta import PER_HOP, forward_meta
from ._upstream import Upstream

__all__ = ["PER_HOP", "Upstream", "forward_meta", "proxy"]


def proxy(
    target: str | Sequence[str] | Server,
    *,
    name: str | None = None,
    era: Literal["auto", "legacy", "modern"] = "auto",
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    headers: dict[str, str] | None = None,
    auth: Any = None,
    connect_timeout: float = 60.0,
    input_wait: float = 120.0,
    max_held: int = 64,
    **server_options: Any,
) -> Server:
    """A server that forwards everything to the MCP server at ``target``.

    Serve it like any server (``.run()``, ``.run("http", port=8000)``,
    ``serve_http``, ``asgi_app``, ``mount``): while it serves, it is connected
    to the upstream, which is started as a child process when ``target`` is a
    command line (and stopped, then terminated, then killed, when the proxy
    stops) or reached over Streamable HTTP when it is an ``http(s)://`` URL
    (needs ``trio_mcp[client-http]``). Each side keeps its own era: a legacy
    stdio server may be served as a modern stateless HTTP endpoint.

    Args:
        target: A command line (``"npx some-server"`` or a list), a URL, or a
            :class:`~trio_mcp.Server` (served in memory: for tests).
        name: The proxy's ``serverInfo.name`` (default: the upstream's, with its
            version and instructions).
        era: The era to speak to the upstream (``"auto"`` probes, as
            :class:`~trio_mcp.Client` does).
        env, cwd: For a command line (``env`` replaces the whole environment).
        headers, auth: For a URL: extra headers, a bearer token or ``httpx.Auth``.
        connect_timeout: Seconds the upstream has to answer the handshake.
        input_wait: A legacy upstream's question to a modern client ends the client's
            request ``input_required`` and the upstream call is held for its retry:
            this many seconds, then the call is cancelled.
        max_held: Calls held at once, at most (beyond: the question is refused).
        server_options: :class:`~trio_mcp.Server` arguments (``timeout``,
            ``middleware``, ``instructions``...): the proxy is a server like any.

    Raises:
        ValueError, TypeError: ``target`` names no server (an empty command line...).
    """

    def make_client() -> Client:
        return Client(
            target,
            era=era,
            timeout=connect_timeout,
            probe_timeout=min(10.0, connect_timeout),
            log_level="debug",  # every record; the proxy filters for each of its clients
            env=dict(env) if env is not None else None,
            cwd=cwd,
            headers=headers,
            auth=auth,
            client_info={"name": "trio_mcp-proxy", "version": "0"},
        )

    make_client()  # a target that names no server is refused now, not when serving
    server = Server(name or "proxy", **server_options)
    upstream = Upstream(server._core, make_client, name is None, input_wait, max_held)
    server._registry.add_provider(upstream)
    return server
