"""One object holds the shutdown state of a connection or an HTTP endpoint.

hypercorn's ``WorkerContext`` is the model. The phases only move forward::

    serving --(draining = True)--> draining --(the grace is over)--> closing

* **serving**: work is taken and counted (:meth:`Shutdown.begin` /
  :meth:`Shutdown.end`).
* **draining**: no new work is taken (a stdio reader stops reading, HTTP
  answers 503); what runs gets the grace (:meth:`Shutdown.wait_idle`).
* **closing**: what is left is cancelled, and :func:`run_handler` answers each
  such request "shutting down" (:meth:`Shutdown.is_closing`).
"""

from __future__ import annotations

import attrs
import trio

__all__ = ["Shutdown"]


@attrs.define(eq=False)
class Shutdown:
    """Work in flight and the shutdown phase (see the module docstring)."""

    #: Handlers running.
    count: int = 0
    draining: bool = False
    closing: bool = False
    _idle: trio.Event = attrs.field(factory=trio.Event)

    def begin(self) -> None:
        """One more handler runs."""
        self.count += 1

    def end(self) -> None:
        """One handler ended."""
        self.count -= 1
        if self.draining and self.count == 0:
            self._idle.set()

    def is_closing(self) -> bool:
        """The grace is over (``run_handler``'s ``closing``)."""
        return self.closing

    async def wait_idle(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the work in flight to end (once ``draining``)."""
        if self.count:
            with trio.move_on_after(seconds):
                await self._idle.wait()

    def reset(self) -> None:
        """Serve again (an HTTP transport runs anew after a shutdown)."""
        self.count, self.draining, self.closing = 0, False, False
        self._idle = trio.Event()
