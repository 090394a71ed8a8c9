"""The built-in middleware (public as :mod:`trio_mcp.middleware`)."""
