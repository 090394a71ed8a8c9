"""The official clients drive a deployment through a load balancer without affinity.

N ``trio-mcp run --transport http`` workers share one real ``redis-server`` and
one ``requestState`` key; ``tests/_support/balancer.py`` sends each request (not
each connection) to the next worker. The official ``mcp`` Python SDK client and
the TypeScript SDK client (``tests/peers/ts_scaleout_client.mjs``; skipped when
``scripts/install-inspector.sh`` has not installed it) each initialize, list the
tools, call one with progress, read a resource, get a prompt and call ``whoami``
(the worker's pid) a few times, in the modern era (2026-07-28) and the legacy
one (2025-11-25).

The test then checks the spread on both sides: every request answered 2xx, each
``whoami`` answered by the very worker the balancer says it sent it to, and
every worker answered some.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from _support.deployment import Deployment, deployment
from _support.paths import ROOT
from _support.redis import RedisServer

mcp = pytest.importorskip("mcp")

import mcp_types as types  # noqa: E402
from mcp import Client  # noqa: E402

SERVER = ROOT / "tests" / "servers" / "scaleout_clients_server.py"
#: Workers behind the balancer in the modern era: its requests are stateless.
MODERN_WORKERS = 3
#: Workers behind the balancer in the legacy era: the session lives in Redis, so a request may
#: reach a worker that never saw its ``initialize`` (with 1 this proves nothing of sharing).
LEGACY_WORKERS = 3
#: era -> (the SDK client's mode, workers, the negotiated version)
ERAS = {
    "modern": ("2026-07-28", MODERN_WORKERS, "2026-07-28"),
    "legacy": ("legacy", LEGACY_WORKERS, "2025-11-25"),
}
LIMIT = 120  # a hang guard for a whole test on a loaded machine, not a timed assertion

TOOLS = Path(os.environ.get("TRIO_MCP_TOOLS_DIR", ROOT / ".tools"))
NODE = TOOLS / "node_modules" / ".bin" / "node"
SDK = TOOLS / "node_modules" / "@modelcontextprotocol" / "client" / "package.json"
PEER = ROOT / "tests" / "peers" / "ts_scaleout_client.mjs"
needs_ts = pytest.mark.skipif(
    not (NODE.exists() and SDK.exists()),
    reason=f"the TypeScript SDK client is not installed in {TOOLS}: run scripts/install-inspector.sh",
)


def whoami_calls(d: Deployment) -> list[int]:
    """The backend index the balancer sent each successful ``whoami`` call to, in order."""
    backends = []
    for s in d.balancer.log:
        if s.method == "POST" and s.status == 200:
            message = json.loads(s.request.body)
            if message.get("method") == "tools/call" and message["params"]["name"] == "whoami":
                backends.append(s.backend)
    return backends


async def check_spread(d: Deployment, pids: list[int]) -> None:
    """Every request answered 2xx, each ``whoami`` by its worker, every worker some."""
    log = d.balancer.log
    # The client has closed; its streams end once the balancer sees their connections go.
    await d.balancer.wait_until(lambda: all(s.done for s in log))
    assert not [s for s in log if s.broken], log
    assert all(s.status is not None and 200 <= s.status < 300 for s in log), [
        (s.method, s.status, s.backend) for s in log
    ]
    assert whoami_calls(d) == [d.worker_of(pid) for pid in pids]  # the balancer's word = theirs
    assert {d.worker_of(pid) for pid in pids} == set(range(len(d.workers)))
    assert all(count > 0 for count in d.balancer.spread().values()), d.balancer.spread()


@pytest.mark.parametrize("era", ERAS)
async def test_python_sdk_client_through_the_balancer(
    era: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    mode, n, version = ERAS[era]
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    with trio.fail_after(LIMIT):
        async with deployment(redis_server, tmp_path, SERVER, n) as d:
            pids_of_workers = {w.pid for w in d.workers}
            async with Client(d.url, mode=mode, read_timeout_seconds=LIMIT, cache=None) as client:  # type: ignore[arg-type]
                assert client.protocol_version == version
                tools = await client.list_tools()
                assert {t.name for t in tools.tools} == {"whoami", "count"}

                counted = await client.call_tool(
                    "count", {"steps": 3}, progress_callback=on_progress
                )
                [c] = counted.content
                assert isinstance(c, types.TextContent)
                assert c.text.startswith("counted 3 on ")
                assert int(c.text.rsplit(" ", 1)[1]) in pids_of_workers
                assert progress == [(i, 3, f"step {i} of 3") for i in (1, 2, 3)]

                [r] = (await client.read_resource("scaleout://motd")).contents
                assert isinstance(r, types.TextResourceContents)
                assert (r.uri, r.mime_type, r.text) == (
                    "scaleout://motd",
                    "text/plain",
                    "no affinity needed",
                )

                prompt = await client.get_prompt("greet", {"name": "SDK"})
                [m] = prompt.messages
                assert m.role == "user" and isinstance(m.content, types.TextContent)
                assert m.content.text == "Hello, SDK!"

                pids = []
                for _ in range(2 * n):
                    [w] = (await client.call_tool("whoami", {})).content
                    assert isinstance(w, types.TextContent)
                    pids.append(int(w.text))
            await check_spread(d, pids)


async def ts_client(era: str, url: str, calls: int, tmp: Path) -> dict[str, Any]:
    # In a directory of its own whose node_modules is the installed one: its imports resolve.
    (tmp / "node_modules").symlink_to(TOOLS / "node_modules", target_is_directory=True)
    script = tmp / PEER.name
    shutil.copyfile(PEER, script)
    done = await trio.run_process(
        [str(NODE), str(script), era, url, str(calls)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr.decode()
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@needs_ts
@pytest.mark.parametrize("era", ERAS)
async def test_typescript_sdk_client_through_the_balancer(
    era: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    _mode, n, version = ERAS[era]
    peer = tmp_path / "peer"
    peer.mkdir()
    with trio.fail_after(LIMIT):
        async with deployment(redis_server, tmp_path, SERVER, n) as d:
            out = await ts_client(era, d.url, 2 * n, peer)
            assert (out["era"], out["version"]) == (era, version)
            assert out["serverName"] == "scaleout-clients"
            assert out["tools"] == ["count", "whoami"]
            [counted] = out["counted"]
            assert int(counted.removeprefix("counted 3 on ")) in {w.pid for w in d.workers}
            # This SDK runs progress callbacks a microtask after it parsed the notification
            # and settles the call at once when the result arrives: the last ones may be
            # dropped (tests/e2e/test_ts_sdk.py). The ones it hands over are in order.
            progress = [[i, 3, f"step {i} of 3"] for i in (1, 2, 3)]
            assert out["progress"] and out["progress"] == progress[: len(out["progress"])]
            assert out["resource"] == [["scaleout://motd", "text/plain", "no affinity needed"]]
            assert out["prompt"] == [["user", "Hello, TS!"]]
            await check_spread(d, out["pids"])


def modern_call(name: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A modern-era ``tools/call`` over raw HTTP: its body and headers."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": "p",
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": meta},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": name,
    }
    return body, headers


async def test_a_worker_killed_mid_answer_breaks_that_answer_only(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(LIMIT):
        async with (
            deployment(redis_server, tmp_path, SERVER, MODERN_WORKERS) as d,
            httpx.AsyncClient(timeout=LIMIT) as http,
        ):
            body, headers = modern_call("count", {"steps": 10_000})
            with pytest.raises(httpx.RemoteProtocolError):  # the answer breaks off
                async with http.stream("POST", d.url, json=body, headers=headers) as r:
                    assert r.headers["content-type"].startswith("text/event-stream")
                    lines = r.aiter_lines()
                    async for line in lines:
                        if line.startswith("data:") and "notifications/progress" in line:
                            break
                    victim = d.workers[d.balancer.log[-1].backend]
                    victim.proc.kill()  # SIGKILL, mid-stream
                    async for _ in lines:
                        pass
            await d.balancer.wait_until(lambda: d.balancer.log[0].done)
            assert d.balancer.log[0].broken
            body, headers = modern_call("whoami", {})
            for _ in range(MODERN_WORKERS - 1):  # the client goes on: the others serve it
                answer = await http.post(d.url, json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                pid = int(answer.json()["result"]["content"][0]["text"])
                assert pid != victim.pid and d.worker_of(pid) == d.balancer.log[-1].backend
