"""``StderrSink``: logging that never blocks the Trio thread (issue 13, item 1).

The sink writes to a real pipe that the test reads or leaves full.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
from collections.abc import Iterator

import pytest
import trio

from trio_mcp._app._logsink import StderrSink, stderr_logging

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


def record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, None, None)


def read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    out = b""
    try:
        while chunk := os.read(fd, 65536):
            out += chunk
    except BlockingIOError:
        pass
    return out


async def test_full_pipe_drops_and_counts_then_reports(pipe: tuple[int, int]) -> None:
    r, w = pipe
    sink = StderrSink(fd=w, max_bytes=10_000)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run)
            line = "x" * 999  # 1,000 bytes a record with its newline
            for i in range(200):  # 200 KB: more than the pipe and the queue hold
                sink.emit(record(f"{i:04d}{line[4:]}"))
                await trio.sleep(0)  # let the writer fill the pipe
            assert sink.dropped > 0
            dropped = sink.dropped
            assert dropped < 200
            got = b""
            while b"dropped" not in got:  # the reader catches up: the writer reports
                got += read_all(r)
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    text = got.decode()
    assert f"trio_mcp: {dropped} log records dropped" in text
    kept = [ln for ln in text.splitlines() if not ln.startswith("trio_mcp:")]
    assert all(len(ln) == 999 for ln in kept)  # whole records only, never torn
    assert len(kept) + dropped == 200
    assert kept == sorted(kept)  # in order


@pytest.mark.skipif(not LINUX, reason="a private open file description needs /proc")
async def test_the_shared_descriptor_stays_blocking(pipe: tuple[int, int]) -> None:
    """Only the sink's own open file description is non-blocking: other writers of
    the same pipe (print, C code, child processes) still see a blocking fd."""
    r, w = pipe
    sink = StderrSink(fd=w)
    assert os.get_blocking(w)
    assert not fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK
    sink.emit(record("direct"))
    async with trio.open_nursery() as nursery:
        await nursery.start(sink.run)
        sink.emit(record("queued"))
        got = b""
        while b"queued" not in got:
            got += read_all(r)
            await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert got == b"direct\nqueued\n"
    assert os.get_blocking(w)
    sink.close()


async def test_without_a_writer_a_full_pipe_drops_instead_of_blocking(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    sink = StderrSink(fd=w)
    with trio.fail_after(10):
        for _ in range(200):  # no writer task: written at once, never waiting
            sink.emit(record("y" * 999))
    assert sink.dropped > 0
    read_all(r)
    sink.emit(record("after"))
    tail = read_all(r).decode()
    assert tail.endswith("after\n") and "log records dropped" in tail


async def test_records_from_threads_are_queued(pipe: tuple[int, int]) -> None:
    r, w = pipe
    sink = StderrSink(fd=w)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run)

            def log_many(k: int) -> None:
                for i in range(50):
                    sink.emit(record(f"thread {k} {i}"))

            threads = [threading.Thread(target=log_many, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                await trio.to_thread.run_sync(t.join)
            got = b""
            while got.count(b"\n") < 200:
                got += read_all(r)
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert sorted(got.decode().splitlines()) == sorted(
        f"thread {k} {i}" for k in range(4) for i in range(50)
    )


async def test_a_closed_reader_stops_the_writer_quietly() -> None:
    r, w = os.pipe()
    os.close(r)  # nobody will ever read: writes fail with EPIPE
    sink = StderrSink(fd=w)
    os.close(w)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run)
            sink.emit(record("into the void"))
        # The nursery closed by itself: the writer returned instead of raising.
        sink.emit(record("still no exception"))
    sink.close()


def test_stderr_logging_routes_basic_config_and_restores() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    plain = logging.StreamHandler(sys.stderr)
    plain.setLevel(logging.WARNING)
    plain.setFormatter(logging.Formatter("%(message)s"))
    root.handlers = [plain]
    try:
        with stderr_logging():
            [sink] = root.handlers
            assert isinstance(sink, StderrSink)
            assert sink.level == logging.WARNING and sink.formatter is plain.formatter
        assert root.handlers == [plain]
    finally:
        root.handlers = saved


@pytest.mark.parametrize("subject", [False, True])
def test_the_sink_it_installs_names_the_caller_when_asked(subject: bool) -> None:
    from trio_mcp._runtime import current_subject

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        with stderr_logging(subject=subject):
            [sink] = root.handlers
            reset = current_subject.set("alice")
            try:
                rec = record("hello")
                assert sink.filter(rec)
                line = sink.format(rec)
            finally:
                current_subject.reset(reset)
        assert ("[alice]" in line) is subject and line.endswith("hello")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = saved
        root.setLevel(level)
