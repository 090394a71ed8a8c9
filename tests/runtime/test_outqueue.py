"""OutQueue: the writer's queue, bounded in bytes, and what happens at the bound."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_mcp._runtime import OutQueue


async def test_the_bound_and_what_happens_at_it() -> None:
    q = OutQueue(10)
    q.send_nowait(b"12345")
    q.send_nowait(b"123456789")  # taken: less than the bound was waiting
    assert q.full and q.queued_bytes == 14
    with pytest.raises(trio.WouldBlock):
        q.send_nowait(b"x")  # at the bound: a notification sent without waiting is dropped
    order: list[bytes] = []
    async with trio.open_nursery() as nursery:
        for data in (b"a", b"bb", b"ccc"):
            nursery.start_soon(q.send, data)  # answers wait for room, in order
            await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.WouldBlock):
            q.send_nowait(b"d")  # never ahead of those waiting
        batch = await q.take()
        assert batch == [b"12345", b"123456789"]
        assert q.queued_bytes == 14 + 6  # the batch counts until it is written
        q.written(14)
        await trio.testing.wait_all_tasks_blocked()
        order += await q.take()
    assert order == [b"a", b"bb", b"ccc"]
    assert not q.full


async def test_a_message_of_any_size_is_taken_below_the_bound() -> None:
    q = OutQueue(4)
    q.send_nowait(b"x" * 1000)
    assert q.full
    assert await q.take() == [b"x" * 1000]
    q.send_nowait(b"y" * 1000)  # the batch being written does not count
    assert q.queued_bytes == 2000


async def test_a_cancelled_send_queued_nothing() -> None:
    q = OutQueue(1)
    q.send_nowait(b"first")
    with trio.move_on_after(0.01) as scope:
        await q.send(b"cancelled")
    assert scope.cancelled_caught
    assert q.queued_bytes == 5
    assert await q.take() == [b"first"]
    q.written(5)
    q.send_nowait(b"next")  # no ghost of the cancelled sender waits ahead of it
    assert await q.take() == [b"next"]
    q.close()
    with pytest.raises(trio.EndOfChannel):
        await q.take()


async def test_the_reader_pauses_while_full() -> None:
    q = OutQueue(3)
    q.send_nowait(b"abc")
    resumed = trio.Event()

    async def reader() -> None:
        await q.wait_not_full()
        resumed.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert not resumed.is_set()
        await q.take()  # the writer took it: room again
        await resumed.wait()


async def test_close_drains_then_ends_and_a_gone_writer_fails_senders() -> None:
    q = OutQueue(2)
    q.send_nowait(b"ab")
    q.close()
    with pytest.raises(trio.ClosedResourceError):
        q.send_nowait(b"c")
    assert await q.take() == [b"ab"]
    with pytest.raises(trio.EndOfChannel):
        await q.take()

    q = OutQueue(2)
    q.send_nowait(b"ab")
    failed: list[type[BaseException]] = []

    async def sender() -> None:
        try:
            await q.send(b"waits")
        except trio.BrokenResourceError as exc:
            failed.append(type(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        q.close_writer()  # the client left: what waits is dropped
    assert failed == [trio.BrokenResourceError]
    assert q.queued_bytes == 0
    with pytest.raises(trio.BrokenResourceError):
        q.send_nowait(b"late")
    await q.wait_not_full()  # never hangs once the writer is gone


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutQueue(0)


async def test_ready_and_ended_say_what_the_next_take_does() -> None:
    q = OutQueue(100)
    assert not q.ready and not q.ended  # take() would wait
    q.send_nowait(b"a")
    assert q.ready and not q.ended  # take() returns at once
    q.close()
    assert q.ready and not q.ended  # closed, but "a" still waits
    assert await q.take() == [b"a"]
    assert q.ready and q.ended  # take() raises EndOfChannel at once
    w = OutQueue(100)
    w.close_writer()
    assert w.ready and w.ended


async def test_wait_ready_then_take_nowait() -> None:
    q = OutQueue(100)
    with pytest.raises(trio.WouldBlock):
        q.take_nowait()  # nothing waits
    woke: list[bool] = []

    async def writer() -> None:
        await q.wait_ready()
        woke.append(q.ready)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        assert woke == []  # it waits while nothing is there
        q.send_nowait(b"one")
        q.send_nowait(b"two")
    assert woke == [True]
    await q.wait_ready()  # ready: returns at once
    assert q.take_nowait() == [b"one", b"two"]
    assert q.queued_bytes == 6  # counted until written, as with take()
    q.written(6)
    q.close()
    await q.wait_ready()  # closed is ready too
    with pytest.raises(trio.EndOfChannel):
        q.take_nowait()
