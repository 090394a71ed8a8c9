"""StaticTokens, the serve-time hook, and the caller's subject on the request's log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pytest
import trio
from _support.http_auth import bearer, call, serving, structured, whoami_server

from trio_mcp import AccessToken, BearerAuth, Server
from trio_mcp.auth import InvalidToken, StaticTokens, SubjectFilter


async def test_static_tokens() -> None:
    verify = StaticTokens({"dev-a": AccessToken("alice", frozenset({"mcp:tools"})), "dev-b": "bob"})
    assert (await verify("dev-a")).scopes == {"mcp:tools"}
    assert (await verify("dev-b")).subject == "bob"
    with pytest.raises(InvalidToken, match="unknown token"):
        await verify("dev-c")
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verify)) as t:
            assert structured(await call(t.urls[0], "dev-a"))["subject"] == "alice"
            r = await call(t.urls[0], "dev-b")  # no mcp:tools
            assert r.status_code == 403


@pytest.mark.parametrize(
    ("host", "loud"),
    [("127.0.0.1", False), ("::1", False), ("localhost", False), ("0.0.0.0", True), ("::", True)],
)
def test_static_tokens_warn_off_loopback(
    host: str, loud: bool, caplog: pytest.LogCaptureFixture
) -> None:
    auth = BearerAuth(verify=StaticTokens({"t": "alice"}))
    with caplog.at_level(logging.WARNING, logger="trio_mcp.auth"):
        auth.serving([host])
    warned = [r for r in caplog.records if "StaticTokens" in r.getMessage()]
    assert bool(warned) is loud
    if loud:
        assert warned[0].levelno == logging.WARNING and host in warned[0].getMessage()


async def test_serve_http_tells_the_verifier_its_bind_address() -> None:
    told: list[Sequence[str]] = []

    class Spy:
        def serving(self, hosts: Sequence[str]) -> None:
            told.append(list(hosts))

        async def __call__(self, token: str) -> AccessToken:
            return AccessToken("alice", frozenset({"mcp:tools"}))

    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(Spy())) as t:
            assert structured(await call(t.urls[0], "x"))["subject"] == "alice"
    assert told == [["127.0.0.1"]]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(SubjectFilter())
        self.setFormatter(logging.Formatter("[%(subject)s] %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


async def test_the_subject_is_on_every_log_line_of_the_request(records: Records) -> None:
    server = Server("identity", "1.0")
    app_log = logging.getLogger("my_app")

    @server.tool()
    async def work() -> str:
        app_log.info("working")

        async def child() -> None:
            app_log.info("in a child task")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
        return "done"

    @server.tool()
    async def broken() -> str:
        raise RuntimeError("boom")

    tokens = StaticTokens({"a": "alice", "b": "bob"})
    with trio.fail_after(20):
        async with serving(server, BearerAuth(verify=tokens)) as t:
            assert (await call(t.urls[0], "a", "work")).status_code == 200
            assert (await call(t.urls[0], "b", "broken")).status_code == 200
    app_log.info("outside any request")
    mine = [line for line in records.lines if "working" in line or "child" in line]
    assert mine == ["[alice] working", "[alice] in a child task"]
    failed = [line for line in records.lines if "tool 'broken' raised" in line]
    assert failed and failed[0].startswith("[bob] ")  # the framework's own lines too
    assert records.lines[-1] == "[-] outside any request"


async def test_no_subject_without_a_token(records: Records) -> None:
    from trio_mcp.testing import connect

    server = Server("identity", "1.0")

    @server.tool()
    async def work() -> str:
        logging.getLogger("my_app").info("working")
        return "done"

    async with connect(server) as client:
        await client.call_tool("work", {})
    assert "[-] working" in records.lines
