"""The Redis link through Sentinel (a real primary, replica and redis-sentinel): a failover.

The primary is SIGKILLed: calls made before Sentinel promotes the replica fail
with ``StoreUnavailable`` (never a hang, never another error), then the link
works on the promoted replica, with what was written before, and its pub/sub
subscription is made again there.
"""

from __future__ import annotations

import pytest
import trio
from _support.redis import RedisSentinel, free_port

from trio_mcp._errors import StoreUnavailable
from trio_mcp._transports._redis import RedisUnreachable, connect, url_problem

LIMIT = 30


async def test_through_sentinel_then_a_failover(redis_sentinel: RedisSentinel) -> None:
    async with connect(redis_sentinel.url, call_timeout=1) as link:
        client = link.client
        await link.call(lambda: client.set("k", b"before"))
        got: list[bytes] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(link.listen, "chan", got.append)
            assert await link.call(lambda: client.publish("chan", b"one")) == 1
            await trio.to_thread.run_sync(redis_sentinel.sync)
            redis_sentinel.kill_primary()
            gap = 0  # calls made while Sentinel still names the dead primary
            with trio.fail_after(LIMIT):
                while True:
                    promoted = await trio.to_thread.run_sync(redis_sentinel.promoted)
                    try:
                        value = await link.call(lambda: client.get("k"))
                        break
                    except StoreUnavailable:
                        gap += not promoted
                        await trio.sleep(0.05)
            assert await trio.to_thread.run_sync(redis_sentinel.promoted)
            assert value == b"before"  # the replica had it: it is the primary now
            await link.call(lambda: client.set("k", b"after"))  # writable, not read-only
            with trio.fail_after(LIMIT):  # the subscription is made again, on the new primary
                while await link.call(lambda: client.publish("chan", b"two")) == 0:
                    await trio.sleep(0.05)
                while b"two" not in got:
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        assert got[0] == b"one"
        assert gap >= 1  # Sentinel waits 1.5 s before it acts: the gap was seen


async def test_no_sentinel_at_start_names_the_url() -> None:
    url = f"redis+sentinel://:secret@127.0.0.1:{free_port()}/svc/0"
    with pytest.raises(RedisUnreachable) as caught:
        async with connect(url, call_timeout=1):
            raise AssertionError("connected to nothing")
    message = str(caught.value)
    assert message.startswith(
        f"cannot reach Redis at redis+sentinel://:***@{url.split('@')[1]} (TRIO_MCP_REDIS_URL): "
    )
    assert "No primary found for 'svc'" in message
    assert "secret" not in message and "\n" not in message


async def test_unknown_service_at_start(redis_sentinel: RedisSentinel) -> None:
    url = redis_sentinel.url.replace("/svc/", "/other/")
    with pytest.raises(RedisUnreachable, match="No primary found for 'other'"):
        async with connect(url, call_timeout=1):
            raise AssertionError("a primary for an unknown service")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://a,b:26380,[::1]/svc/2?sentinel_password=x", None),
        ("redis+sentinel://a:port/svc", "a Sentinel is host[:port], got 'a:port'"),
        ("redis+sentinel://a/", "a Sentinel URL ends with /<service>[/<db>]"),
        ("redis+sentinel://a/svc/zero", "a Sentinel URL ends with /<service>[/<db>]"),
        ("redis+cluster://a:7000,b:7001", "Redis Cluster is not supported: "),
    ],
)
def test_url_problems_are_found_before_connecting(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert found == problem if problem is None else found is not None and problem in found
