"""The ``trio-mcp`` command (also ``python -m trio_mcp``).

Commands::

    trio-mcp run TARGET [--transport stdio|http] [--host H] [--port N] [--workers N] ...
    trio-mcp dev TARGET [--port N] [--watch PATH] [--grace S]  serve over HTTP, restart on changes
    trio-mcp list TARGET                      tools, resources, templates and prompts
    trio-mcp call TARGET TOOL [key=value ...] values coerced by the tool's input schema
    trio-mcp read TARGET URI
    trio-mcp prompt TARGET NAME [key=value ...]
    trio-mcp install claude-code|claude-desktop|cursor|vscode|gemini TARGET [--env K=V] [--write]
    trio-mcp proxy "COMMAND LINE"|URL [--transport stdio|http] [--port N] [--era ...] ...
    trio-mcp --version

``TARGET`` is a server file (``server.py``, ``server.py:NAME``), a module
(``package.module:NAME``; ``NAME`` may be a factory function), and for the
client commands also a quoted command line or an ``http(s)://`` URL.

Every failure is one line on stderr, ``trio-mcp: error: <cause>`` (``--debug``
adds the traceback). Exit codes: 0 success; 1 the server or the tool failed
(a tool's ``isError`` result, a JSON-RPC error, a server that exits, misbehaves
or does not answer within ``--timeout``, a port in use); 2 bad usage or
configuration (bad arguments, a file that does not import, no server object, a
bad setting); 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import ssl
import sys
import traceback
from typing import Any, NoReturn

from ._commands import cmd_call, cmd_list, cmd_prompt, cmd_read
from ._dev import add_dev_command, cmd_dev
from ._install import CLIENTS, cmd_install
from ._targets import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, check_url, load_server

__all__ = ["CliError", "build_parser", "load_server", "main"]


class _OneName(logging.Filter):
    """``trio_mcp: serving...`` under the ``trio_mcp`` logger prints the name once."""

    def filter(self, record: logging.LogRecord) -> bool:
        prefix = f"{record.name}: "
        if isinstance(record.msg, str) and record.msg.startswith(prefix):
            record.msg = record.msg[len(prefix) :]
        return True


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too (``trio-mcp run: error: ... (see trio-mcp run --help)``)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {port}")
    return port


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float | None:
    if text.lower() in ("none", "0", "inf"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def warn_unknown_settings(environ: Any = None) -> list[str]:
    """Warn (on stderr) about ``TRIO_MCP_*`` variables that name no setting; return them."""
    from .._app._settings import unknown_env

    messages = unknown_env(environ)
    for message in messages:
        print(f"trio-mcp: warning: {message}", file=sys.stderr)
    return [m.split(" ", 1)[0] for m in messages]


def _tls_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """The server's TLS context from PEM files (``keyfile`` defaults to inside ``certfile``)."""
    if certfile is None:
        if keyfile is not None:
            raise CliError("--keyfile needs --certfile", EXIT_USAGE)
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CliError(f"cannot load the TLS certificate {certfile}: {why}", EXIT_USAGE) from None
    return context


def cmd_run(args: argparse.Namespace) -> int:
    return _serve(load_server(args.target), args)


def cmd_proxy(args: argparse.Namespace) -> int:
    """Serve, over stdio or HTTP, the MCP server a command line starts or a URL names."""
    from .._client import ClientError, unwrap_group
    from .._proxy import proxy

    if args.target.startswith(("http://", "https://")):
        check_url(args.target)
    try:
        server = proxy(args.target, era=args.era, name=args.name)
    except ValueError as exc:
        raise CliError(f"proxy {args.target!r}: {exc}", EXIT_USAGE) from None
    try:
        return _serve(server, args)
    except BaseException as exc:
        inner = unwrap_group(exc)
        if isinstance(inner, ClientError):
            raise CliError(f"cannot reach the upstream server: {inner}", EXIT_FAILED) from exc
        raise


def _serve(server: Any, args: argparse.Namespace) -> int:
    server.configure(
        "command line",
        timeout=args.timeout,
        max_in_flight=args.max_in_flight,
        log_level=args.log_level,
        http_host=args.host,
        http_port=args.port,
        http_server=args.http_server,
        http_workers=getattr(args, "workers", None),
        grace=args.grace,
    )
    report = getattr(args, "report_grace_fd", None)
    if report is not None:  # `trio-mcp dev` learns the grace its SIGKILL must wait for
        try:
            os.write(report, f"{server.settings.grace!r}\n".encode())
            os.close(report)
        except OSError:
            pass  # not started by dev after all: nobody to tell
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_OneName())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=server.settings.log_level.upper(), handlers=[handler])
    settings = server.settings
    tls = _tls_context(args.certfile, args.keyfile)
    if tls is not None and args.transport != "http":
        raise CliError("--certfile is for --transport http", EXIT_USAGE)
    if tls is not None and settings.http_server != "native":
        raise CliError(
            "--certfile is for the native HTTP server (Hypercorn: its config)", EXIT_USAGE
        )
    if getattr(args, "workers", None) is not None and args.transport != "http":
        raise CliError("--workers is for --transport http", EXIT_USAGE)
    if args.transport == "http" and settings.http_workers > 1 and settings.http_server != "native":
        raise CliError(
            "several workers need the native HTTP server (not --http-server hypercorn)",
            EXIT_USAGE,
        )
    try:
        if args.transport == "http":
            host, port = settings.http_host, settings.http_port
            server.run(transport="http", host=host, port=port, ssl_context=tls)
        else:
            server.run()
    except BaseException as exc:
        from .._client import unwrap_group

        inner = unwrap_group(exc)
        if isinstance(inner, OSError) and inner.errno == errno.EADDRINUSE:
            where = f"{settings.http_host}:{settings.http_port}"
            raise CliError(
                f"cannot listen on {where}: address already in use", EXIT_FAILED
            ) from exc
        if isinstance(inner, OSError) and inner.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            where = f"{settings.http_host}:{settings.http_port}"
            raise CliError(f"cannot listen on {where}: {inner.strerror}", EXIT_FAILED) from exc
        if isinstance(inner, socket.gaierror):  # --host names no address
            where = f"{settings.http_host}:{settings.http_port}"
            why = inner.strerror or str(inner)
            raise CliError(f"cannot listen on {where}: {why}", EXIT_FAILED) from exc
        raise
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = _Parser(
        prog="trio-mcp",
        description="Run and poke MCP servers.",
        parents=[common],
        epilog="exit codes: 0 success, 1 the server or the tool failed, 2 bad usage or"
        " configuration, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"trio-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    def serving(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--transport", choices=["stdio", "http"], default="stdio")
        cmd.add_argument("--host", help="HTTP host (default 127.0.0.1)")
        cmd.add_argument("--port", type=_port, help="HTTP port, 0..65535 (default 8000)")
        cmd.add_argument(
            "--http-server",
            choices=["native", "hypercorn"],
            help="HTTP server: trio_mcp's own (native, the default) or Hypercorn",
        )
        cmd.add_argument("--certfile", help="serve HTTPS with this PEM certificate (chain)")
        cmd.add_argument("--keyfile", help="its PEM private key (default: inside --certfile)")
        cmd.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
        cmd.add_argument("--timeout", type=float, help="default request deadline, seconds")
        cmd.add_argument("--max-in-flight", type=int, help="concurrent requests per connection")
        cmd.add_argument(
            "--grace",
            type=float,
            metavar="SECONDS",
            help="what in-flight requests get to finish at shutdown (default 2)",
        )

    run = add("run", "serve a trio_mcp server (stdio by default)")
    run.add_argument("target", help="path/to/server.py[:NAME] or package.module[:NAME]")
    serving(run)
    run.add_argument(
        "--workers",
        type=_positive_int,
        help="HTTP worker processes sharing the port (native server; default 1)",
    )
    run.add_argument("--report-grace-fd", type=int, help=argparse.SUPPRESS)  # for `dev`
    run.set_defaults(func=cmd_run)
    add_dev_command(sub, common, _port)

    proxy = add("proxy", "serve another MCP server (a command line or a URL) over stdio or HTTP")
    proxy.add_argument("target", help='a quoted command line ("npx some-server") or an http(s) URL')
    serving(proxy)
    proxy.add_argument(
        "--era",
        choices=["auto", "legacy", "modern"],
        default="auto",
        help="the era to speak to the upstream server (default: probe)",
    )
    proxy.add_argument("--name", help="the proxy's server name (default: the upstream's)")
    proxy.set_defaults(func=cmd_proxy)

    target_help = 'server file or module, a quoted command line ("npx some-server"), or a URL'

    def client_command(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        cmd = add(name, help)
        cmd.add_argument("server", metavar="TARGET", help=target_help)
        cmd.add_argument("--json", action="store_true", help="print the raw result")
        cmd.add_argument(
            "--timeout", type=_seconds, default=30.0, help="seconds per request (default 30)"
        )
        cmd.add_argument(
            "--era", choices=["auto", "legacy", "modern"], default="auto", help="protocol era"
        )
        cmd.set_defaults(func=func)
        return cmd

    client_command("list", "list a server's tools, resources, templates and prompts", cmd_list)
    call = client_command("call", "call a tool with key=value arguments", cmd_call)
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", default=[], metavar="key=value")
    read = client_command("read", "read a resource", cmd_read)
    read.add_argument("uri")
    prompt = client_command("prompt", "get a prompt with key=value arguments", cmd_prompt)
    prompt.add_argument("name")
    prompt.add_argument("arguments", nargs="*", default=[], metavar="key=value")

    install = add("install", "register a server with an MCP client application")
    install.add_argument("client", choices=CLIENTS)
    install.add_argument("target", help="path/to/server.py[:NAME] or package.module[:NAME]")
    install.add_argument("--name", help="server name in the client (default: the file's stem)")
    install.add_argument(
        "--env", action="append", metavar="KEY=VALUE", help="an environment variable (repeat)"
    )
    install.add_argument(
        "--write", action="store_true", help="write the config file instead of printing"
    )
    install.add_argument("--config", help="config file to write (default: the client's)")
    install.set_defaults(func=cmd_install)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Like ``parse_args``, but ``key=value`` pairs may come after options (``--json a=1``)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        pairs = [e for e in extras if "=" in e and not e.startswith("-")]
        if hasattr(args, "arguments") and len(pairs) == len(extras):
            args.arguments = [*args.arguments, *pairs]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message for an exception that ended a command."""
    from .._app import SettingsError
    from .._client import ClientError
    from .._errors import McpError

    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, SettingsError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, McpError):
        return EXIT_FAILED, f"the server answered error {exc.code}: {exc.message}"
    if isinstance(exc, ClientError):
        return EXIT_FAILED, str(exc)
    if isinstance(exc, OSError):
        return EXIT_FAILED, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    name = type(exc).__name__
    return EXIT_FAILED, f"unexpected {name}: {exc} (run with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script. Returns the exit status."""
    from .._client import unwrap_group

    parser = build_parser()
    args = _parse(parser, argv)
    if args.func not in (cmd_run, cmd_proxy, cmd_dev):  # these warn in the server log
        warn_unknown_settings()
    try:
        code: int = args.func(args)
        return code
    except (Exception, BaseExceptionGroup) as exc:
        inner = unwrap_group(exc)
        if isinstance(inner, KeyboardInterrupt):
            return 130
        if isinstance(inner, SystemExit):
            raise inner from None
        status, message = explain(inner)
        if args.debug:
            traceback.print_exception(exc)
        print(f"trio-mcp: error: {message}", file=sys.stderr)
        return status
    except KeyboardInterrupt:
        return 130
