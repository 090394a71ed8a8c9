"""Issue 14's reproduction list, against the real ``trio-mcp`` / ``python -m trio_mcp``.

Every failure is one line on stderr (``trio-mcp: error: ...``), no traceback,
with the documented exit code: 1 when the server or the tool failed, 2 for bad
usage or configuration. ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from trio_mcp._cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HELLO = str(EXAMPLES / "hello.py")
SCRIPT = str(Path(sys.executable).with_name("trio-mcp"))
INIT = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t"},
        },
    }
)


def run(
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    module: bool = False,
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "trio_mcp"] if module else [SCRIPT]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin if stdin is not None else "",
    )


def one_line(out: subprocess.CompletedProcess[str], code: int, *parts: str) -> str:
    """The run failed with ``code`` and exactly one line on stderr holding ``parts``."""
    assert out.returncode == code, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("trio-mcp"), lines[0]
    assert "Traceback" not in out.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def server_file(tmp_path: Path, text: str, name: str = "srv.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_unknown_tool_is_one_line() -> None:
    out = run("call", HELLO, "nosuch")
    one_line(out, 1, "error -32602", "Unknown tool: nosuch")
    debug = run("call", HELLO, "nosuch", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_file_without_a_server_object_runs_as_a_script() -> None:
    out = run("list", str(EXAMPLES / "seed_server.py"))
    assert out.returncode == 0, out.stderr
    assert "add_numbers(a: number, b: number)" in out.stdout


def test_a_file_that_serves_nothing_and_one_that_does_not_import(tmp_path: Path) -> None:
    one_line(run("list", server_file(tmp_path, "x = 1\n")), 1, "the server exited with code 0")
    broken = server_file(tmp_path, "raise RuntimeError('boom')\n")
    one_line(run("list", broken), 2, "failed to import: RuntimeError: boom")
    one_line(run("list", str(tmp_path / "missing.py")), 2, "missing.py: no such file")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "print('Welcome to my server!', flush=True)\nimport sys\nfor _ in sys.stdin: pass\n",
            "printed something that is not JSON on stdout: 'Welcome to my server!'",
        ),
        (
            "import sys\nfor _ in sys.stdin: print(42, flush=True)\n",
            "the server sent 42, which is not a JSON-RPC message",
        ),
        (
            "import sys\nprint('fatal: no config', file=sys.stderr)\nsys.exit(3)\n",
            "the server exited with code 3; its stderr ends: fatal: no config",
        ),
    ],
)
def test_a_misbehaving_server_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    command = f"{sys.executable} {server_file(tmp_path, text)}"
    one_line(run("list", command), 1, message)


def test_a_silent_server_and_timeout(tmp_path: Path) -> None:
    silent = server_file(tmp_path, "import sys\nfor _ in sys.stdin: pass\n")
    out = run("call", f"{sys.executable} {silent}", "x", "--timeout", "1")
    one_line(out, 1, "no answer to server/discover or initialize within 1 s")


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run("run", HELLO, "--transport", "http", "--port", str(port))
    one_line(out, 1, f"cannot listen on 127.0.0.1:{port}: address already in use")


def test_port_range_is_validated() -> None:
    out = run("run", HELLO, "--transport", "http", env={"TRIO_MCP_HTTP_PORT": "99999"})
    one_line(out, 2, "TRIO_MCP_HTTP_PORT", "0..65535", "99999")
    one_line(run("run", HELLO, "--transport", "http", "--port", "99999"), 2, "--port", "99999")


def test_run_module_target_from_its_directory() -> None:
    for module in (False, True):  # trio-mcp and python -m trio_mcp: the same command
        out = run("run", "hello:server", cwd=EXAMPLES, stdin=INIT + "\n", module=module)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["result"]["serverInfo"]["name"] == "demo"


def test_call_coerces_by_the_schema_and_json_goes_anywhere() -> None:
    out = run("call", HELLO, "echo", "text=42")
    assert (out.returncode, out.stdout.strip()) == (0, "42")
    out = run("call", HELLO, "add", "--json", "a=1", "b=2")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["content"][0]["text"] == "3.0"
    one_line(run("call", HELLO, "add", "a=one", "b=2"), 2, "argument a: expected number")


def test_list_shows_literal_parameters(tmp_path: Path) -> None:
    text = (
        "from typing import Literal\nfrom trio_mcp import Server\nserver = Server('t')\n"
        "@server.tool()\ndef convert(value: float, unit: Literal['c', 'f'] = 'c') -> float:\n"
        "    return value\n"
    )
    out = run("list", server_file(tmp_path, text))
    assert out.returncode == 0, out.stderr
    assert 'convert(value: number, unit?: "c"|"f")' in out.stdout


def test_version() -> None:
    out = run("--version")
    assert (out.returncode, out.stdout.strip()) == (0, "trio-mcp 0.1.0")


MISSPELT = "TRIO_MCP_TIMOUT is not a setting; ignored (did you mean TRIO_MCP_TIMEOUT?)"


def test_a_misspelt_setting_is_warned_about_once() -> None:
    out = run("run", HELLO, env={"TRIO_MCP_TIMOUT": "5"}, stdin=INIT + "\n")
    assert out.returncode == 0
    assert out.stderr.count(MISSPELT) == 1  # by the server's log, not twice
    assert f"WARNING trio_mcp: {MISSPELT}" in out.stderr
    out = run("list", HELLO, env={"TRIO_MCP_TIMOUT": "5"})
    assert out.returncode == 0
    assert f"trio-mcp: warning: {MISSPELT}" in out.stderr


def test_a_misspelt_setting_is_warned_about_without_the_cli() -> None:
    env = {**os.environ, "TRIO_MCP_TIMOUT": "5"}
    out = subprocess.run(
        [sys.executable, HELLO],
        input=INIT + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count(MISSPELT) == 1


def test_a_bad_setting_is_a_settings_error_not_an_import_failure() -> None:
    out = run("list", HELLO, env={"TRIO_MCP_MAX_IN_FLIGHT": "lots"})
    line = one_line(out, 2, "TRIO_MCP_MAX_IN_FLIGHT", "integer", "'lots'")
    assert "failed to import" not in line


def test_the_http_start_up_log_names_the_logger_once() -> None:
    proc = subprocess.Popen(
        [SCRIPT, "run", HELLO, "--transport", "http", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "serving MCP over HTTP" in line:
                break
        assert " trio_mcp: serving MCP over HTTP at http://127.0.0.1:" in line
        assert "trio_mcp: trio_mcp:" not in line
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def test_proxy_errors_are_one_line() -> None:
    exits = f"{sys.executable} -c \"import sys; sys.exit('no config')\""
    one_line(
        run("proxy", exits),
        1,
        "cannot reach the upstream server: the server exited with code 1",
        "its stderr ends: no config",
    )
    one_line(run("proxy", "/no/such/program"), 1, "cannot start '/no/such/program'")
    one_line(run("proxy", ""), 2, "proxy '': an empty command line")
    one_line(run("proxy", HELLO, "--transport", "tcp"), 2, "invalid choice: 'tcp'")


def test_proxy_serves_its_upstream_over_stdio() -> None:
    out = run("call", f"{SCRIPT} proxy '{sys.executable} {HELLO}'", "add", "a=1", "b=2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"


def test_a_bad_grace_is_one_line() -> None:
    one_line(run("run", HELLO, "--grace", "-1"), 2, "command line", "grace")
    one_line(run("run", HELLO, "--grace", "soon"), 2, "--grace", "'soon'")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["list", "http://[bad"], 2, "http://[bad: not a valid URL (Invalid IPv6 URL)"),
        (["list", "http://"], 2, "http://: not a valid URL (no host)"),
        (["call", "https://h:99999/mcp", "t"], 2, "https://h:99999/mcp: not a valid URL (Port"),
        (["proxy", "http://[bad"], 2, "http://[bad: not a valid URL"),
        (["list", "'unbalanced"], 2, '"\'unbalanced": No closing quotation'),
        (["run", HELLO, "--workers", "2"], 2, "--workers is for --transport http"),
        (
            ["run", HELLO, "--transport", "http", "--workers", "2", "--http-server", "hypercorn"],
            2,
            "several workers need the native HTTP server",
        ),
    ],
)
def test_bad_targets_and_flags_are_one_line_without_serving(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith(f"trio-mcp: error: {message}"), err
    assert err.count("\n") == 1 and "unexpected" not in err


def test_an_unresolvable_host_is_one_line() -> None:
    out = run("run", HELLO, "--transport", "http", "--host", "nosuchhost.invalid", "--port", "0")
    one_line(out, 1, "cannot listen on nosuchhost.invalid:0: ")


def test_dev_refuses_a_busy_port_and_a_bad_host_at_once() -> None:
    # a subprocess with a timeout: a dev that does not refuse would serve (fail) forever
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run("dev", HELLO, "--port", str(port))
    one_line(out, 1, f"cannot listen on 127.0.0.1:{port}: address already in use")
    out = run("dev", HELLO, "--host", "nosuchhost.invalid")
    one_line(out, 1, "cannot listen on nosuchhost.invalid:8000: ")


def test_call_and_prompt_name_only_what_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["call", HELLO])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: tool (" in err  # not key=value: optional


def test_install_into_an_unwritable_place_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = blocker / "mcp.json"  # its folder is a file
    assert main(["install", "cursor", HELLO, "--write", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"trio-mcp: error: cannot write {config}: "), err
    assert err.count("\n") == 1
