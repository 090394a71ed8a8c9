"""What prompts and sampling send: :class:`Message` and the conversion of return values."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .._schema._content import CONTENT_TYPES, Content, TextContent

__all__ = ["Message", "messages_of"]


@attrs.frozen
class Message:
    """One prompt message: a role and one content block (a ``str`` means text)."""

    role: Literal["user", "assistant"]
    content: Content | str

    def to_wire(self) -> dict[str, Any]:
        content = TextContent(self.content) if isinstance(self.content, str) else self.content
        return {"role": self.role, "content": content.to_wire()}


def messages_of(value: Any) -> list[dict[str, Any]]:
    """Turn what a prompt returned into ``messages``."""
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if isinstance(item, Message):
            out.append(item.to_wire())
        elif isinstance(item, (str, *CONTENT_TYPES)):
            out.append(Message("user", item).to_wire())
        else:
            raise TypeError(
                f"a prompt returned {type(item).__name__}; expected Message, str or content"
            )
    return out
