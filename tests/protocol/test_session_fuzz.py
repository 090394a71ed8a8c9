"""Property-based fuzzing (hypothesis) of the framing, the sans-IO session and the runtime.

The properties (issue 7):

* :class:`LineBuffer`: however the bytes are chunked, the lines out are exactly
  the lines in (oversized ones replaced by one marker each, with the true size),
  and no more than ``max_line`` bytes are ever held.
* :class:`ServerSession`: no input raises out of ``receive_line``; everything it
  sends is a well-formed JSON-RPC response; every request-shaped input (an object
  with ``"method"`` and ``"id"``) gets exactly one answer carrying its id (or
  ``null`` when the id is not a valid one). Requests handed to the application
  count as answered once the test answers them through ``session.respond`` /
  ``respond_error``; a cancelled one gets no answer at all. Batches (2025-03-26)
  answer each of their requests exactly once, in one array.
* The runtime, in memory: random lines never kill the connection, and every
  request-shaped line gets exactly one response.

``tests/test_wire.py`` and ``tests/test_protocol.py`` hold the example-based tests.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_mcp import Server
from trio_mcp._errors import McpError
from trio_mcp._protocol import (
    CancelRequest,
    ClientResponse,
    IncomingRequest,
    Notified,
    Send,
    ServerInfo,
    ServerSession,
)
from trio_mcp._wire import LineBuffer, OversizedLine, encode

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PV = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
INFO = "io.modelcontextprotocol/clientInfo"
LEVEL = "io.modelcontextprotocol/logLevel"

# ------------------------------------------------------------------ framing


def reference_lines(data: bytes, limit: int) -> list[bytes | tuple[int, int]]:
    """What LineBuffer must produce: ``(size, limit)`` stands for an OversizedLine."""
    *complete, tail = data.split(b"\n")
    out: list[bytes | tuple[int, int]] = []
    for seg in complete:
        if len(seg) > limit:
            out.append((len(seg), limit))
        else:
            out.append(seg[:-1] if seg.endswith(b"\r") else seg)
    if len(tail) > limit:
        out.append((len(tail), limit))
    elif tail.strip():
        out.append(tail[:-1] if tail.endswith(b"\r") else tail)
    return out


line_bytes = st.lists(
    st.tuples(
        st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"\r", b"{}", b"x" * 70])),
        st.sampled_from([b"\n", b"\r\n", b"", b"\n\n"]),
    ),
    max_size=20,
).map(lambda parts: b"".join(a + b for a, b in parts))


@FUZZ
@given(data=line_bytes, limit=st.integers(1, 64), cuts=st.lists(st.integers(0, 2000)))
def test_linebuffer_any_chunking_gives_the_reference_lines(
    data: bytes, limit: int, cuts: list[int]
) -> None:
    buf = LineBuffer(limit)
    got: list[bytes | tuple[int, int]] = []
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(bounds):
        for item in buf.feed(data[start:end]):
            got.append((item.size, item.limit) if type(item) is OversizedLine else item)
        assert len(buf._buf) <= limit  # never holds more than one line's worth
    for item in buf.close():
        got.append((item.size, item.limit) if type(item) is OversizedLine else item)
    assert got == reference_lines(data, limit)
    assert buf.pending == 0 and len(buf._buf) == 0


@FUZZ
@given(data=line_bytes, limit=st.integers(1, 64), chunk=st.integers(1, 50))
def test_linebuffer_oversized_head_is_a_prefix_of_the_line(
    data: bytes, limit: int, chunk: int
) -> None:
    """Where an OversizedLine keeps the line's first bytes, they are that line's."""
    buf = LineBuffer(limit)
    items: list[Any] = []
    for i in range(0, len(data), chunk):
        items += buf.feed(data[i : i + chunk])
    items += buf.close()
    segments = [s for s in data.split(b"\n")]
    over = [s for s in segments if len(s) > limit]
    heads = [getattr(i, "head", None) for i in items if type(i) is OversizedLine]
    assert len(heads) == len(over)
    for head, seg in zip(heads, over, strict=True):
        if head is not None:
            assert seg.startswith(head) and len(head) >= min(len(seg), 1)


# ------------------------------------------------------------------ session

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(-5, 40),
    st.sampled_from(["a", "b", "", "dup"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
methods = st.one_of(
    st.sampled_from(
        [
            "ping",
            "initialize",
            "tools/list",
            "tools/call",
            "logging/setLevel",
            "server/discover",
            "no/such/method",
            "notifications/cancelled",
            "notifications/initialized",
            "notifications/whatever",
            "resources/list",
        ]
    ),
    st.text(max_size=8),
    json_values,
)
versions = st.one_of(
    st.sampled_from(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "x"]),
    json_values,
)
metas = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {PV: versions},
        optional={
            CAPS: st.one_of(st.just({}), json_values),
            INFO: st.one_of(st.just({"name": "c", "version": "1"}), json_values),
            LEVEL: st.one_of(st.sampled_from(["debug", "error", "loud"]), json_values),
            "progressToken": json_values,
        },
    ),
)
params = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "_meta": metas,
            "protocolVersion": versions,
            "capabilities": json_values,
            "clientInfo": json_values,
            "name": st.one_of(st.sampled_from(["echo", "add"]), json_values),
            "arguments": json_values,
            "level": st.one_of(st.sampled_from(["debug", "info"]), json_values),
            "requestId": st.one_of(ids, json_values),
            "reason": json_values,
            "cursor": json_values,
        },
    ),
)
jsonrpcs = st.one_of(st.just("2.0"), st.sampled_from(["1.0", "2", 2.0, None]), json_values)


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """Mostly near-valid JSON-RPC objects (requests, notifications, responses)."""
    kind = draw(st.sampled_from(["near", "near", "request", "notification", "response", "any"]))
    if kind == "any":
        return draw(json_values)
    if kind == "near":
        return draw(near_valid())
    msg: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        msg["jsonrpc"] = draw(jsonrpcs) if draw(st.integers(0, 5)) == 0 else "2.0"
    if kind in ("request", "response"):
        msg["id"] = draw(ids)
    if kind == "response":
        which = draw(st.sampled_from(["result", "error", "both", "neither"]))
        if which in ("result", "both"):
            msg["result"] = draw(json_values)
        if which in ("error", "both"):
            msg["error"] = draw(
                st.one_of(
                    st.fixed_dictionaries({"code": st.integers(), "message": st.text()}),
                    json_values,
                )
            )
        return msg
    msg["method"] = draw(methods)
    if draw(st.booleans()):
        msg["params"] = draw(params)
    return msg


MODERN_META: dict[str, Any] = {
    PV: "2026-07-28",
    CAPS: {"elicitation": {}},
    INFO: {"name": "c", "version": "1"},
    LEVEL: "info",
    "progressToken": "p",
}
#: One valid request per method; fuzzing mutates a few of their fields.
TEMPLATES: list[dict[str, Any]] = [
    {"method": "ping"},
    {"method": "initialize", "params": {"protocolVersion": "2025-03-26", "capabilities": {}}},
    {"method": "logging/setLevel", "params": {"level": "info"}},
    {"method": "server/discover", "params": {"_meta": MODERN_META}},
    {"method": "tools/list", "params": {"cursor": "bzox", "_meta": MODERN_META}},
    {"method": "tools/list", "params": {"cursor": "bzox"}},
    {
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": 1}},
    },
    {
        "method": "tools/call",
        "params": {
            "name": "add",
            "arguments": {"a": 1, "b": 2},
            "requestState": "x.y",
            "inputResponses": {"k": {"action": "accept"}},
            "_meta": MODERN_META,
        },
    },
    {"method": "tools/call", "params": {"name": "sync_add", "arguments": {"a": 1, "b": 2}}},
    {"method": "resources/list", "params": {}},
    {"method": "resources/templates/list", "params": {}},
    {"method": "resources/read", "params": {"uri": "mem://a"}},
    {"method": "resources/read", "params": {"uri": "users://7/profile"}},
    {"method": "resources/subscribe", "params": {"uri": "mem://a"}},
    {"method": "resources/unsubscribe", "params": {"uri": "mem://a"}},
    {"method": "prompts/list", "params": {}},
    {"method": "prompts/get", "params": {"name": "greet", "arguments": {"who": "w"}}},
    {
        "method": "completion/complete",
        "params": {
            "ref": {"type": "ref/prompt", "name": "greet"},
            "argument": {"name": "who", "value": "w"},
            "context": {"arguments": {}},
        },
    },
    {
        "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": True}, "_meta": MODERN_META},
    },
    {"method": "notifications/cancelled", "params": {"requestId": 1, "reason": "r"}},
    {"method": "notifications/initialized"},
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if type(obj) is dict:
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    return out


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request of some method with 0-2 params fields replaced by any JSON, or deleted.

    (The envelope itself is fuzzed by :func:`messages`.)
    """
    msg: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    msg["jsonrpc"] = "2.0"
    if not msg["method"].startswith("notifications/"):
        msg["id"] = draw(st.one_of(st.integers(0, 30), ids))
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(msg.get("params"), ("params",)) if type(msg.get("params")) is dict else []
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = msg
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.integers(0, 4)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return msg


def valid_id(value: Any) -> bool:
    return type(value) in (int, str)


def echo_id(msg: Any) -> Any:
    return msg["id"] if valid_id(msg["id"]) else None


def request_shaped(msg: Any) -> bool:
    return type(msg) is dict and "method" in msg and "id" in msg


def needs_no_answer(msg: Any) -> bool:
    """An independent oracle: a valid notification or response gets no answer."""
    if type(msg) is not dict or msg.get("jsonrpc") != "2.0":
        return False
    if "method" in msg:
        p = msg.get("params")
        return "id" not in msg and type(msg["method"]) is str and (p is None or type(p) is dict)
    if ("result" in msg) == ("error" in msg):
        return False
    if "id" not in msg or not (msg["id"] is None or valid_id(msg["id"])):
        return False
    if "error" in msg:
        err = msg["error"]
        return type(err) is dict and type(err.get("code")) is int
    return True


def check_response(msg: Any) -> None:
    """A well-formed JSON-RPC 2.0 response object, encodable as one JSON line."""
    assert type(msg) is dict, msg
    assert msg["jsonrpc"] == "2.0", msg
    assert "id" in msg and (msg["id"] is None or valid_id(msg["id"])), msg
    assert ("result" in msg) != ("error" in msg), msg
    if "error" in msg:
        err = msg["error"]
        assert type(err["code"]) is int and type(err["message"]) is str, msg
        assert set(err) <= {"code", "message", "data"}, msg
    else:
        assert type(msg["result"]) is dict, msg
    assert b"\n" not in encode(msg)


def check_send(ev: Send) -> list[dict[str, Any]]:
    """The messages in one Send (a batch is a non-empty array of responses)."""
    out = ev.message if type(ev.message) is list else [ev.message]
    assert out, ev
    for m in out:
        check_response(m)
    return out  # type: ignore[return-value]


def key(rid: Any) -> tuple[str, Any]:
    return (type(rid).__name__, rid)  # True == 1 as dict keys: keep them apart


@attrs.define
class Flight:
    batch: BatchModel | None
    cancelled: bool = False


@attrs.define
class BatchModel:
    expected: Counter[tuple[str, Any]] = attrs.field(factory=Counter)
    #: Valid ids of invalid non-request items: their error may echo the id, or say null.
    flex: list[Any] = attrs.field(factory=list)
    pending: int = 0
    answered: bool = False


@attrs.define
class Model:
    """What the test knows of the session: in-flight ids, open batches, all answers."""

    session: ServerSession
    in_flight: dict[Any, Flight] = attrs.field(factory=dict)
    answers: int = 0

    def feed(self, line: bytes | OversizedLine, decoded: Any, undecodable: bool) -> None:
        s = self.session
        batch_era = s.legacy_version == "2025-03-26"
        events = s.receive_line(line)  # must never raise
        sends = [e for e in events if type(e) is Send]
        requests = [e for e in events if type(e) is IncomingRequest]
        for ev in events:
            assert type(ev) in (Send, IncomingRequest, CancelRequest, ClientResponse, Notified)
            if type(ev) is CancelRequest:
                flight = self.in_flight[ev.id]  # only ever for a request in flight
                assert not flight.cancelled
                flight.cancelled = True
                if flight.batch is not None:
                    flight.batch.expected[key(ev.id)] -= 1
        sent = [m for ev in sends for m in check_send(ev)]
        self.answers += len(sent)
        for req in requests:
            assert valid_id(req.id) and req.id not in self.in_flight
            assert type(req.params) is dict and type(req.method) is str
        if undecodable or type(line) is OversizedLine:
            assert len(sent) == 1 and not requests and sent[0]["error"]["code"] in (-32700, -32600)
            return
        if type(decoded) is list and batch_era and decoded:
            self._feed_batch(decoded, sends, requests)
            return
        assert all(type(ev.message) is dict for ev in sends), "a batch answer outside a batch"
        if request_shaped(decoded):
            # Exactly one answer, now or through respond(), carrying the echoed id.
            assert len(sent) + len(requests) == 1, (decoded, events)
            if sent:
                assert key(sent[0]["id"]) == key(echo_id(decoded)), (decoded, sent)
                assert "error" in sent[0] or decoded["method"] in (
                    "ping",
                    "initialize",
                    "logging/setLevel",
                    "server/discover",
                )
            else:
                assert requests[0].id == decoded["id"]
                self.in_flight[requests[0].id] = Flight(None)
        elif needs_no_answer(decoded):
            assert not sent and not requests, (decoded, events)
        else:
            assert len(sent) == 1 and not requests, (decoded, events)
            assert "error" in sent[0], sent
            rid = sent[0]["id"]
            assert rid is None or (type(decoded) is dict and key(rid) == key(decoded.get("id")))

    def _feed_batch(self, items: list[Any], sends: list[Send], requests: list[Any]) -> None:
        batch = BatchModel()
        for item in items:
            if request_shaped(item):
                batch.expected[key(echo_id(item))] += 1
            elif not needs_no_answer(item):
                batch.expected[key(None)] += 1
                if type(item) is dict and valid_id(item.get("id")):
                    batch.flex.append(item["id"])
        for req in requests:
            self.in_flight[req.id] = Flight(batch)
            batch.pending += 1
        if batch.pending == 0:
            self._check_batch_answer(batch, [ev.message for ev in sends])
        else:
            assert not sends, "a batch with requests still running answered early"

    def _check_batch_answer(self, batch: BatchModel, messages: list[Any]) -> None:
        assert not batch.answered
        batch.answered = True
        assert len(messages) <= 1, messages
        got: Counter[tuple[str, Any]] = Counter()
        if messages:
            assert type(messages[0]) is list
            got.update(key(m["id"]) for m in messages[0])
        for rid in batch.flex:
            if got[key(rid)] > batch.expected[key(rid)]:
                got[key(rid)] -= 1
                got[key(None)] += 1
        assert +got == +batch.expected, (got, batch.expected)

    def respond(self, rid: Any, how: int) -> None:
        flight = self.in_flight.pop(rid)
        s = self.session
        if how == 0:
            out = s.respond(rid, {"content": [], "n": rid})
        else:
            out = s.respond_error(rid, McpError(-32000 - how, "fuzzed failure", {"how": how}))
        if flight.batch is not None:
            flight.batch.pending -= 1
            if flight.batch.pending:
                assert out is None
            else:
                self._check_batch_answer(flight.batch, [] if out is None else [out])
            return
        if flight.cancelled:
            assert out is None, out
            return
        assert type(out) is dict, out
        check_response(out)
        assert key(out["id"]) == key(rid)
        self.answers += 1


def new_session() -> ServerSession:
    return ServerSession(
        ServerInfo(
            "srv",
            "1",
            capabilities={"tools": {}},
            methods=frozenset({"tools/list", "tools/call", "resources/list"}),
            legacy_only=frozenset({"resources/list"}),
        )
    )


step = st.one_of(
    st.tuples(st.just("msg"), messages()),
    st.tuples(st.just("batch"), st.lists(messages(), max_size=5)),
    st.tuples(st.just("bytes"), st.binary(max_size=30)),
    st.tuples(st.just("respond"), st.integers(0, 1000), st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 1000)),
    st.tuples(st.just("init"), versions),
)


def run_steps(model: Model, steps: list[Any]) -> None:
    s = model.session
    for item in steps:
        op = item[0]
        if op == "respond":
            if model.in_flight:
                ids = list(model.in_flight)
                model.respond(ids[item[1] % len(ids)], item[2])
            continue
        if op == "cancel":
            if not model.in_flight:
                continue
            ids = list(model.in_flight)
            msg: Any = {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": ids[item[1] % len(ids)]},
            }
        elif op == "init":
            msg = {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": {"protocolVersion": item[1], "capabilities": {}},
            }
        elif op == "bytes":
            model.feed(item[1], None, _undecodable(item[1]))
            continue
        else:
            msg = item[1]
        try:
            line = encode(msg)
        except TypeError:
            continue  # hypothesis made something JSON cannot say (e.g. a huge int)
        model.feed(line, json.loads(line), False)
    # Everything still in flight is answered now: exactly once, or not at all if cancelled.
    for rid in list(model.in_flight):
        model.respond(rid, 0)
    assert s.in_flight == 0


def _undecodable(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return True
    return False


@FUZZ
@given(steps=st.lists(step, max_size=30))
def test_session_fresh_connection(steps: list[Any]) -> None:
    run_steps(Model(new_session()), steps)


@FUZZ
@given(version=st.sampled_from(["2025-03-26", "2025-11-25"]), steps=st.lists(step, max_size=30))
def test_session_after_initialize(version: str, steps: list[Any]) -> None:
    s = new_session()
    s.receive_line(
        encode(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": {}},
            }
        )
    )
    assert s.legacy_version == version
    run_steps(Model(s), steps)


@FUZZ
@given(
    version=st.sampled_from(["2025-03-26", "2025-11-25", None]),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("msg"), near_valid()),
            st.tuples(st.just("respond"), st.integers(0, 1000), st.integers(0, 3)),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_session_near_valid_requests(version: str | None, steps: list[Any]) -> None:
    """Valid requests of every method with a few params fields broken: the densest fuzz."""
    s = new_session()
    if version is not None:
        s.receive_line(
            encode(
                {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": {"protocolVersion": version, "capabilities": {}},
                }
            )
        )
    run_steps(Model(s), steps)


@FUZZ
@given(line=st.binary(max_size=200))
def test_session_raw_bytes_get_one_error(line: bytes) -> None:
    s = new_session()
    undecodable = _undecodable(line)
    model = Model(s)
    model.feed(line, None if undecodable else json.loads(line), undecodable)


@FUZZ
@given(size=st.integers(0, 10**9), limit=st.integers(1, 10**9))
def test_session_oversized_marker_gets_one_error(size: int, limit: int) -> None:
    s = new_session()
    [ev] = s.receive_line(OversizedLine(size, limit))
    [msg] = check_send(ev)  # type: ignore[arg-type]
    assert msg["error"]["code"] == -32600


# --------------------------------------------------------------- runtime


def fuzz_server() -> Server:
    server = Server("fuzz", timeout=5, page_size=1)

    @server.resource("mem://a")
    async def mem_a() -> str:
        return "a"

    @server.resource("users://{user_id}/profile")
    async def profile(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @server.prompt()
    async def greet(who: str) -> str:
        return f"hello {who}"

    @server.completer
    async def complete(request: Any) -> list[str]:
        return ["w", "x"]

    @server.tool()
    async def echo(text: str) -> str:
        return text

    @server.tool()
    async def add(a: float, b: float) -> float:
        return a + b

    @server.tool()
    def sync_add(a: int, b: int) -> int:
        return a + b

    return server


@st.composite
def runtime_lines(draw: st.DrawFn) -> list[tuple[bytes, Any]]:
    """Lines for a live connection; valid request ids are made unique (``r<n>``)."""
    out: list[tuple[bytes, Any]] = []
    for n, item in enumerate(
        draw(
            st.lists(
                st.one_of(near_valid(), near_valid(), messages(), st.binary(max_size=20)),
                max_size=25,
            )
        )
    ):
        if type(item) is bytes:
            out.append((item.replace(b"\n", b" "), None))
            continue
        if request_shaped(item) and valid_id(item["id"]):
            item["id"] = f"r{n}"
        if type(item) is dict and item.get("method") == "notifications/cancelled":
            continue  # cancellation is covered in test_faults; here every request is answered
        try:
            out.append((encode(item), item))
        except TypeError:
            continue
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=runtime_lines(), era=st.sampled_from(["2025-11-25", "2025-03-26", None]))
def test_runtime_survives_and_answers_each_request_once(
    lines: list[tuple[bytes, Any]], era: str | None
) -> None:
    async def main() -> None:
        server = fuzz_server()
        client, server_stream = trio.testing.memory_stream_pair()
        received: list[Any] = []

        async def read() -> None:
            buf = LineBuffer(1 << 30)
            while data := await client.receive_some(65536):
                for line in buf.feed(bytes(data)):
                    assert type(line) is bytes
                    msg = json.loads(line)
                    received.extend(msg if type(msg) is list else [msg])

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.serve, server_stream)
                nursery.start_soon(read)
                if era is not None:
                    init = {
                        "jsonrpc": "2.0",
                        "id": "init",
                        "method": "initialize",
                        "params": {"protocolVersion": era, "capabilities": {}},
                    }
                    await client.send_all(encode(init) + b"\n")
                for line, _ in lines:
                    await client.send_all(line + b"\n")
                await client.send_all(b'{"jsonrpc":"2.0","id":"last","method":"ping"}\n')
                await client.send_stream.aclose()  # EOF: the server drains and returns
        for msg in received:
            if "method" not in msg:
                check_response(msg)
        answered = Counter(key(m["id"]) for m in received if "method" not in m)
        assert answered[key("last")] == 1
        for _, msg in lines:
            if request_shaped(msg) and valid_id(msg["id"]):
                assert answered[key(msg["id"])] == 1, (msg, received)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
