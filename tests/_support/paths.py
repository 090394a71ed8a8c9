"""Where things are: the repository, its examples, and the test servers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVERS = ROOT / "tests" / "servers"

HELLO = EXAMPLES / "hello.py"
EVERYTHING = EXAMPLES / "everything.py"
SEED = EXAMPLES / "seed_server.py"
SEED_TYPED = EXAMPLES / "seed_server_typed.py"  # the same server, pydantic + dataclasses
ASYNCIO_HTTP = EXAMPLES / "asyncio_http.py"

FAULTY = SERVERS / "faulty_server.py"
SLOW = SERVERS / "slow_server.py"
SMALL = SERVERS / "small_limit.py"
FASTMCP_PORT = EXAMPLES / "fastmcp_port.py"  # middleware, a mount and a proxy of hello.py
