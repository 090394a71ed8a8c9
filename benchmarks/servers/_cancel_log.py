"""Shared by every peer: record when a ``sleep`` handler observes cancellation.

When ``BENCH_CANCEL_LOG`` names a file, :func:`record` appends one line holding
``CLOCK_MONOTONIC`` in nanoseconds. That clock is system-wide on Linux, so the
load generator (another process) compares it with the time it sent
``notifications/cancelled``. Kept import-light (os, time) so it does not skew
cold-start figures.
"""

import os
import time

_PATH = os.environ.get("BENCH_CANCEL_LOG")


def record() -> None:
    """Append the current CLOCK_MONOTONIC (ns) to the cancel log, if one is configured."""
    if _PATH:
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        with open(_PATH, "a") as f:
            f.write(f"{now}\n")
