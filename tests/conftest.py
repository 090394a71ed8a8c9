from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def autojump_clock():  # type: ignore[no-untyped-def]
    import trio.testing

    return trio.testing.MockClock(autojump_threshold=0)
