"""What each protocol version defines, as data: one row per version.

Every version rule of the protocol layer is read from :data:`TABLE` below, and
nowhere else: the session looks up the row once per request (``FEATURES[version]``)
and carries it on the :class:`~trio_mcp._protocol.IncomingRequest` as
``request.features``; the shaper (``_shape.py``) reads it to make every outgoing
message valid in its version. Handlers ask the row (``request.features.batches``),
they never compare version strings.

The columns, read against the official ``schema/<version>/schema.json`` of the
spec repository (``tests/protocol/test_features.py`` checks each one against the
vendored copies in ``tests/schemas/``):

* ``content``: the content block types of tool results and prompt messages
  (``audio`` from 2025-03-26, ``resource_link`` from 2025-06-18).
* ``structured_content``: ``CallToolResult.structuredContent`` and
  ``Tool.outputSchema`` (2025-06-18).
* ``titles``: ``title`` on tools, resources, templates, prompts, prompt
  arguments and ``Implementation`` (2025-06-18).
* ``icons``: ``icons`` on the same, and ``description``/``websiteUrl`` on
  ``Implementation`` (2025-11-25).
* ``tool_annotations``: ``Tool.annotations`` (2025-03-26). Content and resource
  annotations exist in every version; ``annotations_last_modified`` says whether
  they may carry ``lastModified`` (2025-06-18).
* ``definition_meta``: ``_meta`` on definitions, content blocks and resource
  contents (2025-06-18).
* ``task_support``: ``Tool.execution.taskSupport`` (2025-11-25 only; the modern
  tasks extension does not use it).
* ``progress_message``: ``notifications/progress`` may carry ``message`` (2025-03-26).
* ``elicitation``: ``elicitation/create`` exists (2025-06-18); with
  ``elicitation_mode`` (the ``mode`` field), ``elicitation_url`` (URL mode),
  ``elicitation_id`` (``elicitationId`` on URL requests: 2025-11-25 only),
  ``elicitation_defaults`` (``default`` on every primitive; 2025-06-18 allows it
  on booleans only), ``elicitation_titled_enums`` (``oneOf``/``anyOf`` of
  ``const`` + ``title``; ``enumNames`` exists wherever elicitation does) and
  ``elicitation_multi_select`` (``type: "array"`` enum properties), all 2025-11-25.
* ``batches``: JSON-RPC batches (2025-03-26 only).
* ``server_requests``: the server sends requests to the client (``sampling``,
  ``elicitation``, ``roots``), legacy; ``input_required``: it asks for them in an
  ``input_required`` result instead (multi round-trip requests, 2026-07-28).
* ``set_level``: ``logging/setLevel`` sets a session's level (legacy); without
  it the level rides on each request's ``_meta``.
* ``subscriptions_listen``: change notifications come on a
  ``subscriptions/listen`` stream (2026-07-28), not to the session
  (``resources/subscribe``, ``list_changed`` to everyone).
* ``tasks``: ``"core"`` (2025-11-25 ``params.task``, ``tasks/*``), ``"extension"``
  (2026-07-28, ``io.modelcontextprotocol/tasks``) or ``None``.
* ``capabilities``: the ``ServerCapabilities`` keys the version defines.
* ``invalid_arguments_protocol_error``: invalid tool arguments are a ``-32602``
  error; from 2025-11-25 they are an ``isError`` result (SEP-1303).
* ``instructions``: ``InitializeResult.instructions`` / ``DiscoverResult.instructions``.
* ``resource_not_found``: the error code for an unknown resource (``-32002``,
  retired in 2026-07-28 for ``-32602``).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

from ._versions import Era

__all__ = ["ALL_CONTENT", "FEATURES", "TABLE", "Features", "features_for"]

_BASE = frozenset({"text", "image", "resource"})
_AUDIO = _BASE | {"audio"}
ALL_CONTENT: Final = _AUDIO | {"resource_link"}
_CAPS = frozenset({"experimental", "logging", "prompts", "resources", "tools"})
_L, _M = Era.LEGACY, Era.MODERN

VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")

# fmt: off
#: The table. One column per version (in ``VERSIONS`` order), one line per feature.
TABLE: Final[dict[str, tuple[Any, ...]]] = {
    #                                   2024-11-05  2025-03-26  2025-06-18  2025-11-25  2026-07-28
    "era":                              (_L,        _L,         _L,         _L,         _M),
    "content":                          (_BASE,     _AUDIO,     ALL_CONTENT, ALL_CONTENT, ALL_CONTENT),
    "structured_content":               (False,     False,      True,       True,       True),
    "titles":                           (False,     False,      True,       True,       True),
    "icons":                            (False,     False,      False,      True,       True),
    "tool_annotations":                 (False,     True,       True,       True,       True),
    "annotations_last_modified":        (False,     False,      True,       True,       True),
    "definition_meta":                  (False,     False,      True,       True,       True),
    "task_support":                     (False,     False,      False,      True,       False),
    "progress_message":                 (False,     True,       True,       True,       True),
    "elicitation":                      (False,     False,      True,       True,       True),
    "elicitation_mode":                 (False,     False,      False,      True,       True),
    "elicitation_url":                  (False,     False,      False,      True,       True),
    "elicitation_id":                   (False,     False,      False,      True,       False),
    "elicitation_defaults":             (False,     False,      False,      True,       True),
    "elicitation_titled_enums":         (False,     False,      False,      True,       True),
    "elicitation_multi_select":         (False,     False,      False,      True,       True),
    "batches":                          (False,     True,       False,      False,      False),
    "server_requests":                  (True,      True,       True,       True,       False),
    "input_required":                   (False,     False,      False,      False,      True),
    "set_level":                        (True,      True,       True,       True,       False),
    "subscriptions_listen":             (False,     False,      False,      False,      True),
    "tasks":                            (None,      None,       None,       "core",     "extension"),
    "capabilities":                     (_CAPS,     _CAPS | {"completions"}, _CAPS | {"completions"},
                                         _CAPS | {"completions", "tasks"},
                                         _CAPS | {"completions", "extensions"}),
    "invalid_arguments_protocol_error": (True,      True,       True,       False,      False),
    "instructions":                     (True,      True,       True,       True,       True),
    "resource_not_found":               (-32002,    -32002,     -32002,     -32002,     -32602),
}
# fmt: on

_RESULTS_OF_DEFINITIONS = ("resources/list", "resources/templates/list", "prompts/list")
_RESULTS_WITH_CONTENT = ("tools/call", "prompts/get", "tasks/result")


@attrs.frozen(slots=True)
class Features:
    """One version's row of :data:`TABLE` (see the module docstring for each column).

    ``shaped`` is derived: the methods (results, server requests, notifications)
    whose messages may hold something this version lacks. It is empty for the
    newest versions, so shaping costs them one attribute test.
    """

    version: str
    era: Era
    content: frozenset[str]
    structured_content: bool
    titles: bool
    icons: bool
    tool_annotations: bool
    annotations_last_modified: bool
    definition_meta: bool
    task_support: bool
    progress_message: bool
    elicitation: bool
    elicitation_mode: bool
    elicitation_url: bool
    elicitation_id: bool
    elicitation_defaults: bool
    elicitation_titled_enums: bool
    elicitation_multi_select: bool
    batches: bool
    server_requests: bool
    input_required: bool
    set_level: bool
    subscriptions_listen: bool
    tasks: Literal["core", "extension"] | None
    capabilities: frozenset[str]
    invalid_arguments_protocol_error: bool
    instructions: bool
    resource_not_found: int
    shaped: frozenset[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "shaped", frozenset(_shaped(self)))

    def needs_shaping(self, method: str) -> bool:
        """True if a message of ``method`` may need changes to be valid in this version."""
        return method in self.shaped


def _shaped(f: Features) -> set[str]:
    out: set[str] = set()
    full_definitions = f.titles and f.icons and f.definition_meta
    if not (full_definitions and f.tool_annotations and f.structured_content):
        out.add("tools/list")
    if not full_definitions:
        out.update(_RESULTS_OF_DEFINITIONS)
        out.add("initialize")  # Implementation title/icons
    if not f.definition_meta:
        out.add("resources/read")
    if f.content != ALL_CONTENT or not (
        f.definition_meta and f.annotations_last_modified and f.structured_content
    ):
        out.update(_RESULTS_WITH_CONTENT)
    if f.content != ALL_CONTENT:
        out.add("sampling/createMessage")
    if "completions" not in f.capabilities:
        out.add("initialize")
    if not f.progress_message:
        out.add("notifications/progress")
    if (
        not (
            f.elicitation
            and f.elicitation_mode
            and f.elicitation_url
            and f.elicitation_id
            and f.elicitation_defaults
            and f.elicitation_titled_enums
            and f.elicitation_multi_select
        )
        and f.era is Era.LEGACY
    ):
        out.add("elicitation/create")  # modern input requests: see shape_input_requests
    return out


FEATURES: Final[dict[str, Features]] = {
    version: Features(version, **{name: column[i] for name, column in TABLE.items()})
    for i, version in enumerate(VERSIONS)
}
"""The rows, by protocol version."""


def features_for(version: str) -> Features:
    """The row of a supported ``version`` (``KeyError`` for anything else)."""
    return FEATURES[version]
