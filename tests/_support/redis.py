"""A real ``redis-server`` for the tests that need one (no mocks, no fakeredis).

:func:`redis_server` (a pytest fixture; import it into a test module or conftest)
starts the Debian package's ``redis-server`` on a free loopback port with a
temporary directory and no persistence (``persist``: an append-only file there), waits until it answers ``PING``, and
stops it at the end. :meth:`RedisServer.stop` and :meth:`RedisServer.start`
stop and restart it on the same port mid-test (the failure tests). Tests skip,
saying why, only when ``redis-server`` cannot be found (``make test`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "free_port", "redis_server"]

#: How long a start or a stop may take before the fixture gives up (not a timed assertion).
LIMIT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``, data in ``directory``."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "redis.log"
        #: Keep the data over a restart (an append-only file in ``directory``, fsync always).
        self.persist = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, on the same port: empty unless ``persist``); wait for PING."""
        assert self.process is None, "already running"
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        argv += ["--save", "", "--appendonly", "no", *aof, "--dir", str(self.directory)]
        argv += ["--logfile", str(self.log)]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + LIMIT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text() if self.log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and wait until the port refuses connections."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(LIMIT)


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running ``redis-server`` of this test's own; stopped at the end."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server not found (make test installs the Debian package)")
    server = RedisServer(executable, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
