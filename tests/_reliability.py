"""Shared helpers for the reliability tests of issue 7 (bad input, faults, load).

Builds on ``tests/test_stdio_process.py``: the same :class:`ServerProcess` and the
same "stdout carries only JSON-RPC lines" check, plus a spawn that takes
arguments and an isolated process group, and a few probes (RSS, liveness).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from test_stdio_process import ROOT, ServerProcess, check_jsonrpc_line, spawn

SERVERS = Path(__file__).resolve().parent / "servers"
FAULTY = SERVERS / "faulty_server.py"
HELLO = ROOT / "examples" / "hello.py"
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}

__all__ = [
    "FAULTY",
    "HELLO",
    "LEGACY",
    "MODERN",
    "MODERN_META",
    "ServerProcess",
    "alive",
    "call",
    "check_jsonrpc_line",
    "rss_kib",
    "spawn_args",
    "tool_call",
]


def tool_call(rid: Any, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """A legacy-era ``tools/call`` request message."""
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }


async def call(server: ServerProcess, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """Call a tool and return its structured content (or its text)."""
    reply = await server.request("tools/call", {"name": name, "arguments": arguments or {}})
    result = reply["result"]
    if "structuredContent" in result:
        sc = result["structuredContent"]
        return sc.get("result", sc) if isinstance(sc, dict) and len(sc) == 1 else sc
    return result["content"][0]["text"]


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB, read from /proc (0 if unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def spawn_args(
    script: Path, *args: str, env: dict[str, str] | None = None
) -> AbstractAsyncContextManager[ServerProcess]:
    """``test_stdio_process.spawn`` with arguments: kills the server if left running."""
    return spawn(script, *args, env=env)
