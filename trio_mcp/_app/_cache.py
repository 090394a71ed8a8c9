"""A TTL cache whose expired entries are swept by a supervised background task."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

import attrs
import trio

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@attrs.define(eq=False)
class TTLCache(Generic[K, V]):
    """A mapping whose entries expire ``ttl`` seconds after they were set.

    Time is Trio's clock (``trio.current_time()``), so tests can drive it with
    ``trio.testing.MockClock``. Use it from Trio tasks (not from worker threads).

    Expired entries are never returned. They are also removed from memory by
    :meth:`run`, a cleanup task the server starts in its nursery and cancels at
    shutdown (``Server.cache`` is such a cache; another one can be supervised
    with ``server.background(cache.run)``).

    Attributes:
        ttl: Seconds an entry lives.
        max_size: Entries kept at most; setting a new key beyond it evicts the
            entry closest to expiry.
        sweep_interval: Seconds between sweeps (default: ``ttl``).
    """

    ttl: float = 300.0
    max_size: int = 1024
    sweep_interval: float | None = None
    _data: dict[K, tuple[float, V]] = attrs.field(factory=dict, init=False)
    sweeps: int = attrs.field(default=0, init=False)
    """How many sweeps have run (for tests and metrics)."""

    def get(self, key: K, default: V | None = None) -> V | None:
        """The live value for ``key``, or ``default``."""
        item = self._data.get(key)
        if item is None:
            return default
        expires, value = item
        if expires <= trio.current_time():
            del self._data[key]
            return default
        return value

    def set(self, key: K, value: V, ttl: float | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds (default: the cache's ``ttl``)."""
        data = self._data
        if key not in data and len(data) >= self.max_size:
            oldest = min(data, key=lambda k: data[k][0])
            del data[oldest]
        data[key] = (trio.current_time() + (self.ttl if ttl is None else ttl), value)

    def pop(self, key: K, default: V | None = None) -> V | None:
        """Remove and return ``key``'s live value."""
        value = self.get(key, default)
        self._data.pop(key, None)
        return value

    def clear(self) -> None:
        self._data.clear()

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __len__(self) -> int:
        """Entries held in memory, expired-but-unswept ones included."""
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        now = trio.current_time()
        return iter([k for k, (exp, _) in self._data.items() if exp > now])

    def sweep(self) -> int:
        """Drop every expired entry now. Returns how many were dropped."""
        now = trio.current_time()
        dead = [k for k, (exp, _) in self._data.items() if exp <= now]
        for k in dead:
            del self._data[k]
        self.sweeps += 1
        return len(dead)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Sweep forever, every ``sweep_interval`` seconds. Cancel to stop."""
        interval = self.sweep_interval if self.sweep_interval is not None else self.ttl
        if interval <= 0 or math.isinf(interval):
            raise ValueError("sweep_interval must be a positive, finite number of seconds")
        task_status.started()
        while True:
            await trio.sleep(interval)
            self.sweep()
