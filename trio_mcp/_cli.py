"""The ``trio-mcp`` command (also ``python -m trio_mcp``).

Commands::

    trio-mcp run path/to/server.py[:server] | module:server  [--transport stdio|http] ...
    trio-mcp list <server.py | "command args">               [--json]
    trio-mcp call <server.py | "command args"> TOOL key=value ... [--json]
    trio-mcp install claude-code|claude-desktop path/to/server.py [--name N] [--write]

Exit codes: 0 success; 1 the server or the tool failed (a tool's ``isError``
result included); 2 bad usage or configuration (a file that does not import,
no server object, a bad setting); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A one-line, user-facing error; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ loading


def load_server(target: str) -> Any:
    """Import ``path.py[:name]`` or ``module[:name]`` and return its server object.

    Without ``:name``, the object named ``server``, ``mcp`` or ``app`` is used,
    or the only :class:`~trio_mcp.Server` in the module.
    """
    from . import Server

    spec, _, attr = target.partition(":")
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise CliError(f"{spec}: no such file")
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise CliError(f"{spec}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        try:
            module_spec.loader.exec_module(module)
        except SystemExit as exc:
            raise CliError(f"{spec}: exited while importing (code {exc.code})") from exc
        except Exception as exc:
            raise CliError(f"{spec}: failed to import: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(spec)
        except Exception as exc:
            raise CliError(f"{spec}: failed to import: {type(exc).__name__}: {exc}") from exc
    if attr:
        if not hasattr(module, attr):
            raise CliError(f"{spec}: has no attribute {attr!r}")
        server = getattr(module, attr)
    else:
        found = [v for v in vars(module).values() if isinstance(v, Server)]
        named = [
            getattr(module, n)
            for n in ("server", "mcp", "app")
            if isinstance(getattr(module, n, None), Server)
        ]
        if named:
            server = named[0]
        elif len(found) == 1:
            server = found[0]
        elif not found:
            raise CliError(
                f"{spec}: no trio_mcp.Server object found (name it `server`, or use {spec}:NAME)"
            )
        else:
            raise CliError(f"{spec}: several Server objects; choose one with {spec}:NAME")
    if not isinstance(server, Server):
        raise CliError(f"{target}: is a {type(server).__name__}, not a trio_mcp.Server")
    return server


# ---------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    server = load_server(args.target)
    server.configure(
        "command line",
        timeout=args.timeout,
        max_in_flight=args.max_in_flight,
        log_level=args.log_level,
        http_host=args.host,
        http_port=args.port,
    )
    logging.basicConfig(
        stream=sys.stderr,
        level=server.settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.transport == "http":
            server.run(
                transport="http", host=server.settings.http_host, port=server.settings.http_port
            )
        else:
            server.run()
    except (TypeError, ValueError) as exc:
        if "transport" in str(exc):
            raise CliError(f"--transport {args.transport}: {exc}") from exc
        raise
    return EXIT_OK


def server_command(target: str) -> list[str]:
    """A trio_mcp server file runs under this interpreter; anything else is a command line."""
    head = target.partition(":")[0]
    if head.endswith(".py") and Path(head).is_file():
        return [sys.executable, "-m", "trio_mcp", "run", target]
    return shlex.split(target)


def parse_arguments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON is used as JSON, else as a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"argument {pair!r}: expected key=value")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


async def _with_client(target: str, action: Any) -> Any:
    from .client import open_process_client

    command = server_command(target)
    try:
        async with open_process_client(command) as client:
            return await action(client)
    except FileNotFoundError as exc:
        raise CliError(f"cannot start {command[0]!r}: {exc.strerror}") from exc


def cmd_list(args: argparse.Namespace) -> int:
    import trio

    tools = trio.run(_with_client, args.server, lambda c: c.list_tools())
    if args.json:
        print(json.dumps(tools, indent=2), file=sys.stdout)
        return EXIT_OK
    for tool in tools:
        props = tool.get("inputSchema", {}).get("properties", {})
        required = set(tool.get("inputSchema", {}).get("required", []))
        params = ", ".join(
            f"{name}{'' if name in required else '?'}: {schema.get('type', 'any')}"
            for name, schema in props.items()
        )
        print(f"{tool['name']}({params})", file=sys.stdout)
        if tool.get("description"):
            print(f"    {tool['description'].splitlines()[0]}", file=sys.stdout)
    return EXIT_OK


def cmd_call(args: argparse.Namespace) -> int:
    import trio

    from ._errors import McpError

    arguments = parse_arguments(args.arguments)

    async def call(client: Any) -> dict[str, Any]:
        result: dict[str, Any] = await client.call_tool(args.tool, arguments)
        return result

    try:
        result = trio.run(_with_client, args.server, call)
    except McpError as exc:
        raise CliError(f"error {exc.code}: {exc.message}", EXIT_FAILED) from exc
    if args.json:
        print(json.dumps(result, indent=2), file=sys.stdout)
    else:
        for block in result.get("content", []):
            if block.get("type") == "text":
                print(block["text"], file=sys.stdout)
            else:
                kind = block.get("mimeType", block.get("uri", ""))
                print(f"[{block.get('type')} {kind}]", file=sys.stdout)
        if "structuredContent" in result and not result.get("content"):
            print(json.dumps(result["structuredContent"], indent=2), file=sys.stdout)
    return EXIT_FAILED if result.get("isError") else EXIT_OK


def claude_desktop_config_path() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library/Application Support/Claude/claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Claude/claude_desktop_config.json"
    return Path.home() / ".config/Claude/claude_desktop_config.json"


def cmd_install(args: argparse.Namespace) -> int:
    load_server(args.target)  # fail now, with a clear message, rather than in the client
    path = Path(args.target.partition(":")[0]).resolve()
    name = args.name or path.stem
    target = str(path) + (":" + args.target.partition(":")[2] if ":" in args.target else "")
    entry: dict[str, Any] = {"command": sys.executable, "args": ["-m", "trio_mcp", "run", target]}
    if args.client == "claude-code":
        if not args.write:
            command = ["claude", "mcp", "add", name, "--", entry["command"], *entry["args"]]
            print(shlex.join(command), file=sys.stdout)
            return EXIT_OK
        config_path = Path(args.config or ".mcp.json")
    else:
        config_path = Path(args.config) if args.config else claude_desktop_config_path()
        if not args.write:
            print(json.dumps({"mcpServers": {name: entry}}, indent=2), file=sys.stdout)
            print(f"# add this to {config_path}, or run again with --write", file=sys.stderr)
            return EXIT_OK
    config: dict[str, Any] = {}
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text() or "{}")
        except ValueError as exc:
            raise CliError(f"{config_path}: not valid JSON ({exc}); not modified") from exc
    config.setdefault("mcpServers", {})[name] = entry
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote server {name!r} to {config_path}", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="trio-mcp", description="Run and poke MCP servers.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    run = add("run", "serve a trio_mcp server (stdio by default)")
    run.add_argument("target", help="path/to/server.py[:server] or module:server")
    run.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    run.add_argument("--host", help="HTTP host (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="HTTP port (default 8000)")
    run.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    run.add_argument("--timeout", type=float, help="default request deadline, seconds")
    run.add_argument("--max-in-flight", type=int, help="concurrent requests per connection")
    run.set_defaults(func=cmd_run)

    lst = add("list", "list a server's tools")
    lst.add_argument("server", help='server file, or a quoted command line ("npx some-server")')
    lst.add_argument("--json", action="store_true", help="print the raw tools/list result")
    lst.set_defaults(func=cmd_list)

    call = add("call", "call a tool: key=value arguments (JSON values allowed)")
    call.add_argument("server", help="server file, or a quoted command line")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", metavar="key=value")
    call.add_argument("--json", action="store_true", help="print the raw CallToolResult")
    call.set_defaults(func=cmd_call)

    install = add("install", "register a server with Claude Code or Claude Desktop")
    install.add_argument("client", choices=["claude-code", "claude-desktop"])
    install.add_argument("target", help="path/to/server.py[:server]")
    install.add_argument("--name", help="server name in the client (default: the file's stem)")
    install.add_argument(
        "--write", action="store_true", help="write the config file instead of printing"
    )
    install.add_argument("--config", help="config file to write (default: .mcp.json / Claude's)")
    install.set_defaults(func=cmd_install)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script. Returns the exit status."""
    from ._app import SettingsError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (CliError, SettingsError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"trio-mcp: error: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
