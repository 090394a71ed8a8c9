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
