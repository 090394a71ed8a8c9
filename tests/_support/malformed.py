"""The malformed-input table of issue 7: each row one input line and the answer it must get.

A JSON-RPC error code, an ``isError`` tool result, or nothing at all (for
notifications and responses). The rows are data, driven through the sans-IO
session by ``tests/protocol/test_malformed_input.py`` and through the real stdio
process by ``tests/transports/test_stdio_malformed_input.py``; the table in
``docs/reliability.md`` is printed from here::

    .venv/bin/python tests/_support/malformed.py      # prints the Markdown table
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

import attrs

LEGACY = "2025-11-25"
NESTING = 100_000
TEN_MB = 10 * 1000 * 1000
Expect = int | Literal["isError", "no answer"]


@attrs.frozen
class Row:
    """One malformed input and the answer it must get.

    Attributes:
        name: What is wrong, as the table says it.
        line: The exact bytes sent (a newline is added).
        expect: A JSON-RPC error code, ``"isError"`` (a tool result with
            ``isError: true``: the MCP way to report bad tool arguments), or
            ``"no answer"``.
        id: The id the answer must carry (``None`` is JSON ``null``).
        layer: ``"protocol"`` if the sans-IO session answers it alone,
            ``"app"`` if the session hands it on and the application answers.
        null_id_ok: The answer may carry ``null`` instead of ``id`` (an oversized
            line is never parsed; its id is recovered only when it can be).
        setup: ``"in_flight"``: a request with id ``"dup"`` is in flight first.
    """

    name: str
    line: bytes
    expect: Expect
    id: Any = None
    layer: Literal["protocol", "app"] = "protocol"
    null_id_ok: bool = False
    setup: Literal["in_flight"] | None = None
    shown: str | None = None

    def display(self) -> str:
        if self.shown is not None:
            return self.shown
        text = self.line.decode("utf-8", errors="backslashreplace")
        return text if len(text) <= 90 else text[:80] + "…"


_DROP: Final = object()


def j(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def call(rid: Any, name: Any, arguments: Any = None, **params: Any) -> bytes:
    p: dict[str, Any] = {} if name is _DROP else {"name": name}
    p.update(params)
    if arguments is not None:
        p["arguments"] = arguments
    return j({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": p})


def modern(rid: Any, **meta: Any) -> bytes:
    m = {**MODERN_META_DATA, **meta}
    for key in [k for k, v in m.items() if v is _DROP]:
        del m[key]
    return j({"jsonrpc": "2.0", "id": rid, "method": "tools/list", "params": {"_meta": m}})


MODERN_META_DATA: Final = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


PV = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LEVEL = "io.modelcontextprotocol/logLevel"

TABLE: Final[list[Row]] = [
    # --- bytes and JSON
    Row("invalid UTF-8", b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', -32700),
    Row("invalid JSON", b'{"jsonrpc": "2.0", "id": 2, "method": "ping"', -32700),
    Row("a JSON scalar", b"42", -32600),
    Row("a JSON string", b'"ping"', -32600),
    Row("an empty line", b"", -32700, shown="(empty line)"),
    Row("a line of blanks", b"   \t ", -32700, shown="(spaces and a tab)"),
    Row("an empty array", b"[]", -32600),
    Row(
        "a batch in an era without batching (2025-11-25)",
        b'[{"jsonrpc":"2.0","id":3,"method":"ping"}]',
        -32600,
    ),
    Row(
        f"deeply nested JSON ({NESTING:,} levels of arrays)",
        b"[" * NESTING + b"]" * NESTING,
        -32700,
        shown=f"`[[[[…]]]]`, {NESTING:,} levels",
    ),
    Row(
        f"deeply nested JSON inside params ({NESTING:,} levels of objects)",
        b'{"jsonrpc":"2.0","id":4,"method":"ping","params":'
        + b'{"a":' * NESTING
        + b"{}"
        + b"}" * NESTING
        + b"}",
        -32700,
        shown=f'`{{"jsonrpc":"2.0","id":4,"method":"ping","params":{{"a":{{"a":…}}}}}}`, {NESTING:,} levels',
    ),
    # --- the envelope
    Row("missing jsonrpc", j({"id": 5, "method": "ping"}), -32600, id=5),
    Row("wrong jsonrpc version", j({"jsonrpc": "1.0", "id": 6, "method": "ping"}), -32600, id=6),
    Row("jsonrpc as a number", j({"jsonrpc": 2.0, "id": 7, "method": "ping"}), -32600, id=7),
    Row("non-string method", j({"jsonrpc": "2.0", "id": 8, "method": 7}), -32600, id=8),
    Row("method null", j({"jsonrpc": "2.0", "id": 9, "method": None}), -32600, id=9),
    Row("id is an object", j({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}), -32600),
    Row("id is a float", j({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}), -32600),
    Row("id is null", j({"jsonrpc": "2.0", "id": None, "method": "ping"}), -32600),
    Row("id is a boolean", j({"jsonrpc": "2.0", "id": True, "method": "ping"}), -32600),
    Row(
        "duplicate id while the first is in flight",
        j({"jsonrpc": "2.0", "id": "dup", "method": "ping"}),
        -32600,
        id="dup",
        setup="in_flight",
    ),
    Row(
        "params is an array",
        j({"jsonrpc": "2.0", "id": 10, "method": "ping", "params": [1]}),
        -32602,
        id=10,
    ),
    Row(
        "params is a string",
        j({"jsonrpc": "2.0", "id": 11, "method": "ping", "params": "x"}),
        -32600,
        id=11,
    ),
    Row("neither method nor result", j({"jsonrpc": "2.0", "id": 12}), -32600, id=12),
    # --- methods, notifications, responses
    Row("unknown method", j({"jsonrpc": "2.0", "id": 13, "method": "no/such"}), -32601, id=13),
    Row("unknown notification", j({"jsonrpc": "2.0", "method": "notifications/nope"}), "no answer"),
    Row("a response to nothing", j({"jsonrpc": "2.0", "id": 999, "result": {}}), "no answer"),
    Row(
        "an error response to nothing",
        j({"jsonrpc": "2.0", "id": 998, "error": {"code": 1, "message": "x"}}),
        "no answer",
    ),
    Row(
        "a response with both result and error",
        j({"jsonrpc": "2.0", "id": 997, "result": {}, "error": {"code": 1, "message": "x"}}),
        -32600,
    ),
    Row(
        "cancelled notification for an unknown id",
        j({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 424242}}),
        "no answer",
    ),
    Row(
        "cancelled notification with a malformed requestId",
        j(
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": {"x": [1]}},
            }
        ),
        "no answer",
    ),
    Row(
        "initialize sent twice",
        j(
            {
                "jsonrpc": "2.0",
                "id": 14,
                "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {}},
            }
        ),
        -32600,
        id=14,
    ),
    Row(
        "logging/setLevel with a level that is not a string",
        j({"jsonrpc": "2.0", "id": 15, "method": "logging/setLevel", "params": {"level": []}}),
        -32602,
        id=15,
    ),
    # --- tools/call (answered by the application)
    Row("tools/call without a name", call(16, _DROP, {}), -32602, id=16, layer="app"),
    Row("tools/call with a name that is a list", call(17, [1], {}), -32602, id=17, layer="app"),
    Row("tools/call of an unknown tool", call(18, "nope", {}), -32602, id=18, layer="app"),
    Row("tools/call, arguments not an object", call(19, "add", [1, 2]), -32602, id=19, layer="app"),
    Row(
        "tools/call, arguments of wrong types",
        call(20, "add", {"a": "one", "b": 2}),
        "isError",
        id=20,
        layer="app",
        shown='`tools/call` of `add(a: float, b: float)` with `"arguments":{"a":"one","b":2}`',
    ),
    Row(
        "tools/call, extra arguments",
        call(21, "add", {"a": 1, "b": 2, "c": 3}),
        "isError",
        id=21,
        layer="app",
        shown='`tools/call` of `add(a: float, b: float)` with `"arguments":{"a":1,"b":2,"c":3}`',
    ),
    Row(
        "tools/call, a required argument missing",
        call(22, "add", {"a": 1}),
        "isError",
        id=22,
        layer="app",
        shown='`tools/call` of `add(a: float, b: float)` with `"arguments":{"a":1}`',
    ),
    # --- size
    Row(
        "a 10 MB line (over the default 4 MiB limit)",
        call(23, "echo", {"text": "x" * TEN_MB}),
        -32600,
        id=23,
        null_id_ok=True,
        shown='`{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"echo","arguments":{"text":"xxxx…"}}}`, 10 MB',
    ),
    # --- modern requests with broken _meta
    Row(
        "modern: unsupported protocolVersion",
        modern(30, **{PV: "1999-01-01"}),
        -32022,
        id=30,
        shown='`tools/list` with `_meta` `"…/protocolVersion":"1999-01-01"`',
    ),
    Row(
        "modern: protocolVersion is a number",
        modern(31, **{PV: 2026}),
        -32022,
        id=31,
        shown='`tools/list` with `_meta` `"…/protocolVersion":2026`',
    ),
    Row(
        "modern: clientCapabilities missing",
        modern(32, **{CAPS: _DROP}),
        -32602,
        id=32,
        shown="`tools/list` with `_meta` lacking `…/clientCapabilities`",
    ),
    Row(
        "modern: clientCapabilities not an object",
        modern(33, **{CAPS: "all"}),
        -32602,
        id=33,
        shown='`tools/list` with `_meta` `"…/clientCapabilities":"all"`',
    ),
    Row(
        "modern: clientInfo not an object",
        modern(34, **{INFO: ["raw"]}),
        -32602,
        id=34,
        shown='`tools/list` with `_meta` `"…/clientInfo":["raw"]`',
    ),
    Row(
        "modern: unknown logLevel",
        modern(35, **{LEVEL: "loud"}),
        -32602,
        id=35,
        shown='`tools/list` with `_meta` `"…/logLevel":"loud"`',
    ),
    Row(
        "modern: logLevel not a string",
        modern(36, **{LEVEL: {}}),
        -32602,
        id=36,
        shown='`tools/list` with `_meta` `"…/logLevel":{}`',
    ),
]


def markdown_table() -> str:
    """The table as Markdown, for ``docs/reliability.md``."""
    out = ["| # | Input | Example (one line) | Answer |", "|---|---|---|---|"]
    for i, row in enumerate(TABLE, 1):
        shown = row.display()
        if not shown.startswith("`") and not shown.startswith("("):
            shown = f"`{shown}`"
        shown = shown.replace("|", "\\|")
        if row.expect == "isError":
            answer = "result with `isError: true`"
        elif row.expect == "no answer":
            answer = "nothing (ignored)"
        else:
            rid = json.dumps(row.id)
            if row.null_id_ok:
                rid = f"{rid} (or null)"
            answer = f"`{row.expect}`, id {rid}"
        out.append(f"| {i} | {row.name} | {shown} | {answer} |")
    return "\n".join(out)


def check_answer(row: Row, msg: dict[str, Any] | None) -> None:
    """``msg`` is the one answer to ``row`` (``None``: nothing came)."""
    if row.expect == "no answer":
        assert msg is None, (row.name, msg)
        return
    assert msg is not None, (row.name, "no answer")
    assert msg.get("jsonrpc") == "2.0", (row.name, msg)
    if not (row.null_id_ok and msg["id"] is None):
        assert msg["id"] == row.id and type(msg["id"]) is type(row.id), (row.name, msg)
    if row.expect == "isError":
        assert msg["result"]["isError"] is True, (row.name, msg)
        assert msg["result"]["content"][0]["type"] == "text", (row.name, msg)
    else:
        assert ("result" in msg) != ("error" in msg), (row.name, msg)
        assert "error" in msg, (row.name, msg)
        assert msg["error"]["code"] == row.expect, (row.name, msg)
        assert isinstance(msg["error"]["message"], str) and msg["error"]["message"], msg


if __name__ == "__main__":
    print(markdown_table())
