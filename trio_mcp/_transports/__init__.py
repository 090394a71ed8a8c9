"""Transports: stdio (file descriptors 0 and 1) and any ``trio.abc.Stream``."""

from ._stdio import stdio_streams

__all__ = ["stdio_streams"]
