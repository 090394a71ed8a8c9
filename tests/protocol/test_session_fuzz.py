"""Property-based tests (hypothesis) of the sans-IO :class:`ServerSession`.

No input raises out of ``receive_line``; everything it sends is a well-formed
JSON-RPC response; every request-shaped input (an object with ``"method"`` and
``"id"``) gets exactly one answer carrying its id (or ``null`` when the id is not a
valid one). Requests handed to the application count as answered once the test
answers them through ``session.respond`` / ``respond_error``; a cancelled one gets
no answer at all. Batches (2025-03-26) answer each of their requests exactly once,
in one array. ``tests/protocol/test_session.py`` holds the example-based tests.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import attrs
from _support.fuzzing import (
    FUZZ,
    check_response,
    echo_id,
    key,
    messages,
    near_valid,
    needs_no_answer,
    request_shaped,
    valid_id,
    versions,
)
from hypothesis import given
from hypothesis import strategies as st

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
from trio_mcp._wire import OversizedLine, encode


def check_send(ev: Send) -> list[dict[str, Any]]:
    """The messages in one Send (a batch is a non-empty array of responses)."""
    out = ev.message if type(ev.message) is list else [ev.message]
    assert out, ev
    for m in out:
        check_response(m)
    return out  # type: ignore[return-value]


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
