"""``trio-mcp install CLIENT TARGET``: register a server with an MCP client application.

The entry runs the server with the interpreter ``trio-mcp`` runs under
(``python -m trio_mcp run /abs/path/server.py``), with ``--env KEY=VALUE``
variables. Without ``--write`` the command or JSON to add is printed; with
it, the entry is merged into the client's configuration file (``--config``
to choose another), keeping every other entry.

| client | printed | written to (default) | JSON shape |
|---|---|---|---|
| claude-code | ``claude mcp add`` | ``./.mcp.json`` | ``mcpServers`` |
| claude-desktop | JSON | Claude Desktop's config | ``mcpServers`` |
| cursor | JSON | ``./.cursor/mcp.json`` | ``mcpServers`` |
| vscode | ``code --add-mcp`` | ``./.vscode/mcp.json`` | ``servers`` (``type: stdio``) |
| gemini | JSON | ``~/.gemini/settings.json`` | ``mcpServers`` |
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ._targets import EXIT_FAILED, EXIT_OK, CliError, load_server

__all__ = ["CLIENTS", "cmd_install"]

CLIENTS = ("claude-code", "claude-desktop", "cursor", "vscode", "gemini")


def claude_desktop_config_path() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library/Application Support/Claude/claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Claude/claude_desktop_config.json"
    return Path.home() / ".config/Claude/claude_desktop_config.json"


def _default_config(client: str) -> Path:
    return {
        "claude-code": Path(".mcp.json"),
        "cursor": Path(".cursor/mcp.json"),
        "vscode": Path(".vscode/mcp.json"),
        "gemini": Path.home() / ".gemini/settings.json",
    }.get(client) or claude_desktop_config_path()


def _env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            raise CliError(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def cmd_install(args: argparse.Namespace) -> int:
    load_server(args.target)  # fail now, with a clear message, rather than in the client
    spec, colon, attr = args.target.partition(":")
    if spec.endswith(".py") or os.sep in spec:
        name = args.name or Path(spec).stem
        target = str(Path(spec).resolve()) + (colon + attr)
    else:
        name = args.name or spec.rpartition(".")[2]
        target = args.target
    env = _env(args.env or [])
    entry: dict[str, Any] = {"command": sys.executable, "args": ["-m", "trio_mcp", "run", target]}
    if env:
        entry["env"] = env
    if args.client == "vscode":
        entry = {"type": "stdio", **entry}
    config_path = Path(args.config) if args.config else _default_config(args.client)
    if not args.write:
        if args.client == "claude-code":
            flags = [f for key, value in env.items() for f in ("-e", f"{key}={value}")]
            command = ["claude", "mcp", "add", name, *flags, "--", entry["command"], *entry["args"]]
            print(shlex.join(command), file=sys.stdout)
        elif args.client == "vscode":
            line = shlex.join(["code", "--add-mcp", json.dumps({"name": name, **entry})])
            print(line, file=sys.stdout)
        else:
            print(json.dumps({"mcpServers": {name: entry}}, indent=2), file=sys.stdout)
            print(f"# add this to {config_path}, or run again with --write", file=sys.stderr)
        return EXIT_OK
    config: dict[str, Any] = {}
    try:
        if config_path.exists():
            try:
                config = json.loads(config_path.read_text() or "{}")
            except ValueError as exc:
                raise CliError(f"{config_path}: not valid JSON ({exc}); not modified") from exc
            if not isinstance(config, dict):
                raise CliError(f"{config_path}: not a JSON object; not modified")
        key = "servers" if args.client == "vscode" else "mcpServers"
        config.setdefault(key, {})[name] = entry
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    except OSError as exc:
        why = exc.strerror or str(exc)
        where = (
            f" ({exc.filename})" if exc.filename and str(exc.filename) != str(config_path) else ""
        )
        raise CliError(f"cannot write {config_path}: {why}{where}", EXIT_FAILED) from exc
    print(f"wrote server {name!r} to {config_path}", file=sys.stderr)
    return EXIT_OK
