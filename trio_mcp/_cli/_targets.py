"""What a target names: a server to import (``run``), or a server to talk to (``list``, ``call``...).

Targets:

* ``path/to/server.py`` or ``path/to/server.py:NAME``: a file; ``NAME`` is a
  :class:`~trio_mcp.Server` or a factory function returning one;
* ``package.module:NAME`` (or ``package.module``): a module, found from the
  working directory first (``trio-mcp`` behaves as ``python -m trio_mcp`` does);
* ``"command args"``: any MCP server over stdio (client commands only);
* ``http(s)://host/path``: any MCP server over Streamable HTTP (client commands only).

Without ``NAME``, the object named ``server``, ``mcp`` or ``app`` is used,
or the module's only ``Server``. Every failure is a :class:`CliError` with one
line naming the cause.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "check_url",
    "client_target",
    "command_line",
    "load_server",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_MODULE = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")


class CliError(Exception):
    """A one-line, user-facing error; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class NoServerFound(CliError):
    """The module imported, but holds no ``Server``."""


def _is_file_target(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec


def _import_file(spec: str) -> Any:
    path = Path(spec).resolve()
    if not path.is_file():
        raise CliError(f"{spec}: no such file")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    if module_spec is None or module_spec.loader is None:
        raise CliError(f"{spec}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    loader = module_spec.loader
    _run_import(spec, lambda: loader.exec_module(module))
    return module


def _import_module(spec: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # as `python -m` does: the console script must find ./hello.py
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise CliError(f"{spec}: no module named {spec!r} (looked in {cwd} and sys.path)")
    return _run_import(spec, lambda: importlib.import_module(spec))


def _run_import(spec: str, load: Any) -> Any:
    from .._app import SettingsError

    try:
        return load()
    except SettingsError:
        raise  # a bad TRIO_MCP_* value or argument: reported as a setting, not an import failure
    except SystemExit as exc:
        raise CliError(f"{spec}: exited while importing (code {exc.code})") from exc
    except Exception as exc:
        raise CliError(f"{spec}: failed to import: {type(exc).__name__}: {exc}") from exc


def load_server(target: str) -> Any:
    """Import ``target`` and return its :class:`~trio_mcp.Server` (see the module docstring).

    Raises:
        CliError: the file or module is missing, does not import, or holds no server.
        SettingsError: a setting has a bad value.
    """
    from .. import Server
    from .._app import SettingsError

    spec, _, attr = target.partition(":")
    module = _import_file(spec) if _is_file_target(spec) else _import_module(spec)
    if attr:
        if not hasattr(module, attr):
            raise CliError(f"{spec}: has no attribute {attr!r}")
        server = getattr(module, attr)
        if callable(server) and not isinstance(server, Server):
            try:
                server = server()
            except SettingsError:
                raise
            except Exception as exc:
                raise CliError(f"{target}(): raised {type(exc).__name__}: {exc}") from exc
    else:
        named = [
            getattr(module, n)
            for n in ("server", "mcp", "app")
            if isinstance(getattr(module, n, None), Server)
        ]
        found = [v for v in vars(module).values() if isinstance(v, Server)]
        if named:
            server = named[0]
        elif len(found) == 1:
            server = found[0]
        elif not found:
            raise NoServerFound(
                f"{spec}: no trio_mcp.Server object found (name it `server`,"
                f" or name it or its factory function: {spec}:NAME)"
            )
        else:
            raise CliError(f"{spec}: several Server objects; choose one with {spec}:NAME")
    if not isinstance(server, Server):
        raise CliError(f"{target}: is a {type(server).__name__}, not a trio_mcp.Server")
    return server


def check_url(url: str) -> str:
    """``url`` if it is a usable ``http(s)://`` URL.

    Raises:
        CliError: it has no host, or a bad port or IPv6 address (exit status 2).
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # validated when read
    except ValueError as exc:
        raise CliError(f"{url}: not a valid URL ({exc})") from None
    if not parts.hostname:
        raise CliError(f"{url}: not a valid URL (no host)")
    return url


def command_line(target: str) -> list[str]:
    """``target`` split as a shell would.

    Raises:
        CliError: unbalanced quotes, or nothing to run.
    """
    try:
        command = shlex.split(target)
    except ValueError as exc:
        raise CliError(f"{target!r}: {exc} (quote the command line once, as a whole)") from None
    if not command:
        raise CliError("an empty target")
    return command


def client_target(target: str) -> Any:
    """What ``Client(...)`` should connect to for a client command's target.

    A trio_mcp server (file or module) is imported and served in memory; a
    Python file without one is run as a script over stdio (any MCP server
    written in Python); a URL is used as it is; anything else is a command line.

    Raises:
        CliError: see :func:`load_server`; a bad URL; an empty or unbalanced command line.
    """
    if target.startswith(("http://", "https://")):
        return check_url(target)
    spec, _, attr = target.partition(":")
    if _is_file_target(spec) and " " not in target:
        try:
            return load_server(target)
        except NoServerFound:
            if attr:
                raise
            return [sys.executable, str(Path(spec).resolve())]
    if _MODULE.match(target) and (attr or _module_exists(spec)):
        return load_server(target)
    return command_line(target)


def _module_exists(spec: str) -> bool:
    if "." not in spec and not Path(f"{spec}.py").is_file() and not Path(spec).is_dir():
        return False  # a bare word names a program (`uvx`, `my-server`), unless ./word.py exists
    try:
        return importlib.util.find_spec(spec) is not None
    except (ImportError, ValueError):
        return False
