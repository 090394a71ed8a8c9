"""The Redis link (coredis under trio.run) against a real redis-server: calls, timeouts, restarts."""

from __future__ import annotations

import sniffio
import trio
from _support.redis import RedisServer, free_port

from trio_mcp._errors import StoreUnavailable
from trio_mcp._transports._redis import RedisUnreachable, connect, redacted


async def test_coredis_runs_natively_under_trio(redis_server: RedisServer) -> None:
    assert sniffio.current_async_library() == "trio"
    async with connect(redis_server.url) as link:
        client = link.client
        await link.call(lambda: client.set("k", b"v", px=10_000))
        assert await link.call(lambda: client.get("k")) == b"v"
        script = client.register_script("return redis.call('GET', KEYS[1])")
        assert await link.call(lambda: script(keys=["k"])) == b"v"
        got: list[bytes] = []
        heard = trio.Event()

        def handle(data: bytes) -> None:
            got.append(data)
            heard.set()

        async with trio.open_nursery() as nursery:
            await nursery.start(link.listen, "chan", handle)
            assert await link.call(lambda: client.publish("chan", b"hello")) == 1
            with trio.fail_after(10):
                await heard.wait()
            nursery.cancel_scope.cancel()
        assert got == [b"hello"]
        assert link.calls == 5  # PING at connect, then one per call


async def test_unreachable_at_start_names_the_url() -> None:
    url = f"redis://user:secret@127.0.0.1:{free_port()}/0"
    try:
        async with connect(url, call_timeout=1):
            raise AssertionError("connected to nothing")
    except RedisUnreachable as exc:
        message = str(exc)
    assert message.startswith(f"cannot reach Redis at {redacted(url)} (TRIO_MCP_REDIS_URL): ")
    assert "secret" not in message and "***" in message
    assert "\n" not in message


async def test_a_lost_redis_is_store_unavailable_then_service_resumes(
    redis_server: RedisServer,
) -> None:
    async with connect(redis_server.url, call_timeout=1) as link:
        client = link.client
        got: list[bytes] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(link.listen, "chan", got.append)
            redis_server.stop()
            try:
                await link.call(lambda: client.get("k"))
                raise AssertionError("no error with Redis stopped")
            except StoreUnavailable as exc:
                assert exc.to_error() == {
                    "code": -32603,
                    "message": "task store unavailable",
                    "data": {"retryAfter": 1.0},
                }
            redis_server.start()
            assert await link.call(lambda: client.get("k")) is None  # a new, empty server
            with trio.fail_after(15):  # the subscription is made again
                while await link.call(lambda: client.publish("chan", b"back")) == 0:
                    await trio.sleep(0.05)
                while not got:
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        assert got[0] == b"back"
