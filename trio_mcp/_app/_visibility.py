"""Which components a caller sees and may use: enable/disable rules, and scopes.

Two independent gates, both checked wherever a component is listed or used:

* **Enabled.** ``server.disable(names=..., tags=...)`` and
  ``server.enable(...)`` keep a set of rules (:class:`Rules`). A component is
  enabled unless its name (or URI) or one of its tags is disabled, except that
  a name enabled explicitly wins over its tags. A disabled component is
  neither listed nor found: calling it answers exactly as if it did not exist.
  The registry caches the result on each component (``enabled``), so the hot
  path reads one attribute.
* **Scopes.** ``@server.tool(scopes={"files:write"})``: a caller whose bearer
  token lacks one of them does not see the component in lists, and using it
  is refused with :class:`~trio_mcp.InsufficientScope` (``-32051``; ``403``
  with ``WWW-Authenticate: Bearer error="insufficient_scope"`` over
  modern-era HTTP). Scopes are an HTTP authorization rule: a caller over
  stdio (or any stream) is the local user who started the server, and holds
  them all; over HTTP, a caller without a token holds none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._errors import InsufficientScope
from .._runtime import Peer
from .._wire import Id

__all__ = ["Rules", "caller_scopes", "check_scopes", "may_list", "names"]


def names(values: Iterable[str]) -> frozenset[str]:
    """Tags or scopes as a frozenset (a lone string is refused: it is not a collection here)."""
    if isinstance(values, str):
        raise TypeError(f"expected a collection of strings, got the string {values!r}")
    return frozenset(values)


@attrs.define
class Rules:
    """The enable/disable rules (see the module docstring)."""

    disabled_names: set[str] = attrs.field(factory=set)
    disabled_tags: set[str] = attrs.field(factory=set)
    enabled_names: set[str] = attrs.field(factory=set)

    def disable(self, names: Iterable[str], tags: Iterable[str]) -> None:
        for name in names:
            self.enabled_names.discard(name)
            self.disabled_names.add(name)
        self.disabled_tags.update(tags)

    def enable(self, names: Iterable[str], tags: Iterable[str]) -> None:
        for name in names:
            self.disabled_names.discard(name)
            self.enabled_names.add(name)
        self.disabled_tags.difference_update(tags)

    def allows(self, keys: tuple[str, ...], tags: frozenset[str]) -> bool:
        """Whether a component known by ``keys`` (name, URI) and tagged ``tags`` is enabled."""
        if any(k in self.enabled_names for k in keys):
            return True
        if any(k in self.disabled_names for k in keys):
            return False
        return not (tags and not self.disabled_tags.isdisjoint(tags))


def caller_scopes(peer: Peer, rid: Id) -> frozenset[str] | None:
    """The scopes the caller of request ``rid`` holds; ``None``: every scope (not HTTP)."""
    if peer.http_request(rid) is None:
        return None
    token = peer.token
    return token.scopes if token is not None else frozenset()


def may_list(component: Any, granted: frozenset[str] | None) -> bool:
    """Whether ``component`` appears in a list for a caller holding ``granted``."""
    if not component.enabled:
        return False
    scopes: frozenset[str] = component.scopes
    return not scopes or granted is None or scopes <= granted


def check_scopes(component: Any, peer: Peer, rid: Id) -> None:
    """Refuse a caller who lacks one of ``component``'s scopes.

    Raises:
        InsufficientScope: with the scopes required and those missing.
    """
    scopes: frozenset[str] = component.scopes
    if scopes:
        granted = caller_scopes(peer, rid)
        if granted is not None and not scopes <= granted:
            raise InsufficientScope(scopes, granted)
