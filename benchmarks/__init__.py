"""Concurrency benchmarks: trio_mcp against the other Python MCP stacks. See README.md."""
