"""Protocol versions and the raw JSON-RPC messages the pipe-level tests write."""

from __future__ import annotations

from typing import Any

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def tool_call(rid: Any, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """A legacy-era ``tools/call`` request message."""
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }
