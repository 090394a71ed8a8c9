from __future__ import annotations

import sys

import pytest

#: The ``redis_server`` fixture (a real redis-server on a free loopback port).
pytest_plugins = ["_support.redis"]


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def autojump_clock():  # type: ignore[no-untyped-def]
    import trio.testing

    return trio.testing.MockClock(autojump_threshold=0)
