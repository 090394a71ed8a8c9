"""The client the official conformance suite drives, built on ``trio_mcp.Client``.

``scripts/conformance-client.sh`` runs the suite's client mode with
``--command "python conformance/client_runner.py"``. For each scenario the suite
starts a mock server and runs this script with:

* the server URL as the last argument;
* ``MCP_CONFORMANCE_SCENARIO``: the scenario name (``tools_call``, ``auth/scope-step-up``...);
* ``MCP_CONFORMANCE_PROTOCOL_VERSION``: the wire to speak (``2025-11-25``: the
  ``initialize`` handshake; ``2026-07-28``: stateless requests with ``_meta``);
* ``MCP_CONFORMANCE_CONTEXT`` (some scenarios): JSON with scenario data, such as
  pre-registered client credentials.

The script does what an application would do for the scenario: list and call
tools, answer elicitation, authorize with OAuth. The suite judges what it saw
on the wire. A non-zero exit (an exception) fails the scenario, except where the
suite expects the client to refuse (``auth/resource-mismatch``, ``auth/iss-*``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from trio_mcp.client import Client, ElicitationRequest

Scenario = Callable[[str], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}
VERSION = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "2025-11-25")
CONTEXT: dict[str, Any] = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")


def scenario(*names: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        for name in names:
            SCENARIOS[name] = fn
        return fn

    return register


def client(url: str, **options: Any) -> Client:
    """A client speaking the suite's wire: stateful below 2026-07-28, stateless from it."""
    era = "modern" if VERSION >= "2026" else "legacy"
    options.setdefault("client_info", {"name": "trio_mcp-conformance", "version": "1.0.0"})
    return Client(url, era=era, version=VERSION, timeout=20, **options)


# ----------------------------------------------------------------- basics


@scenario("initialize", "tools_call")
async def basic(url: str) -> None:
    async with client(url) as c:
        tools = await c.list_tools()
        if tools:
            await c.call_tool(tools[0].name, {"a": 2, "b": 3})


@scenario("json-schema-ref-no-deref")
async def list_only(url: str) -> None:
    async with client(url) as c:
        await c.list_tools()


@scenario("json-schema-2020-12-preservation")
async def schema_echo(url: str) -> None:
    async with client(url) as c:
        tools = {t.name: t for t in await c.list_tools()}
        focal = tools["json_schema_2020_12_tool"]
        await c.call_tool("json_schema_echo", {"schema": focal.input_schema})


@scenario("request-metadata")
async def request_metadata(url: str) -> None:
    async with client(url) as c:  # server/discover, retried at a version the server speaks
        await c.list_tools()


@scenario("elicitation-sep1034-client-defaults")
async def elicitation_defaults(url: str) -> None:
    async def accept_defaults(request: ElicitationRequest) -> dict[str, Any]:
        return {"action": "accept", "content": {}}  # the client fills in the defaults

    async with client(url, elicitation=accept_defaults) as c:
        await c.call_tool("test_client_elicitation_defaults", {})


@scenario("sse-retry")
async def sse_retry(url: str) -> None:
    async with client(url) as c:
        await c.list_tools()
        await c.call_tool("test_reconnection", {})


@scenario("sep-2322-client-request-state")
async def request_state(url: str) -> None:
    async def confirm(request: ElicitationRequest) -> dict[str, Any]:
        return {"action": "accept", "content": {"confirmed": True}}

    async with client(url, elicitation=confirm) as c:
        await c.list_tools()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(c.call_tool, "test_mrtr_echo_state", {})
            nursery.start_soon(c.call_tool, "test_mrtr_unrelated", {})
        await c.call_tool("test_mrtr_no_state", {})
        await c.call_tool("test_mrtr_no_result_type", {})


@scenario("http-standard-headers")
async def standard_headers(url: str) -> None:
    async with client(url) as c:
        for tool in await c.list_tools():
            await c.call_tool(tool.name, {})
        for resource in await c.list_resources():
            await c.read_resource(resource.uri)
        for prompt in await c.list_prompts():
            await c.get_prompt(prompt.name, {})


@scenario("http-custom-headers", "http-invalid-tool-headers")
async def custom_headers(url: str) -> None:
    async with client(url) as c:
        tools = await c.list_tools()  # a tool with broken x-mcp-header annotations is left out
        calls = CONTEXT.get("toolCalls")  # the arguments the scenario asks for, if it does
        if calls is None:
            calls = [
                {"name": t.name, "arguments": _sample_arguments(t.input_schema)} for t in tools
            ]
        for call in calls:
            await c.call_tool(call["name"], call["arguments"])


def _sample_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """A value for every property of an input schema (its default, else one of its type)."""
    samples = {"string": "value", "integer": 42, "number": 3.5, "boolean": True}
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "default" in prop:
            out[name] = prop["default"]
        elif isinstance(prop.get("enum"), list) and prop["enum"]:
            out[name] = prop["enum"][0]
        else:
            out[name] = samples.get(prop.get("type"), "value")
    return out


# ----------------------------------------------------------------- OAuth

#: The client ID metadata document URL the suite expects (auth/basic-cimd).
CIMD_URL = "https://conformance-test.local/client-metadata.json"


async def follow_redirect(authorization_url: str) -> str:
    """The user's part: the suite's authorization endpoint approves at once and redirects."""
    import httpx

    async with httpx.AsyncClient(follow_redirects=False, timeout=20) as http:
        response = await http.get(authorization_url)
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307, 308) or not location:
        raise RuntimeError(
            f"the authorization endpoint answered {response.status_code}, no redirect"
        )
    return location


def oauth() -> Any:
    from trio_mcp.client import OAuth

    return OAuth(
        follow_redirect,
        redirect_uri="http://localhost:3000/callback",
        client_name="trio_mcp-conformance",
        client_metadata_url=CIMD_URL,
        client_id=CONTEXT.get("client_id"),  # auth/pre-registration
        client_secret=CONTEXT.get("client_secret"),
    )


@scenario(
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/authorization-server-migration",
    "auth/iss-supported",
    "auth/iss-not-advertised",
    "auth/iss-supported-missing",
    "auth/iss-wrong-issuer",
    "auth/iss-unexpected",
    "auth/iss-normalized",
    "auth/metadata-issuer-mismatch",
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
)
async def authorized(url: str) -> None:
    async with client(url, auth=oauth()) as c:
        await c.list_tools()
        await c.call_tool("test-tool", {})


# ----------------------------------------------------------------- main


def main() -> int:
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("CLIENT_RUNNER_DEBUG") else logging.WARNING
    )
    name = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if len(sys.argv) < 2 or name not in SCENARIOS:
        print(f"usage: MCP_CONFORMANCE_SCENARIO=<one of {sorted(SCENARIOS)}> {sys.argv[0]} URL")
        return 2
    try:
        trio.run(SCENARIOS[name], sys.argv[-1])
    except Exception as exc:
        print(f"client_runner: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
