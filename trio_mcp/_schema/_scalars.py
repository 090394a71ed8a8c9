"""Python values with a string form on the wire: dates and times, UUID, Decimal, Path, bytes.

Each has one entry here giving its JSON Schema, how a JSON value becomes the
Python value (strictly: only the form the schema describes) and how the Python
value goes back to JSON:

=================  ============================================  ===========================
Python             JSON Schema                                   wire form
=================  ============================================  ===========================
``datetime``       ``string``, ``format: date-time``             RFC 3339, offset required
``date``           ``string``, ``format: date``                  ``YYYY-MM-DD``
``time``           ``string``, ``format: time``                  ``HH:MM:SS[.f][offset]``
``UUID``           ``string``, ``format: uuid``                  ``8-4-4-4-12`` hex digits
``Decimal``        ``number`` or numeric ``string``              in: either; out: a string
``Path`` (any)     ``string``, ``format: path``                  the path as text
``bytes``          ``string``, ``contentEncoding: base64``       standard base64, padded
=================  ============================================  ===========================
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import pathlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from ._invalid import InvalidValue, TypeMismatch, shown

__all__ = ["SCALARS", "Scalar", "scalar_for"]

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}:\d{2}(?:\.\d+)?"
_OFFSET = r"(?:[Zz]|[+-]\d{2}:\d{2})"
_DATETIME_RE = re.compile(rf"{_DATE}[Tt]{_TIME}{_OFFSET}")
_DATE_RE = re.compile(_DATE)
_TIME_RE = re.compile(rf"{_TIME}{_OFFSET}?")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
DECIMAL_PATTERN = r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN[1:-1])


@attrs.frozen
class Scalar:
    """One string-formed type: its schema, its parser and its wire form.

    Attributes:
        schema: The JSON Schema (copied by callers before changing it).
        expected: The noun used in errors: ``expected {expected}, got ...``.
        parse: ``str -> value``; raises ``ValueError`` for a malformed string.
        dump: ``value -> JSON value``.
        numbers: Also accept JSON numbers (``Decimal``).
    """

    schema: dict[str, Any]
    expected: str
    parse: Callable[[str], Any]
    dump: Callable[[Any], Any]
    numbers: bool = False

    def structure(self, value: Any, tp: Any) -> Any:
        """A cattrs structure hook: the parsed value, or :class:`InvalidValue`."""
        if type(value) is str:
            try:
                return self.parse(value)
            except (ValueError, ArithmeticError):
                raise InvalidValue(f"expected {self.expected}, got {shown(value)}") from None
        if self.numbers and type(value) in (int, float):
            return decimal.Decimal(repr(value)) if type(value) is float else decimal.Decimal(value)
        raise TypeMismatch(self.expected, value)


def _matching(regex: re.Pattern[str], parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parser(text: str) -> Any:
        if not regex.fullmatch(text):
            raise ValueError(text)
        return parse(text)

    return parser


def _datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.upper())


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text.upper())


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(text) from None


def _decimal(text: str) -> decimal.Decimal:
    if not _DECIMAL_RE.fullmatch(text):
        raise ValueError(text)
    return decimal.Decimal(text)


def _iso(value: dt.date | dt.time) -> str:
    return value.isoformat()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


SCALARS: dict[type, Scalar] = {
    dt.datetime: Scalar(
        {"type": "string", "format": "date-time"},
        "an RFC 3339 date-time",
        _matching(_DATETIME_RE, _datetime),
        _iso,
    ),
    dt.date: Scalar(
        {"type": "string", "format": "date"},
        "an RFC 3339 date",
        _matching(_DATE_RE, dt.date.fromisoformat),
        _iso,
    ),
    dt.time: Scalar(
        {"type": "string", "format": "time"},
        "an RFC 3339 time",
        _matching(_TIME_RE, _time),
        _iso,
    ),
    uuid.UUID: Scalar(
        {"type": "string", "format": "uuid"}, "a UUID", _matching(_UUID_RE, uuid.UUID), str
    ),
    decimal.Decimal: Scalar(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}]},
        "a decimal number",
        _decimal,
        str,
        numbers=True,
    ),
    bytes: Scalar({"type": "string", "contentEncoding": "base64"}, "a base64 string", _bytes, _b64),
    bytearray: Scalar(
        {"type": "string", "contentEncoding": "base64"},
        "a base64 string",
        lambda text: bytearray(_bytes(text)),
        _b64,
    ),
}


def scalar_for(tp: Any) -> Scalar | None:
    """The :class:`Scalar` of ``tp`` (any ``PurePath`` subclass is a path); else ``None``."""
    found = SCALARS.get(tp)
    if found is not None:
        return found
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        return Scalar({"type": "string", "format": "path"}, "a path", tp, str)
    return None
