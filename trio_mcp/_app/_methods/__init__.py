"""One function per MCP method the application answers, and the table that names them.

Each takes ``(core, request, peer, ctx)`` (see :data:`Method`) and returns the
result object, or raises :class:`McpError`. Era differences live here only where
a method's *semantics* differ; envelope differences (``resultType``, caching
hints, retired error codes) are the session's job. The lifecycle methods
(``initialize``, ``ping``, ``server/discover``, ``logging/setLevel``) are
answered by the session itself and never reach this table.
"""

from ._common import Method
from .listen import subscriptions_listen
from .prompts import completion_complete, prompts_get, prompts_list
from .resources import (
    resource_templates_list,
    resources_list,
    resources_read,
    resources_subscribe,
    resources_unsubscribe,
)
from .tasks import tasks_cancel, tasks_get, tasks_list, tasks_result, tasks_update
from .tools import call_tool, tools_list

__all__ = ["LEGACY_ONLY", "METHODS", "MODERN_ONLY", "Method", "call_tool"]

METHODS: dict[str, Method] = {
    "tools/list": tools_list,
    "tools/call": call_tool,  # takes ctx=None too: the dispatcher's fast path calls it directly
    "resources/list": resources_list,
    "resources/templates/list": resource_templates_list,
    "resources/read": resources_read,
    "resources/subscribe": resources_subscribe,
    "resources/unsubscribe": resources_unsubscribe,
    "prompts/list": prompts_list,
    "prompts/get": prompts_get,
    "completion/complete": completion_complete,
    "subscriptions/listen": subscriptions_listen,
    "tasks/get": tasks_get,
    "tasks/result": tasks_result,
    "tasks/list": tasks_list,
    "tasks/cancel": tasks_cancel,
    "tasks/update": tasks_update,
}
"""Method name -> handler."""

LEGACY_ONLY = frozenset(
    {"resources/subscribe", "resources/unsubscribe", "tasks/result", "tasks/list"}
)
"""Methods that exist only in the legacy era (``-32601`` in the modern one)."""
MODERN_ONLY = frozenset({"subscriptions/listen", "tasks/update"})
"""Methods that exist only in the modern era."""

NO_DEADLINE = frozenset({"subscriptions/listen", "tasks/result"})
"""Long-lived methods, ended by the client, the task's end or shutdown: no deadline."""
