"""The public API: ``trio_mcp`` (what a server is written with) and ``trio_mcp.lowlevel`` (plumbing).

Every exported name exists, says which public module it lives in, is documented, and
appears in the API reference; no private module leaks through; the two tiers do not
overlap. (trio's ``_tests/test_exports.py`` is the model.)
"""

from __future__ import annotations

import ast
import pickle
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from _support.paths import ROOT

import trio_mcp
import trio_mcp.auth
import trio_mcp.lowlevel
from trio_mcp._schema import schema_for

PACKAGE = Path(trio_mcp.__file__).parent
REFERENCE = ROOT / "docs" / "reference"
NAMESPACES = [trio_mcp, trio_mcp.lowlevel, trio_mcp.auth]
#: Moved to trio_mcp.lowlevel; the top level must not offer them any more.
PLUMBING = ["Connection", "Era", "EventStore", "HttpTransport", "InMemoryEventStore"]
#: Classes whose annotations name types imported only under TYPE_CHECKING: their hints
#: did not resolve before the fix-up either.
UNRESOLVABLE_HINTS = {"Context"}


def is_code(obj: object) -> bool:
    """A class or a function: something with a ``__module__`` of its own."""
    return isinstance(obj, type | types.FunctionType)


def attribute_docstrings() -> dict[str, list[str]]:
    """Module-level ``NAME = ...`` followed by a string, per name, across the package."""
    found: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        body = ast.parse(path.read_text()).body
        for node, after in zip(body, [*body[1:], None], strict=True):
            targets = (
                [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
            )
            doc = (
                after.value.value
                if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                else None
            )
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(doc, str) and doc.strip():
                    found.setdefault(target.id, []).append(doc)
    return found


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_all_names_exist_once_and_star_import_gives_exactly_them(
    namespace: types.ModuleType,
) -> None:
    names = namespace.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(namespace, name), name
    star: dict[str, Any] = {}
    exec(f"from {namespace.__name__} import *", star)
    assert set(star) - {"__builtins__"} == set(names)


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_nothing_public_outside_all(namespace: types.ModuleType) -> None:
    extra = {
        name
        for name, value in vars(namespace).items()
        if not name.startswith("_")
        and name not in namespace.__all__
        and not isinstance(value, types.ModuleType)  # submodules: lowlevel, testing, client
    }
    assert not extra, sorted(extra)


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_no_private_module_leaks(namespace: types.ModuleType) -> None:
    module = namespace.__name__
    wrong: list[str] = []
    for name in namespace.__all__:
        obj = getattr(namespace, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            wrong.append(f"{name}: private or a module")
        elif is_code(obj):
            if obj.__module__ != module:
                wrong.append(f"{name}.__module__ == {obj.__module__!r}")
            elif obj.__name__ != name:  # exported under its own name: nothing is renamed
                wrong.append(f"{name} is {obj.__name__}")
            # module + qualname find the object again (pickle, reprs, docs links rely on it)
            elif getattr(sys.modules[obj.__module__], obj.__qualname__, None) is not obj:
                wrong.append(f"{module}.{obj.__qualname__} is not {name}")
    assert not wrong, wrong


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_members_defined_in_a_public_class_are_fixed_too(namespace: types.ModuleType) -> None:
    wrong: list[str] = []
    classes = [getattr(namespace, n) for n in namespace.__all__]
    for cls in [c for c in classes if isinstance(c, type)]:
        for attr, member in vars(cls).items():
            fn = (
                member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            )
            if attr.startswith("_") or not callable(fn):
                continue
            inside = getattr(fn, "__qualname__", "").startswith(cls.__qualname__ + ".")
            if inside and fn.__module__ != namespace.__name__:
                wrong.append(f"{cls.__name__}.{attr}: {fn.__module__}")
    assert not wrong, wrong
    assert trio_mcp.Server.tool.__module__ == "trio_mcp"


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_every_export_is_documented(namespace: types.ModuleType) -> None:
    constants = attribute_docstrings()
    undocumented: list[str] = []
    for name in namespace.__all__:
        obj = getattr(namespace, name)
        if is_code(obj):
            doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
            if not (doc and doc.strip()):
                undocumented.append(name)  # no docstring of its own
        elif name not in constants:  # a constant: the string under its assignment
            undocumented.append(name)
    assert not undocumented, undocumented


def test_the_tiers_do_not_overlap_and_plumbing_left_the_top_level() -> None:
    assert not set(trio_mcp.__all__) & set(trio_mcp.lowlevel.__all__)
    for name in PLUMBING:
        assert not hasattr(trio_mcp, name), name
        assert name in trio_mcp.lowlevel.__all__, name
    # Context.era is public; its type is one namespace down.
    assert typing.get_type_hints(trio_mcp.lowlevel.Connection) is not None
    assert trio_mcp.lowlevel.Era.MODERN.value == "modern"


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_type_hints_still_resolve_after_the_fixup(namespace: types.ModuleType) -> None:
    """``get_type_hints`` resolves a class's annotations in ``sys.modules[cls.__module__]``:
    the fix-up evaluated them where they were written first."""
    broken: list[str] = []
    for name in namespace.__all__:
        obj = getattr(namespace, name)
        if not isinstance(obj, type) or name in UNRESOLVABLE_HINTS:
            continue
        try:  # (not attrs.resolve_types: it would rewrite the fields' types for everyone)
            typing.get_type_hints(obj, include_extras=True)
        except Exception as exc:
            broken.append(f"{name}: {exc!r}")
    assert not broken, broken


def test_content_types_still_have_json_schemas_and_pickle() -> None:
    schema = schema_for(trio_mcp.TextContent)
    assert schema["properties"]["text"] == {"type": "string"}
    assert schema["required"] == ["text"]
    block = trio_mcp.TextContent("hi")
    assert pickle.loads(pickle.dumps(block)) == block
    assert repr(trio_mcp.Server).startswith("<class 'trio_mcp.Server'")
    assert pickle.loads(pickle.dumps(trio_mcp.lowlevel.Era.LEGACY)) is trio_mcp.lowlevel.Era.LEGACY


def reference_targets() -> list[str]:
    """Every ``::: trio_mcp...`` directive of the API reference pages."""
    return [
        m
        for page in sorted(REFERENCE.glob("*.md"))
        for m in re.findall(r"^::: (trio_mcp[\w.]*)$", page.read_text(), re.M)
    ]


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda m: m.__name__)
def test_every_export_is_in_the_api_reference(namespace: types.ModuleType) -> None:
    targets = set(reference_targets())
    missing = [n for n in namespace.__all__ if f"{namespace.__name__}.{n}" not in targets]
    assert not missing, f"not in docs/reference/*.md: {missing}"


def resolve(target: str) -> object:
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj: object = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"{target} does not resolve")


def doc_links() -> list[str]:
    """Reference targets and ``[text][trio_mcp.X]`` cross-references in docs/."""
    links = set(reference_targets())
    for page in (ROOT / "docs").rglob("*.md"):
        links.update(re.findall(r"\]\[(trio_mcp[\w.]*)\]", page.read_text()))
    return sorted(links)


def test_names_in_the_docs_resolve() -> None:
    broken: list[str] = []
    for target in doc_links():
        try:
            resolve(target)
        except (AttributeError, AssertionError):
            broken.append(target)
    assert not broken, broken
