"""What :meth:`~trio_mcp.Server.run` does to the process it owns, before and after serving.

Embedding (``serve()``, ``serve_http()``) does none of it: the host program's
collector and threads are its own.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("trio_mcp")

__all__ = ["report_abandoned_threads", "tune_gc"]


def report_abandoned_threads() -> None:
    """Name the worker threads still running after serving ended (sync tools that
    ignored cancellation). They were abandoned, not waited for: the process exits."""
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and t.is_alive()
        and not t.name.startswith("Trio thread")
    ]
    if stuck:
        log.warning(
            "trio_mcp: abandoned %d thread(s) that did not stop within the grace: %s",
            len(stuck),
            ", ".join(stuck),
        )


def tune_gc() -> None:
    """For a process ``run()`` owns: move start-up objects out of the collector's way.

    Everything imported so far (modules, the registered tools and their
    converters) lives until exit. ``gc.freeze()`` takes it out of every future
    collection, and a larger first-generation threshold makes collections
    rarer; measured in ``benchmarks/README.md``. Embedding (``serve()``) leaves
    the host program's collector alone.
    """
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(10_000, gen1, gen2)
