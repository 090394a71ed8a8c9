"""Server-to-client input in the modern era: multi round-trip requests (MRTR).

In 2026-07-28 a server never sends requests. A handler that needs input
(``ctx.elicit``, ``ctx.sample``, ``ctx.list_roots``) ends its request with an
``input_required`` result; the client answers by retrying the same request with
``inputResponses`` and the opaque ``requestState``. trio_mcp runs the handler
again from the top; each input call finds its answer by position (``elicit-0``,
``sample-1``...), so handler code reads exactly as in the legacy era, where the
same calls are real JSON-RPC requests.

``requestState`` carries the answers of earlier rounds. The client cannot be
trusted with it, so it is signed (HMAC-SHA256 with the server's secret), bound
to the method, the target (tool/prompt name or URI), a digest of the
arguments and, when the request carried a bearer token, its subject; and it
expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson

from .._errors import InvalidParams

__all__ = ["InputRequired", "RequestState"]

STATE_TTL = 600.0


class InputRequired(BaseException):
    """Raised inside a handler (modern era) when it needs client input it does not have.

    It derives from ``BaseException`` on purpose, like ``trio.Cancelled``:
    handler code that catches ``Exception`` must not swallow it. The framework
    catches it at the method boundary and answers ``input_required`` with every
    request in ``requests`` (key -> ``{"method", "params"}``): one, or several
    when the handler asked for them together (``ctx.gather_input``).
    """

    def __init__(self, requests: dict[str, dict[str, Any]]) -> None:
        super().__init__(*requests)
        self.requests = requests

    @classmethod
    def one(cls, key: str, method: str, params: dict[str, Any]) -> InputRequired:
        return cls({key: {"method": method, "params": params}})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def binding(method: str, target: str, arguments: Any, subject: str | None = None) -> str:
    """A digest of what a request state is valid for.

    ``subject`` is the bearer token's subject when the request carried one: a
    state issued to one identity is then refused to every other (a leaked
    state cannot carry one user's answers into another user's request).
    """
    bound = [method, target, arguments] if subject is None else [method, target, arguments, subject]
    data = orjson.dumps(bound, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:32]


class RequestState:
    """Signs and verifies ``requestState`` strings with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def sign(self, bind: str, responses: dict[str, Any], *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        payload = orjson.dumps({"b": bind, "r": responses, "e": int(now + STATE_TTL)})
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, state: Any, bind: str, *, now: float | None = None) -> dict[str, Any]:
        """Return the earlier rounds' answers held in ``state``.

        Raises:
            InvalidParams: the state is malformed, forged, expired, or was issued
                for another request.
        """
        try:
            payload_text, mac_text = state.split(".")
            payload = _unb64(payload_text)
            good = hmac.compare_digest(_unb64(mac_text), self._mac(payload))
            data = orjson.loads(payload) if good else None
        except (AttributeError, ValueError, orjson.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            raise InvalidParams("Invalid params: requestState is not valid")
        now = time.time() if now is None else now
        if data.get("b") != bind:
            raise InvalidParams("Invalid params: requestState belongs to another request")
        if not isinstance(data.get("e"), int) or data["e"] < now:
            raise InvalidParams("Invalid params: requestState has expired")
        responses = data.get("r")
        return responses if isinstance(responses, dict) else {}
