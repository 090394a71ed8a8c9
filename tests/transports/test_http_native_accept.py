"""The native server's accept loop: every connection waiting is taken in one go.

``trio.serve_listeners`` accepts one connection per scheduling round; under
load a round is long, so a burst of new connections (a pool opening) waited a
round each, and so did their first requests (wrk saw 150-230 ms at most where
the other peers saw 30). :func:`accept_all` takes the whole queue each time
the socket is readable. Out of file descriptors, it waits and goes on.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import trio
import trio.testing

from trio_mcp._transports._native._server import _BURST, accept_all, bind_sockets

WAITING = 50


class Recorder:
    """Stands in for :class:`NativeServer`: records the round each connection came in."""

    def __init__(self) -> None:
        self.round = 0
        self.rounds: list[int] = []

    async def connection(self, stream: trio.abc.Stream) -> None:
        self.rounds.append(self.round)
        await trio.aclose_forcefully(stream)


async def test_every_waiting_connection_is_accepted_in_one_round() -> None:
    (sock,) = bind_sockets("127.0.0.1", 0)
    port = sock.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(WAITING)]
    recorder = Recorder()
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(accept_all, sock, recorder, nursery)  # type: ignore[arg-type]
                while len(recorder.rounds) < WAITING:  # a task that only counts rounds
                    recorder.round += 1
                    await trio.lowlevel.cancel_shielded_checkpoint()
                nursery.cancel_scope.cancel()
    finally:
        for client in clients:
            client.close()
        sock.close()
    # one wake-up took all of them (WAITING < _BURST): their tasks ran in one round (the
    # counter may move once mid-round); one accept per round would spread them over 50
    assert WAITING < _BURST
    assert max(recorder.rounds) - min(recorder.rounds) <= 1


class FullProcess:
    """A listening socket whose first ``accept()`` finds the process out of descriptors."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.failed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def accept(self) -> Any:
        if not self.failed:
            self.failed = True
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()


async def test_out_of_descriptors_waits_then_accepts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    (sock,) = bind_sockets("127.0.0.1", 0)
    client = socket.create_connection(("127.0.0.1", sock.getsockname()[1]))
    listener = FullProcess(sock)
    recorder = Recorder()
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(accept_all, listener, recorder, nursery)  # type: ignore[arg-type]
                while not recorder.rounds:
                    await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
    finally:
        client.close()
        sock.close()
    assert listener.failed and len(recorder.rounds) == 1
