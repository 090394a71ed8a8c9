"""The trio-mcp console script, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _support import paths

HELLO = str(paths.HELLO)
ROOT = paths.ROOT
SCRIPT = str(Path(sys.executable).with_name("trio-mcp"))


def run(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT
    )


def test_list_and_call() -> None:
    listed = run("list", HELLO)
    assert listed.returncode == 0, listed.stderr
    assert "add(a: number, b: number)" in listed.stdout
    raw = run("list", HELLO, "--json")
    assert [t["name"] for t in json.loads(raw.stdout)["tools"]] == ["add", "echo"]
    called = run("call", HELLO, "add", "a=1", "b=2.5")
    assert (called.returncode, called.stdout.strip()) == (0, "3.5")
    # text is a string parameter: the value is taken as it is, JSON-looking or not
    echoed = run("call", HELLO, "echo", 'text={"not": "a string"}', "--json")
    assert echoed.returncode == 0, echoed.stderr
    assert json.loads(echoed.stdout)["content"][0]["text"] == '{"not": "a string"}'


def test_call_any_server_by_command_line() -> None:
    command = f"{sys.executable} {HELLO}"
    called = run("call", command, "echo", "text=hi")
    assert (called.returncode, called.stdout.strip()) == (0, "hi")


def test_python_dash_m_is_the_same_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trio_mcp", "call", HELLO, "add", "a=2", "b=2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode, out.stdout.strip()) == (0, "4.0")


def test_run_serves_stdio_with_flags() -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t"},
        },
    }
    out = subprocess.run(
        [
            SCRIPT,
            "run",
            f"{HELLO}:server",
            "--timeout",
            "5",
            "--max-in-flight",
            "3",
            "--log-level",
            "WARNING",
        ],
        input=json.dumps(init) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"]["serverInfo"]["name"] == "demo"


@pytest.mark.parametrize(
    ("content", "target_suffix", "message"),
    [
        ("raise RuntimeError('boom')\n", "", "failed to import: RuntimeError: boom"),
        ("x = 1\n", "", "no trio_mcp.Server object found"),
        ("x = 1\n", ":nope", "has no attribute 'nope'"),
        ("x = 1\n", ":x", "is a int, not a trio_mcp.Server"),
    ],
)
def test_bad_server_files_give_one_line_errors(
    tmp_path: Path, content: str, target_suffix: str, message: str
) -> None:
    path = tmp_path / "srv.py"
    path.write_text(content)
    out = run("run", f"{path}{target_suffix}")
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    debug = run("run", f"{path}{target_suffix}", "--debug")
    assert debug.returncode == 2
    if "failed to import" in message:
        assert "Traceback" in debug.stderr


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    out = subprocess.run(
        [SCRIPT, "run", HELLO],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TRIO_MCP_MAX_IN_FLIGHT": "lots", "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "TRIO_MCP_MAX_IN_FLIGHT" in out.stderr and "integer" in out.stderr


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m trio_mcp``: its sys.executable is exactly this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "trio_mcp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_install_claude_code_and_desktop(tmp_path: Path) -> None:
    run = run_module  # the entry names the interpreter the command runs under
    printed = run("install", "claude-code", HELLO, "--name", "demo")
    assert printed.returncode == 0
    assert printed.stdout.strip() == (
        f"claude mcp add demo -- {sys.executable} -m trio_mcp run {HELLO}"
    )
    config = tmp_path / ".mcp.json"
    config.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}}))
    written = run("install", "claude-code", HELLO, "--write", "--config", str(config))
    assert written.returncode == 0, written.stderr
    data = json.loads(config.read_text())
    assert set(data["mcpServers"]) == {"other", "hello"}
    assert data["mcpServers"]["hello"] == {
        "command": sys.executable,
        "args": ["-m", "trio_mcp", "run", HELLO],
    }
    desktop = tmp_path / "claude_desktop_config.json"
    run("install", "claude-desktop", HELLO, "--write", "--config", str(desktop))
    assert "hello" in json.loads(desktop.read_text())["mcpServers"]
