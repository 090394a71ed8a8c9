"""The queue between a connection's senders and its one writer, bounded in bytes.

A memory channel bounds messages by count, and a count is no bound at all
when a message may be 4 MiB. :class:`OutQueue` bounds the encoded bytes
instead. Its rules, which every transport's writer relies on:

* **The bound.** A message is taken while less than ``max_bytes`` *wait* for
  the writer (the batch it is writing does not count). So at most
  ``max_bytes`` plus one message wait, and the queue holds at most twice that
  (what waits, and the batch in the writer's hands). A message of any size
  is taken once the waiting bytes fall under the bound: a large answer is
  never refused for its size alone.
* **At the bound.** :meth:`OutQueue.send` waits for room, in FIFO order (a
  handler's answer waits: backpressure); :meth:`OutQueue.send_nowait` raises
  ``trio.WouldBlock`` (a notification sent without waiting is dropped by its
  caller); :meth:`OutQueue.wait_not_full` is where a reader pauses, so that a
  client that stops reading stops being read, and nothing piles up.
* **The writer** takes everything waiting at once (:meth:`OutQueue.take`),
  writes it, then says so (:meth:`OutQueue.written`): the batch's bytes count
  until then.
* **Ends.** :meth:`OutQueue.close` (no more messages: the writer drains what
  waits, then gets ``trio.EndOfChannel``); :meth:`OutQueue.close_writer` (the
  writer is gone: what waits is dropped, and every send, waiting or not, gets
  ``trio.BrokenResourceError``, which a sender treats as "the client left").

Cancellation: a :meth:`~OutQueue.send` cancelled while waiting did not queue
its message (the hand-off and the wake-up are one step, as in a memory channel).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import final

import outcome
import trio

__all__ = ["DEFAULT_WRITE_BYTES", "OutQueue"]

#: The default bound of a connection's write queue.
DEFAULT_WRITE_BYTES = 256 << 10


@final
class OutQueue:
    """Encoded messages on their way to one writer, bounded in bytes (see the module docstring).

    Args:
        max_bytes: The bound on the bytes waiting for the writer (at least 1).
    """

    def __init__(self, max_bytes: int = DEFAULT_WRITE_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_bytes = max_bytes
        self._items: deque[bytes] = deque()
        self._waiting = 0  # bytes queued, not yet taken by the writer
        self._writing = 0  # bytes taken by the writer, not yet written
        self._closed = False
        self._broken = False
        self._senders: OrderedDict[trio.lowlevel.Task, bytes] = OrderedDict()
        self._writer = trio.lowlevel.ParkingLot()
        self._readers = trio.lowlevel.ParkingLot()

    # ----------------------------------------------------------- figures

    @property
    def queued_bytes(self) -> int:
        """Bytes held: waiting for the writer, plus the batch it is writing."""
        return self._waiting + self._writing

    @property
    def ready(self) -> bool:
        """:meth:`take` returns (or raises ``EndOfChannel``) without waiting."""
        return bool(self._items) or self._closed or self._broken

    @property
    def ended(self) -> bool:
        """Closed, and nothing waits: the writer's next :meth:`take` ends it."""
        return (self._closed or self._broken) and not self._items

    @property
    def full(self) -> bool:
        """No room for another message: a sender waits, or the waiting bytes reached the bound."""
        return bool(self._senders) or not self._room()

    # ------------------------------------------------------------- senders

    def _room(self) -> bool:
        return self._waiting < self.max_bytes

    def _check(self) -> None:
        if self._broken:
            raise trio.BrokenResourceError("the writer is gone")
        if self._closed:
            raise trio.ClosedResourceError("the queue is closed")

    def _put(self, data: bytes) -> None:
        if self._writing:
            # The writer is busy: this message may wait long. orjson's output
            # holds a buffer several times its length (4 KiB for a 100-byte
            # message); an exact copy makes the bound a bound on memory.
            data = bytes(memoryview(data))
        self._items.append(data)
        self._waiting += len(data)
        if self._writer:  # the writer is parked, waiting for data
            self._writer.unpark_all()

    def send_nowait(self, data: bytes) -> None:
        """Queue ``data`` if there is room now.

        Raises:
            trio.WouldBlock: no room (or senders are waiting before it).
            trio.BrokenResourceError: the writer is gone.
            trio.ClosedResourceError: the queue was closed.
        """
        self._check()
        if self._senders or not self._room():
            raise trio.WouldBlock
        self._put(data)

    async def send(self, data: bytes) -> None:
        """Queue ``data``, waiting (in FIFO order) for room. Same errors as :meth:`send_nowait`."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self.send_nowait(data)
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        task = trio.lowlevel.current_task()
        self._senders[task] = data

        def abort(_: object) -> trio.lowlevel.Abort:
            del self._senders[task]
            self._wake_readers()
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _admit(self) -> None:
        """Hand waiting senders' messages to the queue, oldest first, while they fit."""
        while self._senders and self._room():
            task, data = self._senders.popitem(last=False)
            self._put(data)
            trio.lowlevel.reschedule(task)
        self._wake_readers()

    def _wake_readers(self) -> None:
        if self._readers and not self.full:
            self._readers.unpark_all()

    async def wait_not_full(self) -> None:
        """Return once the queue is not :attr:`full` (or its writer is gone). A checkpoint."""
        if not self.full or self._broken or self._closed:
            await trio.lowlevel.checkpoint()
            return
        await self._readers.park()

    def close(self) -> None:
        """No more messages: the writer gets ``EndOfChannel`` once it took what waits."""
        if self._closed:
            return
        self._closed = True
        self._fail_senders(trio.ClosedResourceError("the queue is closed"))
        self._writer.unpark_all()

    def _fail_senders(self, exc: Exception) -> None:
        senders, self._senders = self._senders, OrderedDict()
        for task in senders:
            trio.lowlevel.reschedule(task, outcome.Error(exc))
        self._readers.unpark_all()

    # -------------------------------------------------------------- writer

    async def take(self) -> list[bytes]:
        """Everything waiting (at least one message), now counted as being written.

        Raises:
            trio.EndOfChannel: the queue was closed and nothing waits.
        """
        while not self._items:
            if self._closed or self._broken:
                await trio.lowlevel.checkpoint()
                raise trio.EndOfChannel
            await self._writer.park()
        await trio.lowlevel.checkpoint_if_cancelled()
        items = self._take()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return items

    async def wait_ready(self) -> None:
        """Return once :attr:`ready`: at once if it is (no checkpoint then), else after waiting."""
        while not self.ready:
            await self._writer.park()

    def take_nowait(self) -> list[bytes]:
        """As :meth:`take`, without waiting.

        Raises:
            trio.WouldBlock: nothing waits.
            trio.EndOfChannel: the queue was closed and nothing waits.
        """
        if not self._items:
            if self._closed or self._broken:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        return self._take()

    def _take(self) -> list[bytes]:
        items = list(self._items)
        self._items.clear()
        self._writing += self._waiting
        self._waiting = 0
        self._admit()
        return items

    def written(self, nbytes: int) -> None:
        """The writer wrote (or dropped) ``nbytes`` it had taken."""
        self._writing = max(0, self._writing - nbytes)

    def close_writer(self) -> None:
        """The writer is gone: drop what waits; every send gets ``BrokenResourceError``."""
        self._broken = True
        self._items.clear()
        self._waiting = self._writing = 0
        self._fail_senders(trio.BrokenResourceError("the writer is gone"))
        self._writer.unpark_all()
