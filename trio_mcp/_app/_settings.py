"""Settings: one attrs class, from ``Server(...)`` arguments, environment, CLI flags.

Precedence, lowest to highest:

1. the defaults below;
2. arguments given to ``Server(...)``;
3. ``TRIO_MCP_*`` environment variables (e.g. ``TRIO_MCP_TIMEOUT=30``);
4. command-line flags of ``trio-mcp run`` (e.g. ``--timeout 30``).

A bad value is refused with an error that names its source and the expected
type, e.g. ``TRIO_MCP_MAX_IN_FLIGHT: expected an integer, got 'lots'``.

Secrets are deliberately not settings: the ``requestState`` key
(``Server(state_secret=...)``) and HTTP credentials (the ``auth`` verifier) are
given in code, kept out of ``repr``, and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._wire import DEFAULT_MAX_LINE

__all__ = ["ENV_PREFIX", "Settings", "SettingsError"]

ENV_PREFIX: Final = "TRIO_MCP_"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of range. The message names it."""


def _positive(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value <= 0:
        raise SettingsError(f"{attribute.name}: must be positive, got {value!r}")


def _non_negative(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value < 0:
        raise SettingsError(f"{attribute.name}: must not be negative, got {value!r}")


def _port(inst: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value <= 65535:
        raise SettingsError(f"{attribute.name}: a port is 0..65535, got {value!r}")


def _http_server(inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("native", "hypercorn"):
        raise SettingsError(f"{attribute.name}: expected native or hypercorn, got {value!r}")


def _redis_url(inst: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    from .._transports._redis import url_problem

    problem = None if value is None else url_problem(value)
    if problem is not None:
        raise SettingsError(f"{attribute.name}: {problem}")


def _json_response(inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("auto", "never"):
        raise SettingsError(f"{attribute.name}: expected auto or never, got {value!r}")


def _log_level(inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value.upper() not in _LOG_LEVELS:
        raise SettingsError(
            f"{attribute.name}: expected one of {', '.join(_LOG_LEVELS)}, got {value!r}"
        )


def _tracing(inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value.lower() not in ("auto", "on", "off"):
        raise SettingsError(f"{attribute.name}: expected auto, on or off, got {value!r}")


@attrs.frozen(kw_only=True)
class Settings:
    """Every runtime setting of a server.

    Attributes:
        timeout: Default request deadline in seconds (``None``: none).
        max_in_flight: Requests handled at once per connection.
        grace: Seconds in-flight requests get at shutdown.
        max_message_size: Longest accepted message in bytes.
        log_level: Level of trio_mcp's own stderr logging.
        http_host, http_port, http_path: Where the HTTP transport listens.
        http_allowed_origins: ``Origin`` values the HTTP transport accepts
            (loopback origins are always accepted).
        http_server: ``native`` (trio_mcp's own HTTP/1.1 server) or ``hypercorn``.
        http_workers: Processes serving HTTP on one port (``SO_REUSEPORT``;
            native server only; legacy sessions then need client affinity).
        http_json_response: How a legacy-era POST of one request is answered:
            ``auto`` (JSON when its answer is the handler's first message, else
            an SSE stream primed with an event id to resume from) or ``never``
            (always that SSE stream).
        tracing: OpenTelemetry spans per request: ``auto`` (when the application
            set a tracer provider, or called ``enable_tracing``), ``on`` or ``off``.
        redis_url: Keep shared state in Redis (``redis://``, ``rediss://``,
            ``unix://``, or ``redis+sentinel://`` for the primary Sentinel names;
            the ``redis`` extra), so several workers serve one
            deployment: it switches every Redis-capable store at once (today the
            modern-era task store; see docs/how-to/scale-out.md). ``None``: in memory.
        task_lease: With ``redis_url``: seconds after a worker's last heartbeat
            when the tasks it was running are marked failed.
    """

    timeout: float | None = attrs.field(default=60.0, validator=_positive)
    max_in_flight: int = attrs.field(default=1024, validator=_positive)
    grace: float = attrs.field(default=2.0, validator=_non_negative)
    max_message_size: int = attrs.field(default=DEFAULT_MAX_LINE, validator=_positive)
    log_level: str = attrs.field(default="INFO", validator=_log_level)
    http_host: str = "127.0.0.1"
    http_port: int = attrs.field(default=8000, validator=_port)
    http_path: str = "/mcp"
    http_allowed_origins: tuple[str, ...] = ()
    http_server: str = attrs.field(default="native", validator=_http_server)
    http_workers: int = attrs.field(default=1, validator=_positive)
    http_json_response: str = attrs.field(default="auto", validator=_json_response)
    tracing: str = attrs.field(default="auto", validator=_tracing)
    redis_url: str | None = attrs.field(default=None, validator=_redis_url)
    task_lease: float = attrs.field(default=10.0, validator=_positive)

    def replace(self, source: str = "argument", **changes: Any) -> Settings:
        """A copy with ``changes`` applied (``None`` values are skipped), checked.

        Raises:
            SettingsError: unknown name or a bad value; the message names ``source``.
        """
        fields = attrs.fields_dict(Settings)
        parsed: dict[str, Any] = {}
        for name, value in changes.items():
            if value is None and name != "timeout":
                continue
            if name not in fields:
                raise SettingsError(f"{source}: unknown setting {name!r}")
            parsed[name] = _coerce(name, value, fields[name].type, source)
        try:
            return attrs.evolve(self, **parsed)
        except SettingsError as exc:
            raise SettingsError(f"{source}: {exc}") from None

    def with_env(self, environ: Mapping[str, str] | None = None) -> Settings:
        """Apply ``TRIO_MCP_<NAME>`` variables from ``environ`` (default ``os.environ``)."""
        environ = os.environ if environ is None else environ
        result = self
        for name in attrs.fields_dict(Settings):
            var = ENV_PREFIX + name.upper()
            if var in environ:
                raw = environ[var]
                none = raw.lower() in ("", "none") and name in ("timeout", "redis_url")
                value: Any = None if none else raw
                result = result._replace_one(var, name, value)
        return result

    def _replace_one(self, source: str, name: str, value: Any) -> Settings:
        field = attrs.fields_dict(Settings)[name]
        coerced = _coerce(name, value, field.type, source)
        try:
            return attrs.evolve(self, **{name: coerced})
        except SettingsError as exc:
            raise SettingsError(f"{source}: {str(exc).split(': ', 1)[-1]}") from None


_EXPECTED = {"int": "an integer", "float": "a number", "str": "a string"}


def _coerce(name: str, value: Any, annotation: Any, source: str) -> Any:
    kind = str(annotation)
    if value is None:
        return None
    try:
        if kind.startswith("tuple"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        base = kind.split(" ")[0].split("|")[0].strip()
        expected = _EXPECTED.get(base, base)
        raise SettingsError(f"{source}: {name} expected {expected}, got {value!r}") from None


#: TRIO_MCP_* variables that are not settings (read by trio_mcp's own test suite and tools).
NOT_SETTINGS = frozenset({"TRIO_MCP_STRESS", "TRIO_MCP_TOOLS_DIR"})


def unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per ``TRIO_MCP_*`` variable that names no setting (a typo is ignored otherwise).

    Returns:
        Messages such as ``TRIO_MCP_TIMOUT is not a setting; ignored (did you mean
        TRIO_MCP_TIMEOUT?)``, in the variables' order.
    """
    import difflib

    environ = os.environ if environ is None else environ
    known = sorted(ENV_PREFIX + name.upper() for name in attrs.fields_dict(Settings))
    messages = []
    for var in sorted(environ):
        if var.startswith(ENV_PREFIX) and var not in known and var not in NOT_SETTINGS:
            close = difflib.get_close_matches(var, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            messages.append(f"{var} is not a setting; ignored{hint}")
    return messages
