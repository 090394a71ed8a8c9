"""``trio_mcp.files.RootedDirectory``: confinement, file kinds, races, cancellation.

Every test runs on both resolution paths: ``openat2`` (skipped where the kernel
does not have it) and the component walk.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import trio

from trio_mcp.files import (
    FileTooLarge,
    NotARegularFile,
    OutsideRoot,
    PathRefused,
    RootedDirectory,
)

SECRET = b"OUTSIDE THE ROOT"


def _has_openat2() -> bool:
    return RootedDirectory(".", use_openat2=True).mode == "openat2"


MODES = [
    pytest.param(
        True,
        id="openat2",
        marks=pytest.mark.skipif(not _has_openat2(), reason="no openat2 here"),
    ),
    pytest.param(False, id="walk"),
]


@pytest.fixture(params=MODES)
def use_openat2(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``tmp_path/root`` to serve, and ``tmp_path/out`` (a secret) beside it."""
    root = tmp_path / "root"
    out = tmp_path / "out"
    (root / "sub" / "deeper").mkdir(parents=True)
    out.mkdir()
    (out / "secret.txt").write_bytes(SECRET)
    (out / "f").write_bytes(SECRET)
    (root / "hello.txt").write_bytes(b"hello")
    (root / "sub" / "a.txt").write_bytes(b"nested")
    (root / "sub" / "deeper" / "b.txt").write_bytes(b"deeper")
    links = {
        "inside_rel": "sub/a.txt",
        "inside_abs": str(root / "hello.txt"),
        "sub/up": "../hello.txt",
        "sub/dir_link": "deeper",
        "chain": "inside_rel",
        "escape_rel": "../out/secret.txt",
        "escape_abs": str(out / "secret.txt"),
        "escape_dir": "../out",
        "escape_via_root": str(root / ".." / "out" / "secret.txt"),
        "magic": "/proc/self/root" + str(out / "secret.txt"),
        "loop_a": "loop_b",
        "loop_b": "loop_a",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    os.mkfifo(root / "fifo")
    return root


def test_reads_what_is_beneath(tree: Path, use_openat2: bool) -> None:
    files = RootedDirectory(tree, use_openat2=use_openat2)
    assert files.mode == ("openat2" if use_openat2 else "walk")
    expected = {
        "hello.txt": b"hello",
        "./hello.txt": b"hello",
        "sub//a.txt": b"nested",
        "sub/../hello.txt": b"hello",
        "sub/deeper/../a.txt": b"nested",
        "inside_rel": b"nested",
        "inside_abs": b"hello",  # absolute, but names a place under the root
        "sub/up": b"hello",
        "sub/dir_link/b.txt": b"deeper",
        "sub/dir_link/../a.txt": b"nested",  # '..' after a link: the link's parent
        "chain": b"nested",
    }
    for path, data in expected.items():
        assert files.read_bytes_sync(path) == data, path


def test_refuses_what_leaves_the_root(tree: Path, use_openat2: bool) -> None:
    files = RootedDirectory(tree, use_openat2=use_openat2)
    for path in (
        "../out/secret.txt",
        "sub/../../out/secret.txt",
        "sub/../../root/hello.txt",  # back in, but it left on the way: refused like the kernel
        "/etc/passwd",
        str(tree / "hello.txt"),  # absolute, even inside
        "escape_rel",
        "escape_abs",
        "escape_dir/secret.txt",
        "escape_via_root",
        "magic",
    ):
        with pytest.raises(OutsideRoot) as info:
            files.read_bytes_sync(path)
        assert info.value.filename == path
        assert str(tree) not in str(info.value) or path.startswith(str(tree)), path


def test_refuses_what_is_not_a_regular_file(tree: Path, use_openat2: bool) -> None:
    files = RootedDirectory(tree, use_openat2=use_openat2)
    for path, kind in (
        ("sub", "directory"),
        ("sub/dir_link", "directory"),
        ("", "root directory"),
        ("fifo", "FIFO"),  # opened O_NONBLOCK: does not wait for a writer
    ):
        with pytest.raises(NotARegularFile, match=kind):
            files.read_bytes_sync(path)
    for path in ("nope.txt", "sub/nope", "hello.txt/x"):
        with pytest.raises(FileNotFoundError) as missing:
            files.read_bytes_sync(path)
        assert type(missing.value) is FileNotFoundError
        assert missing.value.filename == path
    for path in ("loop_a", "a" * 300, "a/" * 2100, "x\x00y"):
        with pytest.raises(PathRefused) as refused:
            files.read_bytes_sync(path)
        assert str(tree) not in str(refused.value)


def test_every_refusal_is_file_not_found_without_server_paths(tree: Path) -> None:
    """What a resource handler may let propagate: "not found", the caller's path only."""
    files = RootedDirectory(tree)
    for path in ("escape_abs", "fifo", "nope", "a" * 6000):
        with pytest.raises(FileNotFoundError) as info:
            files.read_bytes_sync(path)
        assert str(tree) not in str(info.value)
        assert str(tree.parent) not in repr(info.value.args)


def test_max_size(tree: Path, use_openat2: bool) -> None:
    files = RootedDirectory(tree, use_openat2=use_openat2, max_size=5)
    assert files.read_bytes_sync("hello.txt") == b"hello"
    with pytest.raises(FileTooLarge):
        files.read_bytes_sync("sub/deeper/b.txt")


def test_root_must_be_a_directory(tree: Path) -> None:
    with pytest.raises(NotADirectoryError):
        RootedDirectory(tree / "hello.txt")
    with pytest.raises(FileNotFoundError):
        RootedDirectory(tree / "missing")


def test_no_openat2_environment_forces_the_walk(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIO_MCP_NO_OPENAT2", "1")
    assert RootedDirectory(tree).mode == "walk"
    monkeypatch.delenv("TRIO_MCP_NO_OPENAT2")
    assert RootedDirectory(tree).mode == RootedDirectory(tree, use_openat2=True).mode


@pytest.fixture
def swapper(tree: Path) -> Iterator[Callable[[], Counter[str]]]:
    """A thread that keeps swapping ``target`` (a file) and ``d`` (a directory) for
    symlinks out of the root, as someone who can write inside the root would."""
    out = tree.parent / "out"
    stop = threading.Event()
    swaps: Counter[str] = Counter()
    (tree / "d").mkdir()
    (tree / "d" / "f").write_bytes(b"inside d")
    (tree / "target").write_bytes(b"inside")

    def swap() -> None:
        links = [str(out / "secret.txt"), "../out/secret.txt"]
        while not stop.is_set():
            n = swaps["rounds"]
            os.symlink(links[n % 2], tree / "target.lnk")
            os.replace(tree / "target.lnk", tree / "target")
            (tree / "target.new").write_bytes(b"inside")
            os.replace(tree / "target.new", tree / "target")
            os.rename(tree / "d", tree / "d.real")
            os.symlink(out if n % 2 else "../out", tree / "d")
            os.unlink(tree / "d")
            os.rename(tree / "d.real", tree / "d")
            swaps["rounds"] += 1

    thread = threading.Thread(target=swap, name="swapper")
    thread.start()
    try:
        yield lambda: swaps
    finally:
        stop.set()
        thread.join()


def test_race_swapping_files_for_symlinks_never_escapes(
    tree: Path, use_openat2: bool, swapper: Callable[[], Counter[str]]
) -> None:
    """4,000 reads while a thread swaps the file (and its directory) for symlinks out."""
    files = RootedDirectory(tree, use_openat2=use_openat2)

    def read(i: int) -> str:
        path = "target" if i % 2 else "d/f"
        try:
            data = files.read_bytes_sync(path)
        except OutsideRoot:
            return "refused"
        except FileNotFoundError:
            return "missing"  # between the rename and the new name
        assert SECRET not in data, f"read {path} returned data from outside the root"
        assert data in (b"inside", b"inside d"), data
        return "inside"

    with ThreadPoolExecutor(4) as pool:
        outcomes = Counter(pool.map(read, range(4000)))
    assert sum(outcomes.values()) == 4000
    assert outcomes["inside"] > 0, outcomes
    # The race was on: some reads met a symlink pointing out (and refused it).
    assert outcomes["refused"] > 0, (outcomes, swapper())


async def test_read_is_abandoned_when_cancelled(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read stuck in the filesystem does not hold its caller past a deadline."""
    files = RootedDirectory(tree, max_threads=1)
    release = threading.Event()
    real_read = os.read

    def stuck_read(fd: int, n: int) -> bytes:
        release.wait()
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", stuck_read)
    try:
        with trio.move_on_after(0.2) as scope:
            await files.read_bytes("hello.txt")
        assert scope.cancelled_caught
        # Its slot is still taken by the stuck thread: the next read waits, cancellably.
        with trio.move_on_after(0.2) as scope:
            await files.read_bytes("hello.txt")
        assert scope.cancelled_caught
    finally:
        release.set()
    monkeypatch.undo()
    with trio.fail_after(10):
        assert await files.read_text("hello.txt") == "hello"


async def test_async_reads(tree: Path, use_openat2: bool) -> None:
    files = RootedDirectory(tree, use_openat2=use_openat2)
    assert await files.read_text("sub/a.txt") == "nested"
    with pytest.raises(NotARegularFile):
        await files.read_bytes("fifo")


async def test_a_resource_that_lets_refusals_propagate_answers_not_found(tree: Path) -> None:
    """The one-line resource handler: every refusal is "Resource not found", no server path."""
    from trio_mcp import McpError, Server
    from trio_mcp.testing import connect

    server = Server("files")
    files = RootedDirectory(tree)

    @server.resource("file:///{+path}")
    async def read(path: str) -> str:
        return await files.read_text(path)

    with trio.fail_after(10):
        async with connect(server) as client:
            [content] = (await client.read_resource("file:///sub/a.txt"))["contents"]
            assert content["text"] == "nested"
            for path in ("escape_abs", "..%2Fout%2Fsecret.txt", "fifo", "sub", "nope", "a" * 6000):
                with pytest.raises(McpError) as info:
                    await client.read_resource(f"file:///{path}")
                assert info.value.code == -32002, path[:20]
                assert str(tree) not in repr(info.value.data), path[:20]
