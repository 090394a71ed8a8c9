"""The architecture holds: lower layers never import higher ones (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import trio_mcp

ORDER = ["_errors", "_wire", "_schema", "_protocol", "_runtime", "_transports", "_app"]
NO_TRIO = {"_errors", "_wire", "_schema", "_protocol"}


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def imports_of(layer: str) -> set[str]:
    """Absolute names of everything a layer's source files import (static, via ast)."""
    root = Path(trio_mcp.__file__).parent
    paths = (
        [root / f"{layer}.py"]
        if (root / f"{layer}.py").exists()
        else list((root / layer).rglob("*.py"))
    )
    found: set[str] = set()
    for path in paths:
        package = ".".join(("trio_mcp", *path.relative_to(root).with_suffix("").parts[:-1]))
        if path.name == "__init__.py" or path.parent != root:
            package = ".".join(("trio_mcp", *path.relative_to(root).parent.parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    found.add(".".join([*base, *([node.module] if node.module else [])]))
                else:
                    found.add(node.module or "")
    return found


@pytest.mark.parametrize("layer", ORDER)
def test_layer_imports_only_lower_layers(layer: str) -> None:
    imported = imports_of(layer)
    higher = ORDER[ORDER.index(layer) + 1 :]
    offenders = {
        m
        for m in imported
        for h in [*higher, "testing", "client", "_cli"]
        if m.startswith(f"trio_mcp.{h}")
    }
    assert not offenders, f"{layer} imports higher layers: {sorted(offenders)}"
    if layer in NO_TRIO:
        assert not {m for m in imported if m == "trio" or m.startswith("trio.")}, (
            f"{layer} is sans-IO but imports trio"
        )


def test_import_trio_mcp_never_imports_the_official_sdk() -> None:
    modules = loaded_after_import("trio_mcp")
    assert not {m for m in modules if m == "mcp" or m.startswith("mcp.")}
    assert "trio_mcp.testing" not in modules
    assert "pydantic" not in modules
