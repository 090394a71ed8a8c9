"""Every message ``examples/everything.py`` writes is valid in the version it is sent in.

The everything server is driven through its whole surface in each of the five
protocol versions (the four legacy ones through ``initialize``, 2026-07-28
through ``_meta``): every tool, every list, every resource, template and prompt,
completion, logging, progress, elicitation (form with every enum shape, URL
mode), sampling, roots, subscriptions and list changes, tasks where the version
has them, batches where it has them, and errors. The client's stream is tapped,
so *every* message the server writes is captured (results, errors,
notifications, server-to-client requests, MRTR input requests) and checked
against the official JSON schema of the negotiated version, vendored in
``tests/schemas/`` (see ``SOURCE.md`` there for the spec commit).

Two checks per message, both must pass:

* **official**: the message validates against the schema as published: the
  JSON-RPC envelope (``JSONRPCResponse``/``JSONRPCResultResponse``,
  ``JSONRPCError``/``JSONRPCErrorResponse``, ``JSONRPCNotification``,
  ``JSONRPCRequest``) and the specific type for its method (``CallToolResult``
  for ``tools/call``, ``ElicitRequest`` for ``elicitation/create``...). A server
  request or notification whose method the version does not define at all is a
  violation too.
* **closed**: the same specific type, with every object that names its
  ``properties`` (and does not say ``additionalProperties``) closed, so a field
  the version does not define (``structuredContent`` in 2024-11-05, ``title`` on
  a 2024-11-05 tool, ``elicitationId`` in a 2026-07-28 URL request...) is a
  violation. ``_meta`` objects and the JSON Schema payloads a tool publishes
  (``inputSchema``/``outputSchema``) stay open, as the schemas say.

The io.modelcontextprotocol/tasks extension (2026-07-28) has no schema in the
spec repository: its messages (``tasks/*`` results, a ``resultType: "task"``
answer, ``notifications/tasks``) are checked against the core envelope and
``Result`` only.

Each tool's ``inputSchema``/``outputSchema`` is also checked against the JSON
Schema 2020-12 meta-schema, and each ``structuredContent`` against its tool's
``outputSchema``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

jsonschema = pytest.importorskip("jsonschema")

from jsonschema.exceptions import best_match  # noqa: E402

from trio_mcp._client import ByteStream  # noqa: E402
from trio_mcp._wire import LineBuffer, decode  # noqa: E402
from trio_mcp.testing import RawClient  # noqa: E402
from trio_mcp.testing import _open as open_raw  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMAS = ROOT / "tests" / "schemas"
_spec = importlib.util.spec_from_file_location(
    "everything_example", ROOT / "examples" / "everything.py"
)
assert _spec is not None and _spec.loader is not None
everything = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(everything)
build, WATCHED_URI = everything.build, everything.WATCHED_URI
LEGACY = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
MODERN = "2026-07-28"
VERSIONS = [*LEGACY, MODERN]
TASKS = "io.modelcontextprotocol/tasks"
LIMIT = 60

# The result type of each client request, by method (the schemas do not link them).
RESULT_OF = {
    "initialize": "InitializeResult",
    "ping": "EmptyResult",
    "server/discover": "DiscoverResult",
    "tools/list": "ListToolsResult",
    "tools/call": "CallToolResult",
    "resources/list": "ListResourcesResult",
    "resources/templates/list": "ListResourceTemplatesResult",
    "resources/read": "ReadResourceResult",
    "resources/subscribe": "EmptyResult",
    "resources/unsubscribe": "EmptyResult",
    "prompts/list": "ListPromptsResult",
    "prompts/get": "GetPromptResult",
    "completion/complete": "CompleteResult",
    "logging/setLevel": "EmptyResult",
    "subscriptions/listen": "SubscriptionsListenResult",
    "tasks/get": "GetTaskResult",
    "tasks/list": "ListTasksResult",
    "tasks/cancel": "CancelTaskResult",
    "tasks/result": "CallToolResult",  # the underlying request's result (2025-11-25)
}
# Error codes with a dedicated definition in some versions.
ERROR_OF = {
    -32020: "HeaderMismatchError",
    -32021: "MissingRequiredClientCapabilityError",
    -32022: "UnsupportedProtocolVersionError",
}
# Messages of the 2026-07-28 tasks extension: core envelope and Result only.
EXTENSION_METHODS = {"tasks/get", "tasks/update", "tasks/cancel"}
EXTENSION_NOTIFICATIONS = {"notifications/tasks"}
# Keys whose values are JSON Schema documents a server publishes: left open.
_OPEN_PAYLOADS = {"inputSchema", "outputSchema"}


# ------------------------------------------------------------------ schemas


def _close(node: Any, defs: dict[str, Any], key: str, *, payload: bool = False) -> Any:
    """A copy of ``node`` with every object that lists ``properties`` closed."""
    if isinstance(node, list):
        return [_close(item, defs, key) for item in node]
    if not isinstance(node, dict):
        return node
    if payload:
        return node
    node = dict(node)
    branches = node.get("allOf")
    if branches and all(set(b) == {"$ref"} or "properties" in b for b in branches):
        node.pop("allOf")  # merge allOf [A, B] into one object, so it can be closed whole
        for branch in branches:
            part = defs[branch["$ref"].rsplit("/", 1)[1]] if "$ref" in branch else branch
            for name, prop in part.get("properties", {}).items():
                have = node.setdefault("properties", {}).get(name)
                node["properties"][name] = prop if have is None else {"allOf": [have, prop]}
            node["required"] = sorted({*node.get("required", ()), *part.get("required", ())})
            node.setdefault("type", "object")
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {
                name: _close(prop, defs, key, payload=name in _OPEN_PAYLOADS or name == "_meta")
                for name, prop in v.items()
            }
        else:
            out[k] = _close(v, defs, key)
    if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
        out["additionalProperties"] = False
    return out


@attrs.define(eq=False)
class Spec:
    """One version's official schema, as published and closed."""

    version: str
    root: dict[str, Any]
    key: str
    closed: dict[str, Any]
    cls: Any
    _cache: dict[tuple[bool, str], Any] = attrs.field(factory=dict)

    @classmethod
    def load(cls, version: str) -> Spec:
        root = json.loads((SCHEMAS / f"{version}.json").read_text())
        key = "$defs" if "$defs" in root else "definitions"
        defs = root[key]
        closed = {
            **root,
            key: {
                name: d if name.endswith("MetaObject") else _close(d, defs, key)
                for name, d in defs.items()
            },
        }
        return cls(version, root, key, closed, jsonschema.validators.validator_for(root))

    @property
    def defs(self) -> dict[str, Any]:
        return self.root[self.key]  # type: ignore[no-any-return]

    def methods(self, group: str) -> dict[str, str]:
        """``ServerRequest``/``ServerNotification``: method -> definition name."""
        if group not in self.defs:
            return {}
        names = [ref["$ref"].rsplit("/", 1)[1] for ref in self.defs[group]["anyOf"]]
        return {self.defs[n]["properties"]["method"]["const"]: n for n in names}

    def body(self, msg: dict[str, Any], name: str) -> dict[str, Any]:
        """``msg`` without the envelope keys definition ``name`` leaves to the envelope."""
        props = self.defs[name].get("properties", {})
        return {k: v for k, v in msg.items() if k in props or k not in ("jsonrpc", "id")}

    def name(self, *candidates: str) -> str:
        return next(n for n in candidates if n in self.defs)

    def errors(self, instance: Any, name: str, *, closed: bool = True) -> list[str]:
        """Violations of definition ``name`` (official first; closed only if those pass)."""
        for strict in (False, True) if closed else (False,):
            validator = self._cache.get((strict, name))
            if validator is None:
                root = self.closed if strict else self.root
                validator = self.cls({**root, "$ref": f"#/{self.key}/{name}"})
                self._cache[(strict, name)] = validator
            found = []
            for top in validator.iter_errors(instance):
                error = best_match([top])  # into anyOf branches: the likeliest culprit
                where = "/".join(str(p) for p in error.absolute_path) or "(top)"
                label = "closed " if strict else ""
                found.append(f"{label}{name} at {where}: {error.message[:400]}")
            if found:
                return found
        return []


SPECS = {v: Spec.load(v) for v in VERSIONS}


# ------------------------------------------------------------- the tap


@attrs.define(eq=False)
class Tap(trio.abc.Stream):
    """The client's end of the connection, recording every message in both directions."""

    inner: Any
    written: list[Any] = attrs.field(factory=list)  # server -> client
    requested: dict[Any, dict[str, Any]] = attrs.field(factory=dict)  # client requests by id
    cancelled: set[Any] = attrs.field(factory=set)  # ids the client cancelled: no answer due
    _inbound: LineBuffer = attrs.field(factory=lambda: LineBuffer(1 << 30))
    _outbound: LineBuffer = attrs.field(factory=lambda: LineBuffer(1 << 30))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        for line in self._outbound.feed(bytes(data)):
            try:
                msg = decode(line)  # type: ignore[arg-type]
            except Exception:
                continue  # a deliberately malformed line
            for item in msg if isinstance(msg, list) else [msg]:
                if isinstance(item, dict) and "method" in item and "id" in item:
                    self.requested[item["id"]] = item
                elif isinstance(item, dict) and item.get("method") == "notifications/cancelled":
                    self.cancelled.add(item["params"]["requestId"])
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        for line in self._inbound.feed(bytes(data)):
            self.written.append(decode(line))  # type: ignore[arg-type]
        return data

    async def send_eof(self) -> None:
        await self.inner.send_stream.aclose()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _fill(schema: dict[str, Any]) -> dict[str, Any]:
    """An accepted elicitation answer for a requested schema."""
    content: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        if kind == "array":
            items = prop.get("items", {})
            options = items.get("enum") or [o["const"] for o in items.get("anyOf", [])]
            content[name] = options[:1]
        elif "enum" in prop:
            content[name] = prop["enum"][0]
        elif "oneOf" in prop:
            content[name] = prop["oneOf"][0]["const"]
        else:
            content[name] = {"boolean": True, "integer": 1, "number": 1.5}.get(kind, "text")
    return {"action": "accept", "content": content}


def _sample(params: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m"}


def _roots(params: dict[str, Any]) -> dict[str, Any]:
    return {"roots": [{"uri": "file:///tmp/project", "name": "project"}]}


def _elicit(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("mode") == "url":
        return {"action": "accept"}
    return _fill(params.get("requestedSchema", {}))


ANSWER: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "elicitation/create": _elicit,
    "sampling/createMessage": _sample,
    "roots/list": _roots,
}
CAPABILITIES = {
    "sampling": {},
    "roots": {"listChanged": True},
    "elicitation": {"form": {}, "url": {}},
}


@asynccontextmanager
async def session(
    version: str, capabilities: dict[str, Any] | None = None
) -> AsyncIterator[tuple[RawClient, Tap]]:
    """The everything server in memory, its client's stream tapped."""
    server = build()
    client_end, server_end = trio.testing.memory_stream_pair()
    tap = Tap(client_end)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, server_end)
        client = RawClient(
            ByteStream(tap),
            era="modern" if version == MODERN else "legacy",
            version=version,
            capabilities=CAPABILITIES if capabilities is None else capabilities,
            responders=ANSWER,
        )
        async with open_raw(client, version != MODERN) as connected:
            yield connected, tap


# ------------------------------------------------------------ the drive


ARGUMENTS: dict[str, dict[str, Any]] = {
    "test_sampling": {"prompt": "What is the capital of France?"},
    "test_elicitation": {"message": "Say something"},
    "test_x_mcp_header": {"region": "eu"},
    "json_schema_2020_12_tool": {"name": "n", "contactMethod": "email", "email": "a@b.c"},
    "greet": {"name": "Ada"},
    "slow_compute": {"seconds": 0.01, "label": "x"},
    "confirm_delete": {"filename": "a.txt"},
    "extra_update_watched_resource": {"content": "new"},
    "extra_toggle": {"kind": "tool", "present": True},
}
# Tools whose calls take long in every era; called in the task sessions instead.
SLOW = {"failing_job"}


async def call(
    client: RawClient, method: str, params: dict[str, Any], **meta: Any
) -> dict[str, Any]:
    """A request, retried with answers while the server asks for input (MRTR, modern)."""
    params = dict(params)
    for _ in range(5):
        msg = await client.response(await client.start_request(method, params, meta=meta))
        result = msg.get("result")
        if result is None or result.get("resultType") != "input_required":
            return msg
        answers = {
            key: ANSWER[ask["method"]](ask.get("params", {}))
            for key, ask in result.get("inputRequests", {}).items()
        }
        params["inputResponses"] = answers
        if "requestState" in result:
            params["requestState"] = result["requestState"]
    raise AssertionError(f"{method}: too many input rounds")


async def drive(client: RawClient, tap: Tap, version: str) -> None:
    """Everything a client can ask the everything server, in one version."""
    modern = version == MODERN
    log_meta: dict[str, Any] = {"io.modelcontextprotocol/logLevel": "debug"} if modern else {}
    if modern:
        await client.discover()
    else:
        await client.ping()
        await client.request("logging/setLevel", {"level": "debug"})
        await client.request("resources/subscribe", {"uri": WATCHED_URI})

    tools = {t["name"]: t for t in await client.list_tools()}
    for name in sorted(tools):
        if name in SLOW:
            continue
        await call(
            client,
            "tools/call",
            {"name": name, "arguments": ARGUMENTS.get(name, {})},
            progressToken=f"p-{name}",
            **log_meta,
        )
    for kind in ("tool", "prompt", "resource"):
        for present in (True, False):
            args = {"kind": kind, "present": present}
            await call(client, "tools/call", {"name": "extra_toggle", "arguments": args})

    for resource in await client.list_resources():
        await call(client, "resources/read", {"uri": resource["uri"]})
    await client.request("resources/templates/list")
    for uri in ("test://template/42/data", "extra://items/apple/apple-1"):
        await call(client, "resources/read", {"uri": uri})
    for prompt in await client.list_prompts():
        args = {a["name"]: "test://x" for a in prompt.get("arguments", [])}
        await call(client, "prompts/get", {"name": prompt["name"], "arguments": args})
    await client.complete({"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "arg1")
    template = {"type": "ref/resource", "uri": "extra://items/{category}/{item}"}
    await client.complete(template, "category", "a")
    await client.complete(template, "item", "", {"category": "apple"})

    # errors
    for method, params in [
        ("tools/call", {"name": "no_such_tool", "arguments": {}}),
        ("tools/call", {"name": "greet", "arguments": {"name": 3}}),  # invalid arguments
        ("tools/call", {"name": "failing_job", "arguments": {}}),  # required task, not asked
        ("resources/read", {"uri": "test://missing"}),
        ("prompts/get", {"name": "no_such_prompt"}),
        ("no/such/method", {}),
        ("tools/call", {"name": 7}),
    ]:
        await client.response(await client.start_request(method, params))
    await client.send_line(b'{"jsonrpc": "2.0", "id": 999, "method": ')  # parse error
    await client.send({"jsonrpc": "2.0", "id": 998})  # invalid request
    if version == "2025-03-26":
        batch = [
            {"jsonrpc": "2.0", "id": "b1", "method": "ping"},
            {
                "jsonrpc": "2.0",
                "id": "b2",
                "method": "tools/call",
                "params": {"name": "greet", "arguments": {"name": "b"}},
            },
        ]
        await client.send(batch)
    if not modern:
        await client.request("resources/unsubscribe", {"uri": WATCHED_URI})
    await client.ping() if not modern else await client.discover()  # everything before is out
    await _settle(tap)


async def _settle(tap: Tap) -> None:
    """Wait until every request the client made was answered (batches included)."""
    with trio.fail_after(LIMIT):
        while True:
            answered = {m.get("id") for m in _flat(tap.written) if "method" not in m}
            if set(tap.requested) - tap.cancelled - {999, 998} <= answered:
                return
            await trio.sleep(0.01)


def _flat(messages: list[Any]) -> list[dict[str, Any]]:
    return [m for msg in messages for m in (msg if isinstance(msg, list) else [msg])]


async def drive_listen(client: RawClient) -> None:
    """Modern: list changes and resource updates on a subscriptions/listen stream."""
    wanted = {
        "toolsListChanged": True,
        "promptsListChanged": True,
        "resourcesListChanged": True,
        "resourceSubscriptions": [WATCHED_URI],
    }
    listen = await client.start_request("subscriptions/listen", {"notifications": wanted})
    await client.wait_notification("notifications/subscriptions/acknowledged")
    await call(client, "tools/call", {"name": "test_trigger_tool_change", "arguments": {}})
    await call(client, "tools/call", {"name": "extra_update_watched_resource", "arguments": {}})
    await client.wait_notification("notifications/resources/updated")
    await client.cancel(listen)


async def drive_legacy_tasks(client: RawClient) -> None:
    """2025-11-25 tasks: created, polled, listed, input on the result stream, cancelled."""
    ids = []
    for name in (
        "slow_compute",
        "failing_job",
        "protocol_error_job",
        "confirm_delete",
        "multi_input",
        "test_tool_with_task",
    ):
        params = {"name": name, "arguments": ARGUMENTS.get(name, {}), "task": {"ttl": 60000}}
        msg = await client.response(await client.start_request("tools/call", params))
        if "result" in msg and "task" in msg["result"]:
            ids.append(msg["result"]["task"]["taskId"])
    await client.request("tasks/list")
    for task_id in ids:
        await client.request("tasks/get", {"taskId": task_id})
        await client.response(await client.start_request("tasks/result", {"taskId": task_id}))
    params = {"name": "slow_compute", "arguments": {"seconds": 60}, "task": {}}
    task_id = (await client.request("tools/call", params))["task"]["taskId"]
    await client.request("tasks/cancel", {"taskId": task_id})
    await client.response(await client.start_request("tasks/cancel", {"taskId": task_id}))
    await client.response(await client.start_request("tasks/get", {"taskId": "nope"}))


async def drive_modern_tasks(client: RawClient) -> None:
    """The tasks extension: task handles, tasks/get, tasks/update, cancel, listen on taskIds."""
    ids = []
    for name in (
        "slow_compute",
        "failing_job",
        "protocol_error_job",
        "confirm_delete",
        "multi_input",
        "test_tool_with_task",
    ):
        msg = await call(client, "tools/call", {"name": name, "arguments": ARGUMENTS.get(name, {})})
        if msg.get("result", {}).get("resultType") == "task":
            ids.append(msg["result"]["taskId"])
    listen = await client.start_request("subscriptions/listen", {"notifications": {"taskIds": ids}})
    await client.wait_notification("notifications/subscriptions/acknowledged")
    with trio.fail_after(LIMIT):
        pending = set(ids)
        while pending:
            for task_id in sorted(pending):
                got = await client.request("tasks/get", {"taskId": task_id})
                if got["status"] in ("completed", "failed", "cancelled"):
                    pending.discard(task_id)
                elif got["status"] == "input_required":
                    answers = {
                        key: ANSWER[ask["method"]](ask.get("params", {}))
                        for key, ask in got.get("inputRequests", {}).items()
                    }
                    await client.request(
                        "tasks/update", {"taskId": task_id, "inputResponses": answers}
                    )
            await trio.sleep(0.05)
    msg = await call(client, "tools/call", {"name": "slow_compute", "arguments": {"seconds": 60}})
    await client.request("tasks/cancel", {"taskId": msg["result"]["taskId"]})
    await client.cancel(listen)


# ------------------------------------------------------------ the check


def violations(spec: Spec, tap: Tap) -> list[str]:
    """Every way a captured server message is not valid in ``spec``'s version."""
    out: list[str] = []
    v = spec.version
    requests = spec.methods("ServerRequest")
    notes = spec.methods("ServerNotification")
    result_env = spec.name("JSONRPCResultResponse", "JSONRPCResponse")
    error_env = spec.name("JSONRPCErrorResponse", "JSONRPCError")
    for raw in tap.written:
        if isinstance(raw, list):
            if "JSONRPCBatchResponse" not in spec.defs:
                out.append(f"{v}: a batch response, which this version does not define")
            else:
                out += [f"{v} batch: {e}" for e in spec.errors(raw, "JSONRPCBatchResponse")]
        for msg in raw if isinstance(raw, list) else [raw]:
            out += [
                f"{v} {_label(msg, tap)}: {e}"
                for e in _check(spec, msg, tap, requests, notes, result_env, error_env)
            ]
    return out


def _label(msg: dict[str, Any], tap: Tap) -> str:
    if "method" in msg:
        return msg["method"]
    asked = tap.requested.get(msg.get("id"))
    return f"answer to {asked['method'] if asked else '?'} (id {msg.get('id')!r})"


def _check(
    spec: Spec,
    msg: dict[str, Any],
    tap: Tap,
    requests: dict[str, str],
    notes: dict[str, str],
    result_env: str,
    error_env: str,
) -> list[str]:
    if "method" in msg and "id" in msg:
        if msg["method"] not in requests:
            return [f"server request {msg['method']!r} does not exist in this version"]
        name = requests[msg["method"]]
        return spec.errors(msg, "JSONRPCRequest", closed=False) + spec.errors(
            spec.body(msg, name), name
        )
    if "method" in msg:
        method = msg["method"]
        if spec.version == MODERN and method in EXTENSION_NOTIFICATIONS:
            return spec.errors(msg, "JSONRPCNotification", closed=False)
        if method not in notes:
            return [f"notification {method!r} does not exist in this version"]
        if spec.version == MODERN and method == "notifications/subscriptions/acknowledged":
            msg = _without_task_ids(msg)
        name = notes[method]
        return spec.errors(msg, "JSONRPCNotification", closed=False) + spec.errors(
            spec.body(msg, name), name
        )
    if "error" in msg:
        if _unreadable_id(msg):
            return []
        errs = spec.errors(msg, error_env)
        special = ERROR_OF.get(msg["error"].get("code"))
        if special in spec.defs:
            errs += spec.errors(msg, special)
        return errs
    errs = spec.errors(msg, result_env, closed=False)
    asked = tap.requested.get(msg.get("id"))
    method = asked["method"] if asked else ""
    result = msg.get("result", {})
    if spec.version == MODERN and result.get("resultType") == "input_required":
        return errs + spec.errors(result, "InputRequiredResult")
    if spec.version == MODERN and (
        method in EXTENSION_METHODS or result.get("resultType") == "task"
    ):
        return errs + spec.errors(result, "Result", closed=False)
    name = (
        "CreateTaskResult" if method == "tools/call" and "task" in result else RESULT_OF.get(method)
    )
    if name is None or name not in spec.defs:
        return [*errs, f"a result to {method!r}, which this version does not define"]
    return errs + spec.errors(result, name)


def kinds(taps: list[Tap]) -> set[str]:
    """What kinds of message the server wrote (to prove the drive reached them)."""
    out: set[str] = set()
    for tap in taps:
        for raw in tap.written:
            if isinstance(raw, list):
                out.add("batch")
            for m in raw if isinstance(raw, list) else [raw]:
                if "method" in m:
                    out.add(("request " if "id" in m else "") + m["method"])
                elif "error" in m:
                    out.add(f"error {m['error']['code']}")
                else:
                    result = m["result"]
                    out.add(
                        f"result {result.get('resultType', 'task' if 'task' in result else '')}"
                    )
                    content = result.get("content")
                    out.update(f"block {b['type']}" for b in content or () if isinstance(b, dict))
                    if "structuredContent" in result:
                        out.add("structuredContent")
    return out


def reached(version: str) -> set[str]:
    """What the drive must reach in ``version``."""
    out = {
        "notifications/message",
        "notifications/progress",
        "notifications/resources/updated",
        "notifications/tools/list_changed",
        "error -32700",
        "error -32600",
        "error -32601",
        "error -32602",
        "block text",
        "block image",
        "block resource",
    }
    v = VERSIONS.index(version)
    if version != MODERN:
        out |= {"request sampling/createMessage", "request roots/list", "result "}
        out |= {"notifications/prompts/list_changed", "notifications/resources/list_changed"}
    if v >= VERSIONS.index("2025-03-26"):
        out.add("block audio")
    if v >= VERSIONS.index("2025-06-18"):
        out |= {"block resource_link", "structuredContent"}
        if version != MODERN:
            out.add("request elicitation/create")
    if version == "2025-03-26":
        out.add("batch")
    if version == "2025-11-25":
        out |= {"result task", "notifications/tasks/status"}
    if version == MODERN:
        out |= {"result complete", "result input_required", "result task", "error -32021"}
        out |= {"notifications/tasks", "notifications/subscriptions/acknowledged"}
    return out


def _unreadable_id(msg: dict[str, Any]) -> bool:
    """The one deliberate exception: ``id: null`` on the error for a line whose id
    could not be read (parse error, invalid request). JSON-RPC 2.0 (section 5)
    requires ``null`` there; the MCP schemas type ``id`` as string or integer
    (required before 2025-11-25, optional since), so no answer could satisfy both.
    The envelope is still checked; only the id is exempt."""
    return (
        msg.get("id", 0) is None
        and msg["error"].get("code") in (-32700, -32600)
        and not SPECS[VERSIONS[0]].errors({**msg, "id": 0}, "JSONRPCError")
    )


def _without_task_ids(msg: dict[str, Any]) -> dict[str, Any]:
    """The tasks extension adds ``taskIds`` to a listen ack; the core schema cannot know it."""
    notifications = dict(msg["params"]["notifications"])
    notifications.pop("taskIds", None)
    return {**msg, "params": {**msg["params"], "notifications": notifications}}


# ------------------------------------------------------------- the tests


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_message_is_valid_in_its_version(version: str) -> None:
    spec = SPECS[version]
    taps: list[Tap] = []
    with trio.fail_after(LIMIT):
        async with session(version) as (client, tap):
            taps.append(tap)
            await drive(client, tap, version)
            if version == MODERN:
                await drive_listen(client)
            elif version == "2025-11-25":
                await drive_legacy_tasks(client)
            await _settle(tap)
        if version == MODERN:
            caps = {**CAPABILITIES, "extensions": {TASKS: {}}}
            async with session(version, caps) as (client, tap):
                taps.append(tap)
                await drive_modern_tasks(client)
                await _settle(tap)
    found = [v for tap in taps for v in violations(spec, tap)]
    assert reached(version) <= kinds(taps), reached(version) - kinds(taps)
    assert not found, f"{len(found)} violation(s):\n" + "\n".join(found)


@pytest.mark.parametrize("version", VERSIONS)
async def test_tool_schemas_and_structured_content(version: str) -> None:
    """Every published input/output schema is valid JSON Schema 2020-12; every
    ``structuredContent`` matches its tool's ``outputSchema``."""
    meta = jsonschema.Draft202012Validator
    bad: list[str] = []
    with trio.fail_after(LIMIT):
        async with session(version) as (client, _):
            tools = await client.list_tools()
            for tool in tools:
                for key in ("inputSchema", "outputSchema"):
                    if key in tool:
                        for err in meta(meta.META_SCHEMA).iter_errors(tool[key]):
                            bad.append(f"{tool['name']} {key}: {err.message}")
            structured = 0
            for tool in tools:
                if tool["name"] in SLOW or "outputSchema" not in tool:
                    continue
                msg = await call(
                    client,
                    "tools/call",
                    {"name": tool["name"], "arguments": ARGUMENTS.get(tool["name"], {})},
                )
                result = msg.get("result", {})
                if "structuredContent" in result:
                    structured += 1
                    for err in meta(tool["outputSchema"]).iter_errors(result["structuredContent"]):
                        bad.append(f"{tool['name']} structuredContent: {err.message}")
    assert not bad, "\n".join(bad)
    if version not in ("2024-11-05", "2025-03-26"):
        assert structured > 0  # the check reached some structured output


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("2024-11-05", {"content": [{"type": "audio", "data": "AA==", "mimeType": "audio/wav"}]}),
        ("2025-03-26", {"content": [{"type": "resource_link", "uri": "a://b", "name": "b"}]}),
        ("2024-11-05", {"content": [], "structuredContent": {}}),
        ("2025-11-25", {"content": [{"type": "text", "text": "x", "colour": "red"}]}),
    ],
)
def test_the_check_catches_what_a_version_lacks(version: str, message: dict[str, Any]) -> None:
    """The checker is not vacuous: content or fields a version lacks are violations."""
    tap = Tap(None)  # type: ignore[arg-type]
    tap.requested[1] = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    tap.written.append({"jsonrpc": "2.0", "id": 1, "result": message})
    assert violations(SPECS[version], tap)
    ok = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "x"}]}}
    tap.written[:] = [ok]
    assert violations(SPECS[version], tap) == []


def test_vendored_schemas_define_their_version() -> None:
    for version, spec in SPECS.items():
        assert "CallToolResult" in spec.defs and "ServerCapabilities" in spec.defs, version
    assert "DiscoverResult" in SPECS[MODERN].defs and "InitializeResult" not in SPECS[MODERN].defs
    assert copy.deepcopy(SPECS[MODERN].root) == json.loads((SCHEMAS / f"{MODERN}.json").read_text())
