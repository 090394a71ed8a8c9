"""Public names say where users import them from: ``trio_mcp.Server.__module__ == "trio_mcp"``.

Everything is defined in private modules (``trio_mcp._app._server``...) and re-exported
by a public namespace (``trio_mcp``, ``trio_mcp.lowlevel``). Without a fix-up, reprs,
tracebacks, ``help()`` and pickles name the private module, which users must not
import and which moves when the code is reorganised. trio's ``fixup_module_metadata``
(``trio/_util.py``) is the model. The differences:

* Only the names in the namespace's ``__all__`` are touched, and only objects still
  reporting a private module: an object has exactly one public home, the first
  namespace that claims it.
* Before a class changes ``__module__``, its own string annotations (``from __future__
  import annotations``) are evaluated where they were written. ``typing.get_type_hints``
  resolves a class's annotations in ``sys.modules[cls.__module__]``, so without this,
  hints (and with them cattrs structuring and JSON Schema generation) would be looked
  up in the public namespace, where names like ``Any`` do not exist.
* Names are not rewritten: an exported name equals the object's ``__name__``
  (``tests/test_exports.py`` checks it).

Imports nothing from trio_mcp, and no trio.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["fixup_module_metadata"]

_PRIVATE = "trio_mcp._"


def fixup_module_metadata(
    module_name: str, namespace: Mapping[str, object], names: Iterable[str]
) -> None:
    """Make ``names`` of ``namespace`` report ``module_name`` as their module.

    Classes and functions defined in a private ``trio_mcp._*`` module get
    ``__module__ = module_name``, and so do the methods, properties and nested
    classes defined in such a class's body. Anything else (constants, objects from other
    packages, objects a public namespace has already claimed) is left alone.
    Idempotent.

    Args:
        module_name: The public module, e.g. ``"trio_mcp"``.
        namespace: Its globals.
        names: Its ``__all__``.
    """
    seen: set[int] = set()
    for name in names:
        _fix(module_name, namespace[name], seen)


def _fix(module_name: str, obj: object, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str) or not module.startswith(_PRIVATE):
        return
    if not (isinstance(obj, type) or callable(obj)):
        return
    if isinstance(obj, type):
        _resolve_own_annotations(obj, module)
    setattr(obj, "__module__", module_name)  # noqa: B010 - object is not typed as settable
    if isinstance(obj, type):
        prefix = obj.__qualname__ + "."
        for member in list(vars(obj).values()):
            for inner in _functions_of(member):
                # Defined in this class body, not merely referenced from it.
                if getattr(inner, "__qualname__", "").startswith(prefix):
                    _fix(module_name, inner, seen)


def _functions_of(member: Any) -> list[object]:
    """The functions and classes a class attribute stands for (methods, properties...)."""
    if isinstance(member, classmethod | staticmethod):
        return [member.__func__]
    if isinstance(member, property):
        return [f for f in (member.fget, member.fset, member.fdel) if f is not None]
    if isinstance(member, type) or callable(member):
        return [member]
    return []


def _resolve_own_annotations(cls: type, module: str) -> None:
    """Evaluate ``cls``'s string annotations in its defining module, in place.

    An annotation that cannot be evaluated there (a name imported only under
    ``TYPE_CHECKING``) stays a string, as it was.
    """
    own = inspect.get_annotations(cls)
    if not any(isinstance(v, str) for v in own.values()):
        return
    defining = sys.modules.get(module)
    # As typing.get_type_hints does for a class: the module's names first, then the
    # class body's (eval looks in its locals before its globals).
    module_names = dict(vars(defining)) if defining is not None else {}
    class_names = dict(vars(cls))
    resolved: dict[str, Any] = {}
    for key, value in own.items():
        if isinstance(value, str):
            try:
                value = eval(value, class_names, module_names)
            except Exception:
                pass
        resolved[key] = value
    cls.__annotations__ = resolved
