"""A griffe extension for ``make docs``: reST roles in docstrings become Markdown code.

trio_mcp's docstrings use reST roles (``:class:`Server```, ``:meth:`run```) that
read well in ``help()`` and IDEs; mkdocstrings renders Markdown, where they would
show literally. This turns ``:role:`~a.b.C``` into `` `C` `` and ``:role:`a.b.C```
into `` `a.b.C` ``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _replace(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class RstRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_replace, obj.docstring.value)
