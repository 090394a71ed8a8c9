"""The "everything" server: the MCP conformance fixture set, on trio_mcp.

Tools, resources and prompts named ``test_*`` / ``test://*`` follow the reference
everything-server of the official Python SDK
(``examples/servers/everything-server`` in modelcontextprotocol/python-sdk) and
return what it returns: the same texts, the same base64 image and audio, the same
error and progress-token behaviour. Logging (``logging/setLevel`` in the legacy
era, the per-request ``_meta`` logLevel in the modern one), subscriptions and
completion are built into trio_mcp.

The conformance suite's newer fixtures are here too: ``json_schema_2020_12_tool``,
``test_x_mcp_header`` (``Mcp-Param-*`` headers), the ``test_input_required_result_*``
tools and prompt (modern-era multi round-trip requests: ``ctx.elicit``/``sample``/
``list_roots`` with named keys, ``ctx.gather_input`` for several in one round), and
the HTTP diagnostics ``test_reconnection``, ``test_missing_capability``,
``test_streaming_elicitation``, ``test_logging_tool`` and ``test_trigger_*_change``,
and the tasks fixtures (``greet``, ``slow_compute``, ``failing_job``,
``protocol_error_job``, ``confirm_delete``, ``multi_input``, ``test_tool_with_task``).

Everything named ``extra_*`` / ``extra://*`` is NOT in the reference: it exists so
tests can reach the rest of the server surface (resource-updated notifications,
run-time list changes, roots, URL elicitation, resource links and tool metadata,
structured output, completion values).

Run it::

    python examples/everything.py                       # stdio
    python examples/everything.py --page-size 3         # paginated lists
    python examples/everything.py --transport http --port 3001
"""

from __future__ import annotations

import argparse
import base64
import inspect
import json
import logging
import sys
from typing import Annotated, Any, TypedDict

from trio_mcp import (
    AudioContent,
    Completion,
    CompletionRequest,
    Context,
    ElicitResult,
    EmbeddedResource,
    ImageContent,
    McpError,
    McpHeader,
    Message,
    ResourceLink,
    Server,
    TextContent,
    ToolResult,
)

# Test data (identical to the reference server's).
TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

WATCHED_URI = "test://watched-resource"
watched_resource_content = "Watched resource content"


def build(page_size: int | None = None) -> Server:
    """The everything server (a fresh one per call, so tests may build their own)."""
    server = Server("mcp-conformance-test-server", version="0.1.0", page_size=page_size)

    # ------------------------------------------------------------ tools

    @server.tool()
    def test_simple_text() -> str:
        """Tests simple text content response"""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[ImageContent]:
        """Tests image content response"""
        return [ImageContent(TEST_IMAGE_BASE64, "image/png")]

    @server.tool()
    def test_audio_content() -> list[AudioContent]:
        """Tests audio content response"""
        return [AudioContent(TEST_AUDIO_BASE64, "audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """Tests embedded resource content response"""
        return [
            EmbeddedResource(
                "test://embedded-resource",
                text="This is an embedded resource content.",
                mime_type="text/plain",
            )
        ]

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Tests response with multiple content types (text, image, resource)"""
        return [
            TextContent("Multiple content types test:"),
            ImageContent(TEST_IMAGE_BASE64, "image/png"),
            EmbeddedResource(
                "test://mixed-content-resource",
                text='{"test": "data", "value": 123}',
                mime_type="application/json",
            ),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Tests tool that emits log messages during execution"""
        await ctx.info("Tool execution started")
        await _sleep(0.05)
        await ctx.info("Tool processing data")
        await _sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Tests tool that reports progress notifications"""
        await ctx.report_progress(0, 100, "Completed step 0 of 100")
        await _sleep(0.05)
        await ctx.report_progress(50, 100, "Completed step 50 of 100")
        await _sleep(0.05)
        await ctx.report_progress(100, 100, "Completed step 100 of 100")
        token = ctx.request.progress_token
        return str(token if token is not None else 0)

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Tests server-initiated sampling (LLM completion request)"""
        try:
            result = await ctx.sample(
                [{"role": "user", "content": {"type": "text", "text": prompt}}], max_tokens=100
            )
            content = result.get("content")
            if isinstance(content, dict) and content.get("type") == "text":
                model_response = content.get("text")
            else:
                model_response = "No response"
            return f"LLM response: {model_response}"
        except Exception as e:
            return f"Sampling not supported or error: {e!s}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Tests server-initiated elicitation (user input request)"""
        try:
            result = await ctx.elicit(message, USER_RESPONSE_SCHEMA)
            if result.action == "accept":
                content = _model_dump_json(USER_RESPONSE_SCHEMA, result.content)
            else:  # decline or cancel
                content = "{}"
            return f"User response: action={result.action}, content={content}"
        except Exception as e:
            return f"Elicitation not supported or error: {e!s}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Tests elicitation with default values for all primitive types (SEP-1034)"""
        try:
            result = await ctx.elicit("Please provide user information", SEP1034_DEFAULTS_SCHEMA)
            if result.action == "accept":
                content = _model_dump_json(SEP1034_DEFAULTS_SCHEMA, result.content)
            else:
                content = "{}"
            return f"Elicitation result: action={result.action}, content={content}"
        except Exception as e:
            return f"Elicitation not supported or error: {e!s}"

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Tests elicitation with enum schema variations per SEP-1330"""
        try:
            result = await ctx.elicit(
                "Please select values using different enum schema types", SEP1330_ENUMS_SCHEMA
            )
            if result.action == "accept":
                content = _model_dump_json(SEP1330_ENUMS_SCHEMA, result.content)
            else:
                content = "{}"
            return f"Elicitation completed: action={result.action}, content={content}"
        except Exception as e:
            return f"Elicitation not supported or error: {e!s}"

    @server.tool()
    def test_error_handling() -> str:
        """Tests error response handling"""
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool()
    def test_x_mcp_header(
        region: Annotated[
            str, "Mirrored into the Mcp-Param-Region header", McpHeader("Region")
        ] = "<none>",
    ) -> str:
        """Tests SEP-2243 Mcp-Param-* server-side validation"""
        return f"region={region}"

    @server.tool(
        name="json_schema_2020_12_tool", description="Tool with JSON Schema 2020-12 features"
    )
    def json_schema_2020_12_tool() -> str:
        return "json_schema_2020_12_tool"

    # The schema is published as written (2020-12 keywords a signature cannot produce).
    server.tools["json_schema_2020_12_tool"].input_schema = JSON_SCHEMA_2020_12

    # ---------------------------------- HTTP diagnostics (SSE polling, stateless)

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Tests SSE polling by closing stream mid-call (SEP-1699)"""
        await ctx.info("Before disconnect")
        ctx.close_sse_stream()  # legacy HTTP: the client reconnects with Last-Event-ID
        await _sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.tool()
    async def test_missing_capability(ctx: Context) -> str:
        """Tests that a call needing an undeclared client capability (sampling) fails with -32021"""
        result = await ctx.sample("Say hello", max_tokens=10)
        return f"Sampled: {result.get('content')}"

    @server.tool()
    async def test_streaming_elicitation(ctx: Context) -> str:
        """Tests that a response stream carries notifications and results, never server requests"""
        await ctx.report_progress(50, 100, "Asking the user")
        answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
        return f"Streaming complete: action={answer.action}"

    @server.tool()
    async def test_logging_tool(ctx: Context) -> str:
        """Tests that logs are sent only at the level the request asked for"""
        await ctx.info("Diagnostic trace logging activated")
        return "Logging evaluated"

    @server.tool()
    async def test_trigger_tool_change() -> str:
        """Mutates the tool list: clients hear tools/list_changed (listen streams in 2026-07-28)"""
        server.tool(name="test_dynamic_tool")(_dynamic_tool)
        server.remove_tool("test_dynamic_tool")
        return "tool list changed"

    @server.tool()
    async def test_trigger_prompt_change() -> str:
        """Mutates the prompt list: clients hear prompts/list_changed"""
        server.prompt(name="test_dynamic_prompt")(_dynamic_prompt)
        server.remove_prompt("test_dynamic_prompt")
        return "prompt list changed"

    # ------------------- input_required results (SEP-2322, 2026-07-28 MRTR)
    # In the modern era each ctx.elicit/sample/list_roots without its answer ends
    # the request with an input_required result; the client's retry (inputResponses
    # + the signed requestState) runs the handler again. In the legacy era they
    # are ordinary requests to the client.

    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> str:
        """Tests InputRequiredResult with a single elicitation request"""
        answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
        return f"Hello, {_field(answer, 'name', 'stranger')}!"

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> str:
        """Tests InputRequiredResult with a single sampling request"""
        result = await ctx.sample(
            "What is the capital of France?", max_tokens=100, key="capital_question"
        )
        return f"Model said: {_sampled_text(result)}"

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> str:
        """Tests InputRequiredResult with a single roots/list request"""
        roots = await ctx.list_roots(key="client_roots")
        return f"Client exposed {len(roots)} root(s)."

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> str:
        """Tests requestState round-tripping in the InputRequiredResult flow"""
        answer = await ctx.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm")
        # trio_mcp verified the echoed requestState (HMAC, bound to this call) before
        # the handler ran again; a tampered one never gets here.
        verified = "requestState" in ctx.request.params
        return f"{'state-ok' if verified else 'no-state'}: action={answer.action}"

    @server.tool()
    async def test_input_required_result_multiple_inputs(ctx: Context) -> str:
        """Tests InputRequiredResult carrying elicitation, sampling and roots requests together"""
        answer, greeting, roots = await ctx.gather_input(
            ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name"),
            ctx.sample("Generate a greeting", max_tokens=50, key="greeting"),
            ctx.list_roots(key="client_roots"),
        )
        return (
            f"All inputs received: name={_field(answer, 'name', '?')}, "
            f"greeting={_sampled_text(greeting)}, roots={len(roots)}"
        )

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> str:
        """Tests a three-round InputRequiredResult flow with evolving requestState"""
        step1 = await ctx.elicit("Step 1: What is your name?", NAME_SCHEMA, key="step1")
        step2 = await ctx.elicit("Step 2: What is your favorite color?", COLOR_SCHEMA, key="step2")
        return f"{_field(step1, 'name', '?')} likes {_field(step2, 'color', '?')}."

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> str:
        """Tests that the server rejects a tampered requestState echo (trio_mcp signs it)"""
        answer = await ctx.elicit("Please confirm", CONFIRM_SCHEMA, key="confirm")
        return f"state-ok: action={answer.action}"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> str:
        """Tests that inputRequests only include methods the client declared support for"""
        caps = ctx.client_capabilities
        asks: list[Any] = []
        if "sampling" in caps:
            asks.append(ctx.sample("Say hello", max_tokens=50, key="sample"))
        if "elicitation" in caps:
            asks.append(ctx.elicit("What is your name?", NAME_SCHEMA, key="ask"))
        await ctx.gather_input(*asks)
        return f"received {len(asks)} input(s)"

    # ------------------------------------------ tasks (2025-11-25 and the extension)
    # The conformance suite's tasks-* fixtures. With task="optional"/"required" a
    # call becomes a task: in 2025-11-25 when the client sends params.task, in
    # 2026-07-28 whenever the request declares io.modelcontextprotocol/tasks.

    @server.tool()
    def greet(name: str) -> str:
        """Greets someone; never a task"""
        return f"Hello, {name}!"

    @server.tool(task="optional")
    async def slow_compute(seconds: float, label: str = "") -> str:
        """Sleeps for `seconds`, then reports; runs as a task when the client supports tasks"""
        await _sleep(seconds)
        return f"Computed {label or 'result'} after {seconds:g}s"

    @server.tool(task="required")
    async def failing_job() -> ToolResult:
        """A task whose tool result is an error (isError): the task still completes"""
        await _sleep(1)
        return ToolResult([TextContent("The job failed: simulated tool error")], is_error=True)

    @server.tool(task="optional")
    async def protocol_error_job() -> str:
        """A task that ends in a JSON-RPC error: the task fails"""
        await _sleep(0.2)
        raise McpError(-32603, "Simulated protocol error in a task")

    @server.tool(task="optional")
    async def confirm_delete(filename: str, ctx: Context) -> str:
        """Asks the user to confirm, from inside the task (input_required, tasks/update)"""
        answer = await ctx.elicit(f"Delete {filename}?", CONFIRM_DELETE_SCHEMA)
        confirmed = answer.action == "accept" and bool((answer.content or {}).get("confirm"))
        return f"{filename}: {'deleted' if confirmed else 'kept'}"

    @server.tool(task="optional")
    async def multi_input(ctx: Context) -> str:
        """Asks two questions at once from inside the task"""
        first, second = await ctx.gather_input(
            ctx.elicit("First part?", PARTIAL_SCHEMA, key="part-1"),
            ctx.elicit("Second part?", PARTIAL_SCHEMA, key="part-2"),
        )
        return f"Got {_field(first, 'name', '?')} and {_field(second, 'name', '?')}"

    @server.tool(task="required", task_start="explicit")
    async def test_tool_with_task(ctx: Context) -> str:
        """Asks for a name synchronously (MRTR), then runs on as a task"""
        answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
        await ctx.start_task()
        await _sleep(0.1)
        return f"Hello, {_field(answer, 'name', 'stranger')}, from a task!"

    # -------------------------------------------------------- resources

    @server.resource("test://static-text", mime_type="text/plain")
    def static_text_resource() -> str:
        """A static text resource for testing"""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary_resource() -> bytes:
        """A static binary resource (image) for testing"""
        return base64.b64decode(TEST_IMAGE_BASE64)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template_resource(id: str) -> str:
        """A resource template with parameter substitution"""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource(WATCHED_URI, mime_type="text/plain")
    def watched_resource() -> str:
        """A resource that can be subscribed to for updates"""
        return watched_resource_content

    # ---------------------------------------------------------- prompts

    @server.prompt()
    def test_simple_prompt() -> list[Message]:
        """A simple prompt without arguments"""
        return [Message("user", "This is a simple prompt for testing.")]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[Message]:
        """A prompt with required arguments"""
        return [Message("user", f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
        """A prompt that includes an embedded resource"""
        return [
            Message(
                "user",
                EmbeddedResource(
                    resourceUri,
                    text="Embedded resource content for testing.",
                    mime_type="text/plain",
                ),
            ),
            Message("user", "Please process the embedded resource above."),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[Message]:
        """A prompt that includes image content"""
        return [
            Message("user", ImageContent(TEST_IMAGE_BASE64, "image/png")),
            Message("user", "Please analyze the image above."),
        ]

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> list[Message]:
        """Tests InputRequiredResult from prompts/get (SEP-2322 non-tool request)"""
        answer = await ctx.elicit(
            "What context should the prompt use?", CONTEXT_SCHEMA, key="user_context"
        )
        return [Message("user", f"Use the following context: {_field(answer, 'context', '?')}")]

    # ------------------------------------------------------- completion

    @server.completer
    async def complete(req: CompletionRequest) -> Completion:
        # The reference answers every completion with no values; so do we, except
        # for the extra template below, which shows values, total/hasMore and context.
        if req.ref == EXTRA_ITEMS_TEMPLATE:
            if req.argument == "category":
                return Completion([c for c in CATEGORIES if c.startswith(req.value)])
            if req.argument == "item":
                prefix = req.context.get("category", "item")
                values = [f"{prefix}-{i}" for i in range(150)]
                return Completion([v for v in values if v.startswith(req.value)])
        return Completion([], total=0, has_more=False)

    # ----------------------------------------- extras (not in the reference)

    @server.resource(EXTRA_ITEMS_TEMPLATE, mime_type="text/plain")
    def extra_item(category: str, item: str) -> str:
        """EXTRA: a two-variable template whose completion uses context.arguments."""
        return f"{category}/{item}"

    @server.tool()
    async def extra_update_watched_resource(content: str = "Updated watched content") -> str:
        """EXTRA: change test://watched-resource and notify its subscribers (both eras)."""
        global watched_resource_content
        watched_resource_content = content
        notified = server.notify_resource_updated(WATCHED_URI)
        return f"notified {notified}"

    @server.tool()
    async def extra_toggle(kind: str, present: bool) -> str:
        """EXTRA: add or remove a dynamic tool, prompt or resource ("tool"/"prompt"/"resource")."""
        if kind == "tool":
            if present:
                server.tool(name="extra_dynamic_tool", replace=True)(_dynamic_tool)
            else:
                server.remove_tool("extra_dynamic_tool")
        elif kind == "prompt":
            if present:
                server.prompt(name="extra_dynamic_prompt", replace=True)(_dynamic_prompt)
            else:
                server.remove_prompt("extra_dynamic_prompt")
        elif kind == "resource":
            if present:
                server.resource("extra://dynamic", mime_type="text/plain", replace=True)(
                    _dynamic_resource
                )
            else:
                server.remove_resource("extra://dynamic")
        else:
            raise ValueError(f"unknown kind {kind!r}")
        return f"{kind} {'added' if present else 'removed'}"

    @server.tool()
    async def extra_list_roots(ctx: Context) -> list[str]:
        """EXTRA: the client's roots (roots/list, or an MRTR round in the modern era)."""
        return [root["uri"] for root in await ctx.list_roots()]

    @server.tool()
    async def extra_elicit_url(ctx: Context) -> str:
        """EXTRA: URL-mode elicitation."""
        result = await ctx.elicit_url(
            "Please sign in", "https://example.com/authorize?id=e-1", "e-1"
        )
        return f"action={result.action}"

    @server.tool()
    async def extra_stdlib_logging() -> str:
        """EXTRA: log through the standard logging module (forwarded to the client)."""
        logging.getLogger("everything.app").warning("from the logging module")
        return "logged"

    @server.tool()
    async def extra_context(ctx: Context) -> dict[str, Any]:
        """EXTRA: what the handler's Context knows about its request."""
        return {
            "request_id": ctx.request_id,
            "era": ctx.era.value,
            "protocol_version": ctx.protocol_version,
            "client_name": (ctx.client_info or {}).get("name"),
            "cancel_requested": ctx.cancel_requested,
            "cache_is_shared": ctx.cache is server.cache,
        }

    @server.tool(
        title="Content showcase",
        annotations={
            "readOnlyHint": True,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        },
        icons=[{"src": "https://example.com/icon.png", "mimeType": "image/png"}],
        meta={"example.com/owner": "conformance"},
    )
    def extra_content_showcase() -> ToolResult:
        """EXTRA: a resource_link, annotations on content and _meta on the result."""
        return ToolResult(
            [
                ResourceLink(
                    "test://static-text",
                    "static_text_resource",
                    title="Static text",
                    mime_type="text/plain",
                ),
                TextContent("annotated", annotations={"audience": ["user"], "priority": 0.5}),
            ],
            meta={"example.com/trace": "t-1"},
        )

    @server.tool(title="Weather")
    def extra_structured_weather(city: str = "Paris") -> Weather:
        """EXTRA: structured output (an outputSchema, structuredContent from 2025-06-18)."""
        return {"city": city, "celsius": 21.5, "conditions": ["sunny", "dry"]}

    # The logging bridge: records of "everything.*" loggers emitted while a request
    # is handled reach that request's client (subject to the client's level).
    server.forward_logging("everything")
    return server


class Weather(TypedDict):
    """What extra_structured_weather returns (its outputSchema)."""

    city: str
    celsius: float
    conditions: list[str]


EXTRA_ITEMS_TEMPLATE = "extra://items/{category}/{item}"
CATEGORIES = ["apple", "apricot", "banana", "cherry"]


def _string_form(field: str) -> dict[str, Any]:
    return {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}


NAME_SCHEMA = _string_form("name")
COLOR_SCHEMA = _string_form("color")
CONTEXT_SCHEMA = _string_form("context")
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}

CONFIRM_DELETE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean"}},
    "required": ["confirm"],
}
PARTIAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "confirm": {"type": "boolean"}},
    "required": ["name"],
}

JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

USER_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"response": {"type": "string", "description": "User's response"}},
    "required": ["response"],
}

SEP1034_DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "default": "active",
            "enum": ["active", "inactive", "pending"],
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
}

SEP1330_ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Simple enum without titles",
            "enum": ["active", "inactive", "pending"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Enum with titled options (oneOf)",
            "oneOf": [
                {"const": "low", "title": "Low Priority"},
                {"const": "medium", "title": "Medium Priority"},
                {"const": "high", "title": "High Priority"},
            ],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Multi-select without titles",
            "items": {"type": "string", "enum": ["read", "write", "execute"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Multi-select with titled options",
            "items": {
                "anyOf": [
                    {"const": "feature", "title": "New Feature"},
                    {"const": "bug", "title": "Bug Fix"},
                    {"const": "docs", "title": "Documentation"},
                ]
            },
        },
        "legacyEnum": {
            "type": "string",
            "description": "Legacy enum with enumNames",
            "enum": ["small", "medium", "large"],
            "enumNames": ["Small Size", "Medium Size", "Large Size"],
        },
    },
    "required": ["untitledSingle", "titledSingle", "untitledMulti", "titledMulti", "legacyEnum"],
}


def _model_dump_json(schema: dict[str, Any], content: dict[str, Any] | None) -> str:
    """What the reference's ``result.data.model_dump_json()`` prints for ``content``.

    Fields in schema order, defaults filled in, numbers as floats, compact JSON.
    Raises ``ValueError`` when a required field is missing (the reference's
    validation error, reported by the tool as "... not supported or error").
    """
    content = content or {}
    out: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if name in content:
            value = content[name]
            if prop.get("type") == "number" and isinstance(value, int | float):
                value = float(value)
            out[name] = value
        elif "default" in prop:
            out[name] = prop["default"]
        elif name in schema.get("required", ()):
            raise ValueError(f"elicitation result is missing the required field {name!r}")
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def _field(answer: ElicitResult, name: str, default: str) -> str:
    """A field of an accepted elicitation, or ``default``."""
    if answer.action != "accept" or not answer.content:
        return default
    return str(answer.content.get(name, default))


def _sampled_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, dict) and content.get("type") == "text":
        return str(content.get("text"))
    return "?"


async def _sleep(seconds: float) -> None:
    import trio

    await trio.sleep(seconds)


async def _dynamic_tool() -> str:
    """EXTRA: a tool added at run time."""
    return "dynamic"


def _dynamic_prompt() -> str:
    """EXTRA: a prompt added at run time."""
    return "dynamic prompt"


def _dynamic_resource() -> str:
    """EXTRA: a resource added at run time."""
    return "dynamic resource"


server = build()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="trio_mcp everything (conformance) server")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP: interface to bind")
    parser.add_argument("--port", type=int, default=3001, help="HTTP: port to listen on")
    parser.add_argument("--path", default="/mcp", help="HTTP: endpoint path")
    parser.add_argument("--page-size", type=int, default=None, help="items per list page")
    args = parser.parse_args(argv)

    srv = build(args.page_size) if args.page_size is not None else server
    if args.transport == "stdio":
        srv.run()
        return
    if "port" not in inspect.signature(srv.run).parameters:
        sys.exit(
            "everything.py: --transport http needs trio_mcp's HTTP transport "
            "(Server.run(transport='http', host=..., port=..., path=...)), "
            "which this trio_mcp does not have yet; use --transport stdio"
        )
    srv.run(transport="http", host=args.host, port=args.port, path=args.path)  # type: ignore[call-arg]


if __name__ == "__main__":
    main()
