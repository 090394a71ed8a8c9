"""Property-based tests (hypothesis) of ``LineBuffer``.

However the bytes are chunked, the lines out are exactly the lines in (oversized
ones replaced by one marker each, with the true size), and no more than
``max_line`` bytes are ever held. ``tests/wire/test_framing.py`` holds the
example-based tests.
"""

from __future__ import annotations

import itertools
from typing import Any

from _support.fuzzing import (
    FUZZ,
)
from hypothesis import given
from hypothesis import strategies as st

from trio_mcp._wire import LineBuffer, OversizedLine


def reference_lines(data: bytes, limit: int) -> list[bytes | tuple[int, int]]:
    """What LineBuffer must produce: ``(size, limit)`` stands for an OversizedLine."""
    *complete, tail = data.split(b"\n")
    out: list[bytes | tuple[int, int]] = []
    for seg in complete:
        if len(seg) > limit:
            out.append((len(seg), limit))
        else:
            out.append(seg[:-1] if seg.endswith(b"\r") else seg)
    if len(tail) > limit:
        out.append((len(tail), limit))
    elif tail.strip():
        out.append(tail[:-1] if tail.endswith(b"\r") else tail)
    return out


line_bytes = st.lists(
    st.tuples(
        st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"\r", b"{}", b"x" * 70])),
        st.sampled_from([b"\n", b"\r\n", b"", b"\n\n"]),
    ),
    max_size=20,
).map(lambda parts: b"".join(a + b for a, b in parts))


@FUZZ
@given(data=line_bytes, limit=st.integers(1, 64), cuts=st.lists(st.integers(0, 2000)))
def test_linebuffer_any_chunking_gives_the_reference_lines(
    data: bytes, limit: int, cuts: list[int]
) -> None:
    buf = LineBuffer(limit)
    got: list[bytes | tuple[int, int]] = []
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(bounds):
        for item in buf.feed(data[start:end]):
            got.append((item.size, item.limit) if type(item) is OversizedLine else item)
        assert len(buf._buf) <= limit  # never holds more than one line's worth
    for item in buf.close():
        got.append((item.size, item.limit) if type(item) is OversizedLine else item)
    assert got == reference_lines(data, limit)
    assert buf.pending == 0 and len(buf._buf) == 0


@FUZZ
@given(data=line_bytes, limit=st.integers(1, 64), chunk=st.integers(1, 50))
def test_linebuffer_oversized_head_is_a_prefix_of_the_line(
    data: bytes, limit: int, chunk: int
) -> None:
    """Where an OversizedLine keeps the line's first bytes, they are that line's."""
    buf = LineBuffer(limit)
    items: list[Any] = []
    for i in range(0, len(data), chunk):
        items += buf.feed(data[i : i + chunk])
    items += buf.close()
    segments = [s for s in data.split(b"\n")]
    over = [s for s in segments if len(s) > limit]
    heads = [getattr(i, "head", None) for i in items if type(i) is OversizedLine]
    assert len(heads) == len(over)
    for head, seg in zip(heads, over, strict=True):
        if head is not None:
            assert seg.startswith(head) and len(head) >= min(len(seg), 1)
