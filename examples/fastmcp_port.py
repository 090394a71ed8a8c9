"""A fastmcp-style gateway, ported to trio_mcp: middleware, a mounted server and a proxy.

The fastmcp original, and what each line became::

    mcp = FastMCP("gateway")                      server = Server("gateway", middleware=[
    mcp.add_middleware(ErrorHandlingMiddleware())     ErrorMasking(tool_message=...),
    mcp.add_middleware(TimingMiddleware())            Timing(),
                                                  ])
    weather = FastMCP("weather")                  weather = Server("weather")
    mcp.mount(weather, prefix="weather")          server.mount(weather, prefix="weather")
    hello = FastMCP.as_proxy("python hello.py")   hello = proxy([sys.executable, "hello.py"])
    mcp.mount(hello, prefix="hello")              server.mount(hello, prefix="hello")
    @mcp.custom_route("/healthz", ["GET"])        @server.route("/healthz")

The gateway offers its own ``status`` tool, the weather server's tools, resource and
prompt (``weather_forecast``, ``weather+weather://cities``, ``weather_packing_list``)
and, through the proxy, ``examples/hello.py``'s tools (``hello_add``, ``hello_echo``):
hello.py runs as a child process while the gateway serves and is stopped with it.

Run it: ``python examples/fastmcp_port.py`` (stdio), or over Streamable HTTP (both
eras): ``trio-mcp run examples/fastmcp_port.py --transport http --port 8000``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trio_mcp import Context, HttpRequest, HttpResponse, Server, proxy
from trio_mcp.middleware import ErrorMasking, Timing

HELLO = Path(__file__).with_name("hello.py")

# ------------------------------------------------------------ a mounted server

weather = Server("weather")
FORECASTS = {"oslo": "snow, -3 °C", "lisbon": "sunny, 19 °C"}


@weather.tool()
async def forecast(city: str) -> str:
    """Tomorrow's weather in ``city``."""
    try:
        return f"{city}: {FORECASTS[city.lower()]}"
    except KeyError:
        raise ValueError(f"no forecast for {city!r} (internal table miss)") from None


@weather.resource("weather://cities", mime_type="text/plain")
async def cities() -> str:
    """The cities with a forecast."""
    return "\n".join(sorted(FORECASTS))


@weather.prompt()
async def packing_list(city: str) -> str:
    """Ask for a packing list for a trip to ``city``."""
    return f"What should I pack for {city}? The forecast: {FORECASTS.get(city.lower(), '?')}"


# ------------------------------------------------------------------ the gateway

timing = Timing()
server = Server(
    "gateway",
    version="1.0.0",
    instructions="Weather, and arithmetic from the hello server.",
    middleware=[ErrorMasking(tool_message="{name} failed (see the server's log)"), timing],
)
server.mount(weather, prefix="weather")
server.mount(proxy([sys.executable, str(HELLO)], name="hello"), prefix="hello")


@server.tool()
async def status(ctx: Context) -> dict[str, int]:
    """Requests served so far, by method (from the Timing middleware)."""
    return {method: stats.count for method, stats in sorted(timing.stats.items())}


@server.route("/healthz")
async def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"ok": True})


if __name__ == "__main__":
    server.run()
