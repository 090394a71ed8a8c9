"""HTTPS end to end: ``trio-mcp run --transport http --certfile`` driven by the official client.

The certificate comes from a test CA (``trustme``); the official ``mcp`` client
trusts that CA through its httpx client, in both eras. A client that does not
trust the CA is refused by the TLS handshake, and nothing is served over plain
HTTP on that port.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from _support.paths import EVERYTHING

trustme = pytest.importorskip("trustme")
mcp = pytest.importorskip("mcp")
httpx2 = pytest.importorskip("httpx2")

LIMIT = 60
RUN = [sys.executable, "-m", "trio_mcp", "run"]


def causes(exc: BaseException | None) -> list[BaseException]:
    chain = []
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def https_server(tmp_path: Path) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """``trio-mcp run examples/everything.py`` over HTTPS; yields its URL and a trusting context."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    port = free_port()
    argv = [sys.executable, "-m", "trio_mcp", "run", f"{EVERYTHING}:build"]
    argv += ["--transport", "http", "--port", str(port)]
    argv += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            with trio.fail_after(LIMIT):
                while b"serving MCP over HTTP" not in stderr.read_bytes():
                    assert proc.poll() is None, stderr.read_text()
                    await trio.sleep(0.1)
            assert f"https://127.0.0.1:{port}/mcp" in stderr.read_text()
            yield f"https://127.0.0.1:{port}/mcp", client_ctx
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await trio.to_thread.run_sync(proc.wait, LIMIT) == 0, stderr.read_text()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_over_https(tmp_path: Path, mode: str) -> None:
    from mcp.client.streamable_http import streamable_http_client

    async with https_server(tmp_path) as (url, client_ctx):
        with trio.fail_after(LIMIT):
            async with (
                httpx2.AsyncClient(verify=client_ctx) as http,
                mcp.Client(
                    streamable_http_client(url, http_client=http),
                    mode=mode,
                    read_timeout_seconds=30,
                ) as client,
            ):
                tools = await client.list_tools()
                assert "test_simple_text" in {tool.name for tool in tools.tools}
                result = await client.call_tool("test_simple_text", {})
                assert not result.is_error
                assert result.content[0].text == (  # type: ignore[union-attr]
                    "This is a simple text response for testing."
                )


async def test_a_client_that_does_not_trust_the_certificate_is_refused(tmp_path: Path) -> None:
    async with https_server(tmp_path) as (url, _):
        with trio.fail_after(LIMIT):
            async with httpx2.AsyncClient() as http:  # the system trust store: no test CA
                with pytest.raises(httpx2.ConnectError) as info:
                    await http.post(url, json={})
            assert any(isinstance(e, ssl.SSLCertVerificationError) for e in causes(info.value))
            async with httpx2.AsyncClient() as http:  # plain HTTP on the TLS port
                with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                    await http.post(url.replace("https:", "http:"), json={})


def test_bad_certificate_files_are_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [*RUN, str(EVERYTHING), "--transport", "http", "--certfile", str(tmp_path / "missing.pem")],
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"trio-mcp: error: cannot load the TLS certificate {tmp_path / 'missing.pem'}:"
        " No such file or directory\n"
    )
