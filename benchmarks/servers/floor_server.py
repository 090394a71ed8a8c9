"""Peer: the floor, the cheapest correct responder we could write in Python.

Blocking ``os.read`` on fd 0, ``orjson``, answers written straight to fd 1, one
``os.write`` per batch of input. It shows what framing and parsing alone cost.

``sleep`` is supported without threads or an event loop: pending sleeps sit in
a heap of deadlines, and while any are pending the loop waits in
``select(timeout=next deadline)`` instead of a plain blocking read.
``notifications/cancelled`` drops a pending sleep (and logs it). On stdin EOF
it exits at once, abandoning pending sleeps.
"""

import heapq
import os
import select
import time

import _cancel_log
import orjson

_dumps = orjson.dumps
_loads = orjson.loads
_NL = orjson.OPT_APPEND_NEWLINE


def _text(rid, text):
    return _dumps(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "result": {"content": [{"type": "text", "text": text}], "isError": False},
        },
        option=_NL,
    )


def main():
    rfd, wfd = 0, 1
    buf = b""
    timers = []  # (deadline, seq, id)
    live = {}  # id -> seq of its pending sleep
    seq = 0
    while True:
        out = []
        if timers:
            timeout = max(0.0, timers[0][0] - time.monotonic())
            ready, _, _ = select.select([rfd], [], [], timeout)
            data = os.read(rfd, 1 << 20) if ready else None
        else:
            data = os.read(rfd, 1 << 20)
        if data == b"":
            return
        if data:
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not line:
                    continue
                msg = _loads(line)
                method = msg.get("method")
                rid = msg.get("id")
                if rid is None:
                    if method == "notifications/cancelled":
                        cid = msg["params"].get("requestId")
                        if live.pop(cid, None) is not None:
                            _cancel_log.record()
                    continue
                if method == "tools/call":
                    params = msg["params"]
                    name = params["name"]
                    args = params.get("arguments") or {}
                    if name == "echo":
                        out.append(_text(rid, args["text"]))
                    elif name == "add":
                        out.append(_text(rid, str(args["a"] + args["b"])))
                    elif name == "sleep":
                        seq += 1
                        live[rid] = seq
                        heapq.heappush(timers, (time.monotonic() + args["seconds"], seq, rid))
                    else:
                        out.append(
                            _dumps(
                                {
                                    "jsonrpc": "2.0",
                                    "id": rid,
                                    "error": {"code": -32602, "message": "Unknown tool"},
                                },
                                option=_NL,
                            )
                        )
                elif method == "initialize":
                    result = {
                        "protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "floor", "version": "0.1.0"},
                    }
                    out.append(_dumps({"jsonrpc": "2.0", "id": rid, "result": result}, option=_NL))
                else:
                    out.append(_dumps({"jsonrpc": "2.0", "id": rid, "result": {}}, option=_NL))
        if timers:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                _, s, rid = heapq.heappop(timers)
                if live.get(rid) == s:
                    del live[rid]
                    out.append(_text(rid, "ok"))
        if out:
            data = b"".join(out)
            while data:
                data = data[os.write(wfd, data) :]


if __name__ == "__main__":
    main()
