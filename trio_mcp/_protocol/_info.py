"""What a session says about the server: its name, capabilities and methods."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import attrs

from ._features import Features
from ._shape import shape_initialize
from ._versions import META_SERVER_INFO, MODERN_VERSIONS

__all__ = ["ServerInfo"]


@attrs.define(eq=False)
class ServerInfo:
    """What the session says about the server. The application owns and may update it.

    Attributes:
        name, version, title: The server's ``Implementation``.
        instructions: Sent in ``initialize`` (2025-03-26+) and ``server/discover``.
        capabilities: The server capabilities object, for every version.
        extra_capabilities: Per protocol version, what that version's sessions
            see on top of ``capabilities`` (merged one level deep): e.g. the
            legacy ``tasks`` capability only for 2025-11-25, the tasks extension
            only in ``server/discover`` (2026-07-28). See :meth:`capabilities_for`.
        methods: Every method the application answers (beyond the lifecycle
            ones the session answers itself). Anything else is ``-32601``.
        ttl_ms, cache_scope: Modern caching hints for discover and list results.
    """

    name: str
    version: str
    title: str | None = None
    instructions: str | None = None
    capabilities: dict[str, Any] = attrs.field(factory=dict)
    extra_capabilities: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    methods: Collection[str] = frozenset()
    legacy_only: Collection[str] = frozenset()
    modern_only: Collection[str] = frozenset()
    ttl_ms: int = 0
    cache_scope: str = "public"

    def capabilities_for(self, version: str) -> dict[str, Any]:
        """The capabilities object a session at protocol ``version`` announces."""
        extra = self.extra_capabilities.get(version)
        if not extra:
            return self.capabilities
        caps = dict(self.capabilities)
        for key, value in extra.items():
            base = caps.get(key)
            if isinstance(base, dict) and isinstance(value, dict):
                caps[key] = {**base, **value}
            else:
                caps[key] = value
        return caps

    def implementation(self) -> dict[str, Any]:
        impl: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.title:
            impl["title"] = self.title
        return impl

    def initialize_result(self, features: Features) -> dict[str, Any]:
        """The ``InitializeResult`` for a legacy session at ``features.version``."""
        version = features.version
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": self.capabilities_for(version),
            "serverInfo": self.implementation(),
        }
        if self.instructions and features.instructions:
            result["instructions"] = self.instructions
        if features.needs_shaping("initialize"):
            result = shape_initialize(features, result)
        return result

    def discover_result(self) -> dict[str, Any]:
        """The ``server/discover`` result (modern era)."""
        result: dict[str, Any] = {
            "resultType": "complete",
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": self.capabilities_for(MODERN_VERSIONS[0]),
            "ttlMs": self.ttl_ms,
            "cacheScope": self.cache_scope,
            "_meta": {META_SERVER_INFO: self.implementation()},
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result
