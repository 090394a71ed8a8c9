"""Three ``trio-mcp run --transport http`` workers sharing one real redis-server.

Each worker is its own process on its own port, started with
``TRIO_MCP_REDIS_URL``; the client sends each request to the worker a load
balancer without affinity might pick, in the modern (stateless) era. The handlers
write what they do to a log file, so the test sees on the server side which
process ran a task and that it stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import trio
from _support.deployment import Worker
from _support.deployment import workers as start_workers
from _support.paths import ROOT
from _support.redis import RedisSentinel, RedisServer, free_port

SERVER = ROOT / "tests" / "servers" / "scaleout_server.py"
MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
}
LIMIT = 60
LEASE = 1.0


def workers(
    redis: RedisServer | RedisSentinel, tmp: Path, n: int = 3, lease: float = LEASE
) -> AbstractAsyncContextManager[list[Worker]]:
    """``n`` workers of :data:`SERVER`, their handlers logging to ``tmp/handlers.log``."""
    env = {"TRIO_MCP_TASK_LEASE": str(lease), "SCALEOUT_LOG": str(tmp / "handlers.log")}
    return start_workers(redis, tmp, SERVER, n, env=env)


async def rpc(
    http: httpx.AsyncClient, w: Worker, method: str, params: dict[str, Any]
) -> httpx.Response:
    name = params.get("name") or params.get("taskId")
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
        **({"mcp-name": name} if name else {}),
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
    return await http.post(w.url, json=body, headers=headers)


async def result(http: httpx.AsyncClient, w: Worker, method: str, **params: Any) -> Any:
    response = await rpc(http, w, method, params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def start_hold(http: httpx.AsyncClient, w: Worker, label: str) -> str:
    created = await result(http, w, "tools/call", name="hold", arguments={"label": label})
    assert created["resultType"] == "task" and created["status"] == "working", created
    task_id: str = created["taskId"]
    return task_id


async def log_has(tmp: Path, line: str) -> None:
    log = tmp / "handlers.log"
    with trio.fail_after(LIMIT):
        while not (log.exists() and line in log.read_text().splitlines()):
            await trio.sleep(0.05)


async def until(http: httpx.AsyncClient, w: Worker, task_id: str, status: str) -> Any:
    with trio.fail_after(LIMIT):
        while True:
            got = await result(http, w, "tasks/get", taskId=task_id)
            if got["status"] == status:
                return got
            await trio.sleep(0.05)


async def test_started_on_a_polled_on_b_cancelled_on_c_stops_on_a(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with workers(redis_server, tmp_path) as (a, b, c), httpx.AsyncClient() as http:
        task_id = await start_hold(http, a, "abc")
        await log_has(tmp_path, f"started abc {a.proc.pid}")
        got = await result(http, b, "tasks/get", taskId=task_id)
        assert got["status"] == "working" and got["taskId"] == task_id
        assert (await result(http, c, "tasks/cancel", taskId=task_id))["resultType"] == "complete"
        for w in (a, b, c):
            got = await result(http, w, "tasks/get", taskId=task_id)
            assert got["status"] == "cancelled", (w.port, got)
        await log_has(tmp_path, f"stopped abc {a.proc.pid}")  # the handler on A stopped


async def test_a_killed_worker_has_its_task_failed_within_the_lease(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with workers(redis_server, tmp_path) as (a, b, _c), httpx.AsyncClient() as http:
        task_id = await start_hold(http, a, "doomed")
        await log_has(tmp_path, f"started doomed {a.proc.pid}")
        a.proc.kill()  # SIGKILL: no goodbye, the lease runs out
        await trio.to_thread.run_sync(a.proc.wait, LIMIT)
        got = await until(http, b, task_id, "failed")
        assert got["statusMessage"] == "The worker running the task stopped (its lease expired)"
        assert got["error"]["code"] == -32603
        assert (tmp_path / "handlers.log").read_text().count("stopped doomed") == 0


async def test_redis_stopped_and_restarted_under_load(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with workers(redis_server, tmp_path) as ws, httpx.AsyncClient() as http:
        before = [await start_hold(http, w, f"before{i}") for i, w in enumerate(ws)]
        redis_server.stop()
        for round_ in range(3):
            for i, w in enumerate(ws):
                for method, params in [
                    ("tools/call", {"name": "quick", "arguments": {}}),
                    ("tasks/get", {"taskId": before[i]}),
                    ("tasks/cancel", {"taskId": before[(i + round_) % 3]}),
                ]:
                    response = await rpc(http, w, method, params)
                    assert response.status_code == 503, (method, response.text)
                    assert response.headers["retry-after"] == "1"
                    error = response.json()["error"]
                    assert (error["code"], error["message"]) == (-32603, "task store unavailable")
        assert all(w.proc.poll() is None for w in ws)  # no process exits
        redis_server.start()  # empty: each worker writes its running task again
        for i, w in enumerate(ws):
            with trio.fail_after(LIMIT):
                while (
                    await rpc(http, ws[(i + 1) % 3], "tasks/get", {"taskId": before[i]})
                ).status_code != 200:
                    await trio.sleep(0.05)
            quick = await result(http, w, "tools/call", name="quick", arguments={})
            assert quick["resultType"] == "task"
            done = await until(http, ws[(i + 2) % 3], quick["taskId"], "completed")
            assert done["result"]["content"] == [{"type": "text", "text": "done"}]
        assert all(w.proc.poll() is None for w in ws)


def test_redis_unreachable_at_start_is_one_line(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    argv = [sys.executable, "-m", "trio_mcp", "run", str(SERVER), "--transport", "http"]
    argv += ["--port", str(free_port())]
    env = dict(os.environ, TRIO_MCP_REDIS_URL=url, SCALEOUT_LOG=str(tmp_path / "log"))
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=LIMIT)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"trio-mcp: error: cannot reach Redis at {url} (TRIO_MCP_REDIS_URL): "
        f"Unable to establish a connection to 127.0.0.1:{url.split(':')[2].split('/')[0]}"
    ]


async def test_a_sentinel_failover_under_load(
    redis_sentinel: RedisSentinel, tmp_path: Path
) -> None:
    # The lease outlasts the failover (1.5 s before Sentinel acts, then the promotion):
    # the running task survives it, on the promoted replica.
    async with (
        workers(redis_sentinel, tmp_path, lease=30) as (a, b, c),
        httpx.AsyncClient() as http,
    ):
        task_id = await start_hold(http, a, "failover")
        await log_has(tmp_path, f"started failover {a.proc.pid}")
        await trio.to_thread.run_sync(redis_sentinel.sync)
        redis_sentinel.kill_primary()
        gap = 0
        with trio.fail_after(LIMIT):
            while True:
                promoted = await trio.to_thread.run_sync(redis_sentinel.promoted)
                response = await rpc(http, b, "tasks/get", {"taskId": task_id})
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                error = response.json()["error"]
                assert (error["code"], error["message"]) == (-32603, "task store unavailable")
                gap += not promoted
                await trio.sleep(0.05)
        assert gap >= 1  # requests made while Sentinel still named the dead primary
        assert await trio.to_thread.run_sync(redis_sentinel.promoted)
        assert response.json()["result"]["status"] == "working"  # replicated before the kill
        with trio.fail_after(LIMIT):  # every worker is served by the new primary
            for w in (a, b, c):
                while (await rpc(http, w, "tasks/get", {"taskId": task_id})).status_code != 200:
                    await trio.sleep(0.05)
        quick = await result(http, c, "tools/call", name="quick", arguments={})
        done = await until(http, a, quick["taskId"], "completed")
        assert done["result"]["content"] == [{"type": "text", "text": "done"}]
        # C's cancel reaches the handler on A (pub/sub made again there, or its next beat).
        with trio.fail_after(LIMIT):
            while (await rpc(http, c, "tasks/cancel", {"taskId": task_id})).status_code != 200:
                await trio.sleep(0.05)
        await log_has(tmp_path, f"stopped failover {a.proc.pid}")
        assert all(w.proc.poll() is None for w in (a, b, c))  # no process exits
