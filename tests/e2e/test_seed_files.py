"""The seed server's file resource against the real process (issue 13, items 2, 3, 9).

* A FIFO in the root is refused at once (opened ``O_NONBLOCK``, not a regular
  file): it used to hold a worker thread that nothing could abandon, so the
  request never got an answer and neither EOF nor SIGTERM ended the process.
* Reads race a writer who swaps a file for a symlink out of the root: no answer
  ever carries data from outside (both resolution paths).
* No error carries the server's root path (a 6,000-character path used to answer
  ``-32603`` with the absolute path in its message).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from _support.rawproc import EXAMPLES, RawServer, spawn

SEED = EXAMPLES / "seed_server.py"
SECRET = "OUTSIDE THE ROOT"
HANG_GUARD = 60  # a hang fails the test instead of stalling the run; not a timing assertion
RESOLVERS = [pytest.param("0", id="openat2-if-available"), pytest.param("1", id="walk")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text(SECRET)
    os.mkfifo(root / "fifo")
    return root


async def read(server: RawServer, path: str) -> dict[str, object]:
    return await server.call("resources/read", {"uri": f"file:///{path}"})


@pytest.mark.parametrize("ending", ["eof", "sigterm"])
async def test_fifo_is_refused_and_the_process_exits(root: Path, ending: str) -> None:
    with trio.fail_after(HANG_GUARD):
        async with spawn(SEED, env={"SEED_ROOT": str(root)}) as server:
            await server.initialize()
            async with trio.open_nursery() as nursery:  # several at once: none holds a thread
                for _ in range(20):
                    nursery.start_soon(read, server, "fifo")
            answer = await read(server, "fifo")
            assert answer["error"]["code"] == -32002, answer  # type: ignore[index]
            assert (await read(server, "hello.txt"))["result"]["contents"][0]["text"] == "hello"  # type: ignore[index]
            if ending == "eof":
                await server.close_stdin()
            else:
                server.signal(signal.SIGTERM)
            assert await server.process.wait() == 0


async def test_errors_never_show_the_root(root: Path) -> None:
    hostile = [
        "a" * 6000,
        "a/" * 3000,
        ("a" * 255 + "/") * 20,
        "%00",
        "x%00y",
        "../" * 50 + "etc/passwd",
        "fifo/x",
        "hello.txt/x",
        "%2F" + "a" * 5000,
        "\\..\\secret.txt",
    ]
    with trio.fail_after(HANG_GUARD):
        async with spawn(SEED, env={"SEED_ROOT": str(root)}) as server:
            await server.initialize()
            for path in hostile:
                answer = await read(server, path)
                assert "error" in answer, (path[:40], answer)
                error = answer["error"]
                assert error["code"] in (-32002, -32602), (path[:40], error)  # type: ignore[index]
                assert str(root) not in repr(answer), path[:40]
                assert str(root.parent) not in repr(answer), path[:40]


@pytest.fixture
def swapping(root: Path) -> Iterator[None]:
    """A thread that keeps swapping ``target`` for a symlink to ``../secret.txt``."""
    stop = threading.Event()
    (root / "target").write_text("inside")
    links = [str(root.parent / "secret.txt"), "../secret.txt"]

    def swap() -> None:
        n = 0
        while not stop.is_set():
            os.symlink(links[n % 2], root / "target.lnk")
            os.replace(root / "target.lnk", root / "target")
            (root / "target.new").write_text("inside")
            os.replace(root / "target.new", root / "target")
            n += 1

    thread = threading.Thread(target=swap, name="swapper")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("no_openat2", RESOLVERS)
async def test_racing_symlink_swaps_never_leak(root: Path, swapping: None, no_openat2: str) -> None:
    outcomes: Counter[str] = Counter()
    with trio.fail_after(HANG_GUARD * 2):
        env = {"SEED_ROOT": str(root), "TRIO_MCP_NO_OPENAT2": no_openat2}
        async with spawn(SEED, env=env) as server:
            await server.initialize()

            async def one() -> None:
                answer = await read(server, "target")
                assert SECRET not in repr(answer), answer
                if "result" in answer:
                    assert answer["result"]["contents"][0]["text"] == "inside"  # type: ignore[index]
                    outcomes["inside"] += 1
                else:
                    outcomes[str(answer["error"]["code"])] += 1  # type: ignore[index]

            for _ in range(40):  # 2,000 reads, 50 in flight at a time
                async with trio.open_nursery() as nursery:
                    for _ in range(50):
                        nursery.start_soon(one)
    assert sum(outcomes.values()) == 2000
    assert outcomes["inside"] > 0, outcomes
    assert outcomes["-32602"] > 0, outcomes  # some reads met the symlink out, and were refused
