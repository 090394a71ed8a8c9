"""The providers of a serving server (mounted, proxied servers): started first, stopped last.

:func:`running_providers` is the nursery :meth:`~._serving.Serving.running`
opens around the server's own tasks. It starts every provider the registry
holds before the server serves, and stops them (each ends its lifespan) after
the server's own tasks have ended.

A provider added while serving (``server.mount(child)`` from a tool or a
background task) goes through :meth:`Providers.add`: its :meth:`~._registry.Provider.run`
starts in that nursery first, and only once it has started (the child's lifespan
state is set, its background tasks are up) does the registry take it, which is
what makes its components visible and sends ``list_changed``. A client never
sees a component whose server is not ready. One still starting when the server
stops is cancelled; it stays in the registry, so the next ``running()`` starts it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio

from ._registry import Provider, Registry

__all__ = ["Providers", "running_providers"]


@attrs.define(eq=False)
class Providers:
    """The providers nursery of one ``running()``: see the module docstring."""

    registry: Registry
    nursery: trio.Nursery
    _starting: dict[Provider, trio.CancelScope] = attrs.field(factory=dict, init=False)

    def add(self, provider: Provider) -> None:
        """Start ``provider`` now; the registry takes it once it has started.

        If its start fails, the exception propagates through the providers
        nursery, so the server stops, as when a provider fails to start before
        serving.
        """
        scope = self._starting[provider] = trio.CancelScope()
        self.nursery.start_soon(self._start, provider, scope)

    async def _start(self, provider: Provider, scope: trio.CancelScope) -> None:
        added = False
        try:
            with scope:  # cancelled by stop() while it is still starting
                async with trio.open_nursery() as nursery:
                    await nursery.start(provider.run)
                    del self._starting[provider]  # from now on, stop() stops it
                    self.registry.add_provider(provider)  # visible; list_changed
                    added = True
        finally:
            if not added:  # cancelled (or failed) while starting: still mounted
                self._starting.pop(provider, None)
                self.registry.providers.append(provider)

    def stop(self) -> None:
        """Make every provider's ``run`` return: those still starting are cancelled."""
        for scope in self._starting.values():
            scope.cancel()
        for provider in self.registry.providers:
            provider.stop()


@asynccontextmanager
async def running_providers(registry: Registry) -> AsyncIterator[Providers]:
    """Start ``registry``'s providers, yield, then stop them and wait until they have ended."""
    async with trio.open_nursery() as nursery:
        providers = Providers(registry, nursery)
        try:
            for provider in registry.providers:  # one added meanwhile is started too
                await nursery.start(provider.run)
            yield providers
        finally:
            providers.stop()
