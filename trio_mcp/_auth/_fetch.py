"""One HTTP call of a verifier (JWKS, introspection): httpx on Trio, bounded in time.

httpx runs on Trio through anyio. The call runs in the task that asked, so it
is inside that HTTP request's cancel scope: the client going away cancels it.
On top of that it has its own deadline, so that a key server that accepts the
connection and never answers costs ``seconds``, not the request's
whole deadline.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import trio

__all__ = ["FetchFailed", "fetch"]


class FetchFailed(Exception):
    """The call did not give a usable answer; the message says why (for the log)."""


async def fetch(
    client: httpx.AsyncClient | None,
    method: str,
    url: str,
    *,
    seconds: float,
    **kwargs: Any,
) -> httpx.Response:
    """``method url`` with ``client`` (or a client made for this call), within ``seconds``.

    Returns:
        The response, read whole, whatever its status.

    Raises:
        FetchFailed: no answer within ``seconds``, or a transport error
            (refused, reset, TLS, a malformed response).
        trio.Cancelled: the request's own scope was cancelled (never caught here).
    """
    try:
        with trio.fail_after(seconds):
            if client is not None:
                return await client.request(method, url, timeout=_httpx_timeout(seconds), **kwargs)
            async with httpx.AsyncClient(timeout=_httpx_timeout(seconds)) as own:
                return await own.request(method, url, **kwargs)
    except trio.TooSlowError:
        raise FetchFailed(f"no answer from {url} within {seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None


def _httpx_timeout(seconds: float) -> httpx.Timeout:
    # httpx's own limits are per phase; ours is for the whole call: keep theirs out of its way.
    return httpx.Timeout(None if math.isinf(seconds) else seconds + 1.0)
