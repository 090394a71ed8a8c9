from __future__ import annotations

import sys

import pytest


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def autojump_clock():  # type: ignore[no-untyped-def]
    import trio.testing

    return trio.testing.MockClock(autojump_threshold=0)
