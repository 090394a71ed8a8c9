"""The malformed-input table (``tests/_support/malformed.py``) against the sans-IO session.

Every row goes through the framing layer and the session, as the runtime does it;
the session answers it (or hands it on, exactly once), and then still answers ``ping``.
"""

from __future__ import annotations

from typing import Any

import pytest
from _support.malformed import LEGACY, TABLE, Row, call, check_answer, j

from trio_mcp._protocol import IncomingRequest, Notified, Send, ServerInfo, ServerSession
from trio_mcp._wire import DEFAULT_MAX_LINE, LineBuffer, OversizedLine


def fresh_session() -> ServerSession:
    s = ServerSession(
        ServerInfo("srv", "1", methods=frozenset({"tools/call", "tools/list"}), capabilities={})
    )
    [ev] = s.receive_line(
        j(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {}},
            }
        )
    )
    assert type(ev) is Send and "result" in ev.message  # type: ignore[operator]
    return s


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_sans_io(row: Row) -> None:
    s = fresh_session()
    if row.setup == "in_flight":
        [first] = s.receive_line(call("dup", "sleep", {"seconds": 30}))
        assert type(first) is IncomingRequest
    # Through the framing layer, as the runtime does it (this is where size is enforced).
    buf = LineBuffer(DEFAULT_MAX_LINE)
    [line] = buf.feed(row.line + b"\n")
    events = s.receive_line(line)
    if row.layer == "app":
        # The session validates the envelope and hands the request on, exactly once.
        assert [type(e) for e in events] == [IncomingRequest], events
        assert events[0].id == row.id  # type: ignore[union-attr]
        assert s.respond(row.id, {"content": []}) is not None
    else:
        sends = [e for e in events if type(e) is Send]
        # Besides at most one answer, only a Notified (the application may look at it).
        assert all(type(e) in (Send, Notified) for e in events), events
        assert len(sends) <= 1, events
        msg = sends[0].message if sends else None
        assert msg is None or type(msg) is dict
        check_answer(row, msg)  # type: ignore[arg-type]
    # ... and the session still answers.
    [pong] = s.receive_line(b'{"jsonrpc":"2.0","id":"after","method":"ping"}')
    assert pong == Send({"jsonrpc": "2.0", "id": "after", "result": {}})
    if row.setup == "in_flight":
        assert s.respond("dup", {}) is not None  # the first request is still answerable, once


def test_sans_io_oversized_line() -> None:
    """The framing layer turns the 10 MB line into one marker; the session answers it."""
    row = next(r for r in TABLE if r.name.startswith("a 10 MB line"))
    buf = LineBuffer(DEFAULT_MAX_LINE)
    out: list[Any] = []
    for i in range(0, len(row.line), 65536):
        out += buf.feed(row.line[i : i + 65536])
        assert len(buf._buf) <= DEFAULT_MAX_LINE  # bytes held, not counted-and-dropped
    out += buf.feed(b'\n{"jsonrpc":"2.0","id":"after","method":"ping"}\n')
    assert len(out) == 2 and type(out[0]) is OversizedLine and out[0].size == len(row.line)
    s = fresh_session()
    [err] = s.receive_line(out[0])
    assert type(err) is Send and type(err.message) is dict
    assert err.message["error"]["code"] == -32600 and err.message["id"] in (None, 23)
    [pong] = s.receive_line(out[1])
    assert type(pong) is Send and pong.message == {"jsonrpc": "2.0", "id": "after", "result": {}}
