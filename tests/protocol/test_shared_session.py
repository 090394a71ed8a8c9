"""``SharedServerSession``: a worker's copy of a legacy session every worker may serve."""

from __future__ import annotations

from trio_mcp._protocol import SharedServerSession
from trio_mcp.lowlevel import ServerInfo

INFO = ServerInfo("srv", "1", methods=frozenset({"tools/call"}), capabilities={})
STATE = {"version": "2025-11-25", "capabilities": {"sampling": {}}, "level": "info"}


def test_a_rebuilt_copy_never_reuses_a_request_id() -> None:
    """A copy rebuilt on the same worker after the last one went idle numbers its
    server-to-client requests on from the old one: a late answer to the old copy's request
    can never be taken for an answer to a new one."""
    first = SharedServerSession.restored(INFO, "w1", STATE, sid="s")
    old = [first._next_id() for _ in range(3)]
    again = SharedServerSession.restored(INFO, "w1", STATE, sid="s")
    new = [again._next_id() for _ in range(3)]
    assert not set(old) & set(new)
    assert all(again.owner_of(rid) == "w1" for rid in new)


def test_restored_is_initialized_with_the_record_s_state() -> None:
    copy = SharedServerSession.restored(INFO, "w1", STATE, sid="s")
    assert copy.state()["version"] == "2025-11-25"
    assert copy.state()["capabilities"] == {"sampling": {}}
    assert copy.state()["level"] == "info"


def test_batch_of_names_what_a_batch_still_owes() -> None:
    """Each request of a batch (2025-03-26) and the answers the session made itself:
    what another worker must answer if this one dies."""
    copy = SharedServerSession.restored(INFO, "w1", {**STATE, "version": "2025-03-26"}, sid="s")

    def call(rid: int) -> dict[str, object]:
        params = {"name": "t", "arguments": {}}
        return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}

    ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
    events = copy.receive_message([call(1), ping, call(2), {"jsonrpc": "2.0", "id": 4}])
    assert [e.id for e in events] == [1, 2]  # type: ignore[attr-defined]
    done, ids = copy.batch_of(1) or ([], [])
    assert ids == [1, 2] and copy.batch_of(2) == (done, ids)
    assert [m["id"] for m in done] == [3, 4]  # the ping's answer, the invalid one's
    assert done[0]["result"] == {} and done[1]["error"]["code"] == -32600
    copy.receive_message(call(5))
    assert copy.batch_of(5) is None  # not a batch
    assert copy.batch_of(9) is None  # not in flight
    cancel = {"method": "notifications/cancelled", "params": {"requestId": 2}}
    copy.receive_message({"jsonrpc": "2.0", **cancel})
    assert copy.batch_of(1) == (done, [1])  # the client cancelled 2: no answer owed
