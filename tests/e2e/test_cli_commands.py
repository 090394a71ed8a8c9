"""``trio-mcp list / call / read / prompt / install`` as a user runs them, on real processes.

Targets: a file, ``file.py:factory``, ``module:attr``, a command line, a URL;
servers: trio_mcp's, the official SDK's and fastmcp's, over stdio and HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVERS = ROOT / "tests" / "servers"
HELLO = str(EXAMPLES / "hello.py")
EVERYTHING = str(EXAMPLES / "everything.py")
SCRIPT = str(Path(sys.executable).with_name("trio-mcp"))


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=120, cwd=cwd, input=""
    )


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m trio_mcp``: the entries name exactly this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "trio_mcp", *args], capture_output=True, text=True, timeout=120
    )


def test_list_covers_tools_resources_templates_and_prompts() -> None:
    out = run("list", f"{EVERYTHING}:build")  # a factory function
    assert out.returncode == 0, out.stderr
    for line in (
        "tools:",
        "    greet(name: string)",
        "resources:",
        "    test://static-text",
        "resource templates:",
        "    test://template/{id}/data",
        "prompts:",
        "    test_prompt_with_arguments(arg1, arg2)",
    ):
        assert line in out.stdout.splitlines(), line
    raw = json.loads(run("list", f"{EVERYTHING}:build", "--json").stdout)
    assert set(raw) == {"tools", "resources", "resourceTemplates", "prompts"}


def test_read_and_prompt() -> None:
    out = run("read", f"{EVERYTHING}:build", "test://static-text")
    assert (out.returncode, out.stdout.strip()) == (
        0,
        "This is the content of the static text resource.",
    )
    out = run("read", f"{EVERYTHING}:build", "test://static-binary")
    assert out.returncode == 0 and out.stdout.startswith("[blob image/png,")
    out = run("prompt", f"{EVERYTHING}:build", "test_prompt_with_arguments", "arg1=a", "arg2=b")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "user:"
    assert "a" in out.stdout and "b" in out.stdout


def test_module_target_and_a_failing_tool() -> None:
    out = run("call", "hello:server", "add", "a=2", "b=3", cwd=EXAMPLES)
    assert (out.returncode, out.stdout.strip()) == (0, "5.0")
    out = run("call", f"{EVERYTHING}:build", "test_error_handling")  # an isError result
    assert out.returncode == 1
    assert out.stderr.startswith("trio-mcp: error: tool test_error_handling failed: Error")
    assert len(out.stderr.strip().splitlines()) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_peer(command: list[str], port_args: list[str]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PEER_CANCEL_LOG": os.devnull}
    proc = subprocess.Popen(
        [*command, *port_args, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the server exited while starting"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("peer", ["sdk_peer", "fastmcp_peer"])
def test_call_other_servers_over_stdio(peer: str) -> None:
    command = f"{sys.executable} {SERVERS / f'{peer}.py'}"
    out = run("call", command, "echo", "text=42")
    assert (out.returncode, out.stdout.strip()) == (0, "42"), out.stderr
    listed = run("list", command)
    assert listed.returncode == 0 and "echo(text: string)" in listed.stdout


@pytest.mark.parametrize("peer", ["sdk_peer", "fastmcp_peer", "trio_mcp"])
def test_call_servers_over_http(peer: str) -> None:
    if peer == "trio_mcp":
        command, port_args = [SCRIPT, "run", HELLO], ["--transport", "http", "--port"]
    else:
        command, port_args = [sys.executable, str(SERVERS / f"{peer}.py")], ["http"]
    with http_peer(command, port_args) as url:
        out = run("call", url, "echo", "text=over http")
        assert (out.returncode, out.stdout.strip()) == (0, "over http"), out.stderr
        legacy = run("call", url, "echo", "text=legacy", "--era", "legacy")
        assert (legacy.returncode, legacy.stdout.strip()) == (0, "legacy"), legacy.stderr


@pytest.mark.parametrize(
    ("client", "key"),
    [("cursor", "mcpServers"), ("vscode", "servers"), ("gemini", "mcpServers")],
)
def test_install_more_clients_with_env(tmp_path: Path, client: str, key: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({key: {"other": {"command": "x"}}}))
    out = run_module(
        "install", client, HELLO, "--env", "API_KEY=s3cret", "--write", "--config", str(config)
    )
    assert out.returncode == 0, out.stderr
    entries = json.loads(config.read_text())[key]
    assert set(entries) == {"other", "hello"}
    entry = entries["hello"]
    assert entry["command"] == sys.executable
    assert entry["args"] == ["-m", "trio_mcp", "run", HELLO]
    assert entry["env"] == {"API_KEY": "s3cret"}
    if client == "vscode":
        assert entry["type"] == "stdio"


def test_install_prints_without_write() -> None:
    out = run_module("install", "claude-code", HELLO, "--env", "A=1")
    assert out.stdout.strip() == (
        f"claude mcp add hello -e A=1 -- {sys.executable} -m trio_mcp run {HELLO}"
    )
    out = run_module("install", "vscode", HELLO)
    assert out.stdout.startswith("code --add-mcp ")
    bad = run_module("install", "cursor", HELLO, "--env", "oops")
    assert bad.returncode == 2 and "--env 'oops': expected KEY=VALUE" in bad.stderr
