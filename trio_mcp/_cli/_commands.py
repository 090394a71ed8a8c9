"""``trio-mcp list | call | read | prompt``: a small MCP client for poking a server by hand.

Each command connects with :class:`trio_mcp.Client` (era negotiated, every
request under ``--timeout``), prints what it got on stdout, and returns the
exit status. ``key=value`` arguments of ``call`` are coerced by the tool's
input schema (:func:`coerce`): ``text=42`` is the string ``"42"`` for a
string parameter and the number 42 for a number parameter.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ._targets import EXIT_FAILED, EXIT_OK, CliError, client_target

__all__ = ["cmd_call", "cmd_list", "cmd_prompt", "cmd_read", "coerce", "describe_type"]

_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _types_of(schema: Any) -> set[str]:
    """The JSON types a schema admits (empty: any)."""
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    if isinstance(kind, str):
        types = {kind}
    elif isinstance(kind, list):
        types = {k for k in kind if isinstance(k, str)}
    else:
        types = set()
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            sub = _types_of(branch)
            if not sub:
                return set()
            types |= sub
    if "enum" in schema and not types:
        types = {_JSON_TYPES.get(type(v), "string") for v in schema["enum"]}
    if "const" in schema and not types:
        types = {_JSON_TYPES.get(type(schema["const"]), "string")}
    return types


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "string")


def coerce(pairs: list[str], schema: dict[str, Any] | None) -> dict[str, Any]:
    """``key=value`` pairs as tool arguments, each value read as its schema's type wants.

    A parameter that admits strings takes the text as it is unless the text is
    JSON of another type it admits (``tags='["a"]'`` for ``list[str] | str``);
    other parameters take JSON. Unknown parameters: JSON if it parses, else text.

    Raises:
        CliError: a pair without ``=``, or a value that is not of the parameter's type.
    """
    props = (schema or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"argument {pair!r}: expected key=value")
        types = _types_of(props.get(key))
        try:
            parsed: Any = json.loads(raw)
            ok = True
        except ValueError:
            parsed, ok = raw, False
        if not types:
            out[key] = parsed if ok else raw
            continue
        kind = _json_type(parsed) if ok else "string"
        admitted = kind in types or (kind == "integer" and "number" in types)
        if ok and kind != "string" and admitted:
            out[key] = parsed
        elif "string" in types:
            out[key] = raw
        else:
            expected = " or ".join(sorted(types))
            raise CliError(f"argument {key}: expected {expected}, got {raw!r}")
    return out


def describe_type(schema: Any) -> str:
    """A parameter's type, short: ``number``, ``string[]``, ``"celsius"|"kelvin"``, ``any``."""
    if not isinstance(schema, dict):
        return "any"
    if isinstance(schema.get("enum"), list):
        return "|".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        return describe_type(schema.get("items")) + "[]" if schema.get("items") else "array"
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return "|".join(describe_type(b) for b in schema[key])
    return "any"


def signature(tool: Any) -> str:
    schema = tool.input_schema
    required = set(schema.get("required") or [])
    params = ", ".join(
        f"{name}{'' if name in required else '?'}: {describe_type(prop)}"
        for name, prop in (schema.get("properties") or {}).items()
    )
    return f"{tool.name}({params})"


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None


async def _with_client(args: argparse.Namespace, action: Callable[[Any], Awaitable[int]]) -> int:
    from .. import Client

    timeout = args.timeout
    client = Client(
        client_target(args.server),
        era=args.era,
        timeout=timeout,
        probe_timeout=min(5.0, timeout) if timeout is not None else 5.0,
        client_info={"name": "trio-mcp", "version": _version()},
    )
    async with client:
        return await action(client)


def _version() -> str:
    from .. import __version__

    return __version__


def _run(args: argparse.Namespace, action: Callable[[Any], Awaitable[int]]) -> int:
    import logging

    import trio

    # A server served in memory logs in this process: its records (a tool's traceback)
    # would break the one-line rule. Shown with --debug only.
    if args.debug:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    else:
        logging.basicConfig(handlers=[logging.NullHandler()])

    return trio.run(_with_client, args, action)


def _dump(value: Any) -> None:
    _out(json.dumps(value, indent=2, ensure_ascii=False))


def _print_blocks(blocks: list[Any]) -> None:
    from .. import TextContent

    for block in blocks:
        if isinstance(block, TextContent):
            _out(block.text)
        elif isinstance(block, dict):
            _out(f"[{block.get('type')}]")
        else:
            raw = block.to_wire()
            kind = raw.get("mimeType") or raw.get("uri") or raw.get("resource", {}).get("uri", "")
            _out(f"[{raw.get('type')} {kind}]".replace(" ]", "]"))


# ------------------------------------------------------------------ commands


def cmd_list(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        caps = client.server_capabilities
        listed: dict[str, list[Any]] = {}
        if "tools" in caps:
            listed["tools"] = await client.list_tools()
        if "resources" in caps:
            listed["resources"] = await client.list_resources()
            listed["resourceTemplates"] = await client.list_resource_templates()
        if "prompts" in caps:
            listed["prompts"] = await client.list_prompts()
        if args.json:
            _dump({key: [item.raw for item in items] for key, items in listed.items()})
            return EXIT_OK
        sections: list[tuple[str, Callable[[Any], str], Callable[[Any], str | None]]] = [
            ("tools", signature, lambda t: t.description),
            ("resources", lambda r: r.uri, lambda r: r.description or r.name),
            ("resourceTemplates", lambda r: r.uri_template, lambda r: r.description or r.name),
            ("prompts", _prompt_signature, lambda p: p.description),
        ]
        titles = {"resourceTemplates": "resource templates"}
        many = sum(1 for key, *_ in sections if listed.get(key))
        for key, head, text in sections:
            items = listed.get(key)
            if not items:
                continue
            indent = "    " if many > 1 else ""
            if many > 1:
                _out(f"{titles.get(key, key)}:")
            for item in items:
                _out(f"{indent}{head(item)}")
                line = _first_line(text(item))
                if line:
                    _out(f"{indent}    {line}")
        if not any(listed.values()):
            _out("(the server offers no tools, resources or prompts)")
        return EXIT_OK

    return _run(args, action)


def _prompt_signature(prompt: Any) -> str:
    params = ", ".join(f"{a.name}{'' if a.required else '?'}" for a in prompt.arguments)
    return f"{prompt.name}({params})"


def cmd_call(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        schema = None
        if any("=" in a for a in args.arguments):
            tools = {t.name: t for t in await client.list_tools()}
            if args.tool in tools:
                schema = tools[args.tool].input_schema
        arguments = coerce(args.arguments, schema)
        result = await client.call_tool(args.tool, arguments)
        if args.json:
            _dump(result.raw)
        elif result.is_error:
            text = " ".join(result.text.split()) or "no detail"
            raise CliError(f"tool {args.tool} failed: {text}", EXIT_FAILED)
        else:
            _print_blocks(result.content)
            if result.structured_content is not None and not result.content:
                _dump(result.structured_content)
        return EXIT_FAILED if result.is_error else EXIT_OK

    return _run(args, action)


def cmd_read(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        result = await client.read_resource(args.uri)
        if args.json:
            _dump(result.raw)
            return EXIT_OK
        for item in result.contents:
            if item.text is not None:
                _out(item.text)
            else:
                size = len(item.blob or b"")
                _out(f"[blob {item.mime_type or 'application/octet-stream'}, {size} bytes]")
        return EXIT_OK

    return _run(args, action)


def cmd_prompt(args: argparse.Namespace) -> int:
    async def action(client: Any) -> int:
        arguments = {}
        for pair in args.arguments:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise CliError(f"argument {pair!r}: expected key=value")
            arguments[key] = value
        result = await client.get_prompt(args.name, arguments)
        if args.json:
            _dump(result.raw)
            return EXIT_OK
        for message in result.messages:
            _out(f"{message.role}:")
            _print_blocks([message.content])
        return EXIT_OK

    return _run(args, action)
