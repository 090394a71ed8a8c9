"""Peer: a minimal hand-written asyncio stdio loop, in the style of the seed tutorial.

Each request runs in its own task. No validation beyond what the handlers need,
no cancel scopes, stdlib ``json``. ``notifications/cancelled`` cancels that
request's task (no answer is sent). On stdin EOF it exits at once, abandoning
whatever is in flight.
"""

import asyncio
import json
import sys

import _cancel_log

PROTOCOL = "2025-06-18"
TOOLS = [
    {
        "name": "echo",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    {
        "name": "add",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
    {
        "name": "sleep",
        "inputSchema": {
            "type": "object",
            "properties": {"seconds": {"type": "number"}},
            "required": ["seconds"],
        },
    },
]


async def call_tool(name, args):
    if name == "echo":
        return str(args["text"])
    if name == "add":
        return str(args["a"] + args["b"])
    if name == "sleep":
        try:
            await asyncio.sleep(args["seconds"])
        except asyncio.CancelledError:
            _cancel_log.record()
            raise
        return "ok"
    raise KeyError(name)


async def handle(msg, write, tasks):
    rid = msg["id"]
    method = msg.get("method")
    params = msg.get("params") or {}
    try:
        if method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", PROTOCOL),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw-asyncio", "version": "0.1.0"},
            }
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call":
            try:
                text = await call_tool(params["name"], params.get("arguments") or {})
                result = {"content": [{"type": "text", "text": text}], "isError": False}
            except (KeyError, TypeError) as exc:
                result = {"content": [{"type": "text", "text": repr(exc)}], "isError": True}
        elif method == "ping":
            result = {}
        else:
            write({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": method}})
            return
        write({"jsonrpc": "2.0", "id": rid, "result": result})
    finally:
        tasks.pop(rid, None)


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)

    def write(message):
        transport.write(json.dumps(message).encode() + b"\n")

    tasks = {}
    while line := await reader.readline():
        msg = json.loads(line)
        if "id" in msg and "method" in msg:
            tasks[msg["id"]] = asyncio.create_task(handle(msg, write, tasks))
        elif msg.get("method") == "notifications/cancelled":
            task = tasks.pop((msg.get("params") or {}).get("requestId"), None)
            if task is not None:
                task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
