"""A real ``redis-server`` for the tests that need one (no mocks, no fakeredis).

:func:`redis_server` (a pytest fixture; import it into a test module or conftest)
starts the Debian package's ``redis-server`` on a free loopback port with a
temporary directory and no persistence (``persist``: an append-only file there), waits until it answers ``PING``, and
stops it at the end. :meth:`RedisServer.stop` and :meth:`RedisServer.start`
stop and restart it on the same port mid-test (the failure tests). Tests skip,
saying why, only when ``redis-server`` cannot be found (``make test`` installs it).

:func:`redis_sentinel` starts a primary, one replica of it and one Sentinel
(``redis-server --sentinel``, the same package) watching them as service
``svc``, with short failover settings; its ``url`` is the ``redis+sentinel://``
URL, and :meth:`RedisSentinel.kill_primary` SIGKILLs the primary and waits until
Sentinel promoted the replica.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = [
    "RedisSentinel",
    "RedisServer",
    "free_port",
    "redis_cli",
    "redis_sentinel",
    "redis_server",
]

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

    def __init__(self, executable: str, directory: Path, *extra: str) -> None:
        self.executable = executable
        self.directory = directory
        self.extra = list(extra)
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
        argv += ["--logfile", str(self.log), *self.extra]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + LIMIT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text() if self.log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.port}:\n{log}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL it (no goodbye to anyone) and reap it."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(LIMIT)

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


def redis_cli(port: int, *args: str) -> str:
    """One command through ``redis-cli`` (same package) to ``127.0.0.1:port``; its output."""
    argv = [shutil.which("redis-cli") or "redis-cli", "-p", str(port), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=LIMIT, check=True)
    return done.stdout


def _until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LIMIT
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting: {what}")
        time.sleep(0.05)


SENTINEL_CONF = """port {port}
bind 127.0.0.1
dir {dir}
logfile {dir}/sentinel.log
sentinel monitor svc 127.0.0.1 {primary} 1
sentinel down-after-milliseconds svc 1500
sentinel failover-timeout svc 3000
sentinel parallel-syncs svc 1
"""


class RedisSentinel:
    """A primary, its replica and one Sentinel (quorum 1) watching them as ``svc``."""

    def __init__(self, executable: str, directory: Path) -> None:
        self.primary = RedisServer(executable, directory / "a")
        self.replica = RedisServer(executable, directory / "b")
        self.replica.extra = ["--replicaof", "127.0.0.1", str(self.primary.port)]
        self.port = free_port()
        self.executable, self.directory = executable, directory / "sentinel"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/svc/0"

    def primary_port(self) -> int:
        """The primary's port as Sentinel names it now."""
        out = redis_cli(self.port, "SENTINEL", "get-master-addr-by-name", "svc").split()
        return int(out[1])

    def start(self) -> None:
        for d in (self.primary.directory, self.replica.directory, self.directory):
            d.mkdir(parents=True, exist_ok=True)
        self.primary.start()
        self.replica.start()
        _until("replication", lambda: "master_link_status:up" in self._info(self.replica.port))
        conf = self.directory / "sentinel.conf"  # Sentinel rewrites it: a file of its own
        conf.write_text(
            SENTINEL_CONF.format(port=self.port, dir=self.directory, primary=self.primary.port)
        )
        self.process = subprocess.Popen(
            [self.executable, str(conf), "--sentinel"], stdin=subprocess.DEVNULL
        )
        _until("Sentinel sees the replica", self._replica_known)

    def _info(self, port: int) -> str:
        try:
            return redis_cli(port, "INFO", "replication")
        except subprocess.CalledProcessError:
            return ""

    def _replica_known(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "sentinel exited"
        try:
            out = redis_cli(self.port, "SENTINEL", "replicas", "svc")
        except subprocess.CalledProcessError:
            return False
        return str(self.replica.port) in out.split() and "s_down" not in out

    def sync(self) -> None:
        """Wait until the replica has every write the primary took so far."""
        assert redis_cli(self.primary.port, "WAIT", "1", "10000").strip() == "1"

    def kill_primary(self) -> None:
        """SIGKILL the primary; the replica is the primary once Sentinel has promoted it."""
        self.primary.kill()

    def promoted(self) -> bool:
        return self.primary_port() == self.replica.port

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            process.wait(LIMIT)
        self.replica.stop()
        self.primary.stop()


@pytest.fixture
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinel]:
    """A primary, a replica and a Sentinel of this test's own; stopped at the end."""
    executable = shutil.which("redis-server")
    if executable is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server not found (make test installs the Debian package)")
    sentinel = RedisSentinel(executable, tmp_path_factory.mktemp("sentinel"))
    try:
        sentinel.start()
        yield sentinel
    finally:
        sentinel.stop()
