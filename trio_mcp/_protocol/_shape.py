"""Shape every outgoing message for the version it is sent in, from the feature table.

The application writes one result for every version; this module makes it valid
in the negotiated one, reading only the request's :class:`Features` row. It is
called by the session alone (``respond``, ``send_request``, ``notification``,
``initialize`` and modern input requests), so no handler needs to know a version.
For the newest versions ``Features.shaped`` is empty and nothing here runs.

The rules:

* **Fields a version does not define are dropped**: ``title``, ``icons``,
  ``_meta``, ``annotations``, ``outputSchema`` on definitions (tools, resources,
  templates, prompts, prompt arguments, ``serverInfo``); ``structuredContent``
  on tool results before 2025-06-18; ``_meta`` on content blocks and resource
  contents, ``lastModified`` in annotations; ``message`` in 2024-11-05 progress;
  server capabilities the version does not name (``completions`` in 2024-11-05);
  ``mode`` and ``elicitationId`` in elicitation requests where undefined.
* **Content blocks a version lacks are downgraded** to the nearest block it has:

  - ``resource_link`` (before 2025-06-18) becomes a ``text`` block naming the
    link: ``Resource link: <title or name> <uri>`` (plus `` (mimeType)`` and
    `` - description`` when known), annotations kept. A text block is what a
    model can still read and a user can still follow; an embedded resource
    would claim contents the server never read.
  - ``audio`` (2024-11-05) becomes an embedded resource with the same bytes:
    ``{"type": "resource", "resource": {"uri": "data:<mimeType>;base64,",
    "mimeType": ..., "blob": <data>}}``. The data survives (a client can
    still play it); the URI is an empty RFC 2397 ``data:`` URI that names
    the media type, because the bytes are in ``blob``. In a sampling message
    (text or image only in 2024-11-05, no embedded resources) audio becomes a
    text note saying it was omitted.

* **Elicitation** (``elicitation/create``, legacy requests and modern input
  requests) is converted where the version can express the same question, and
  refused where it cannot:

  - titled single-select (``oneOf`` of ``const``/``title``) becomes
    ``enum`` + ``enumNames`` (2025-06-18 has the latter only);
  - ``default`` is dropped where the version allows it on booleans only;
  - a version without elicitation, a URL-mode request where URL mode does not
    exist, and a multi-select (``type: "array"``) property where multi-select
    does not exist are **refused**: :func:`shape_request` raises
    :class:`~trio_mcp.InternalError` naming what the version lacks, before
    anything is sent, so the handler's ``ctx.elicit`` raises it (a tool that
    does not catch it answers with that error). Turning a multi-select into a
    single choice or free text would silently change the question and the
    shape of the answer the handler receives.

Shaping never mutates what it is given when it changes something: changed
objects are copies (definitions are often shared between responses).
"""

from __future__ import annotations

from typing import Any

from .._errors import InternalError
from ._features import Features

__all__ = ["shape_input_requests", "shape_notification", "shape_request", "shape_result"]

# Keys every version defines, per kind; the row adds the rest (see _keys).
_TOOL = ("name", "description", "inputSchema")
_RESOURCE = ("uri", "name", "description", "mimeType", "size", "annotations")
_TEMPLATE = ("uriTemplate", "name", "description", "mimeType", "annotations")
_PROMPT = ("name", "description", "arguments")
_BLOCK = {
    "text": ("type", "text", "annotations"),
    "image": ("type", "data", "mimeType", "annotations"),
    "audio": ("type", "data", "mimeType", "annotations"),
    "resource": ("type", "resource", "annotations"),
    "resource_link": (
        "type",
        "uri",
        "name",
        "title",
        "description",
        "mimeType",
        "size",
        "annotations",
        "_meta",
    ),
}
_PRIMITIVE = ("type", "title", "description")


def _keys(f: Features, base: tuple[str, ...], *, meta: bool = True, title: bool = True) -> set[str]:
    keys = set(base)
    if title and f.titles:
        keys.add("title")
    if f.icons:
        keys.add("icons")
    if meta and f.definition_meta:
        keys.add("_meta")
    return keys


def _only(obj: dict[str, Any], keys: set[str] | frozenset[str]) -> dict[str, Any]:
    """``obj`` itself if every key is allowed, else a filtered copy."""
    for key in obj:
        if key not in keys:
            return {k: v for k, v in obj.items() if k in keys}
    return obj


# --------------------------------------------------------------- results


def shape_result(f: Features, method: str, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (of a request ``method``) made valid in ``f``'s version.

    Only called when ``f.needs_shaping(method)``.
    """
    if method == "tools/list":
        return _listed(result, "tools", _tool, f)
    if method == "resources/list":
        keys = _keys(f, _RESOURCE)
        return _listed(result, "resources", lambda d, _f: _only(d, keys), f)
    if method == "resources/templates/list":
        keys = _keys(f, _TEMPLATE)
        return _listed(result, "resourceTemplates", lambda d, _f: _only(d, keys), f)
    if method == "prompts/list":
        return _listed(result, "prompts", _prompt, f)
    if method in ("tools/call", "tasks/result"):
        out = dict(result)
        if "content" in out:
            out["content"] = _blocks(out["content"], f)
        if not f.structured_content:
            out.pop("structuredContent", None)
        return out
    if method == "prompts/get" and "messages" in result:
        messages = [
            {**m, "content": _block(m["content"], f)} if "content" in m else m
            for m in result["messages"]
        ]
        return {**result, "messages": messages}
    if method == "resources/read" and "contents" in result:
        return {**result, "contents": [_contents(c, f) for c in result["contents"]]}
    return result


def shape_initialize(f: Features, result: dict[str, Any]) -> dict[str, Any]:
    """The ``InitializeResult``: capabilities, ``serverInfo`` and instructions."""
    out = dict(result)
    caps = out.get("capabilities")
    if isinstance(caps, dict):
        out["capabilities"] = _only(caps, f.capabilities)
    info = out.get("serverInfo")
    if isinstance(info, dict):
        keys = {"name", "version"}
        if f.titles:
            keys.add("title")
        if f.icons:
            keys.update(("icons", "description", "websiteUrl"))
        out["serverInfo"] = _only(info, keys)
    if not f.instructions:
        out.pop("instructions", None)
    return out


def _listed(result: dict[str, Any], key: str, one: Any, f: Features) -> dict[str, Any]:
    items = result.get(key)
    if not isinstance(items, list):
        return result
    return {**result, key: [one(item, f) for item in items]}


def _tool(tool: dict[str, Any], f: Features) -> dict[str, Any]:
    keys = _keys(f, _TOOL)
    if f.tool_annotations:
        keys.add("annotations")
    if f.structured_content:
        keys.add("outputSchema")
    if f.task_support:
        keys.add("execution")
    return _only(tool, keys)


def _prompt(prompt: dict[str, Any], f: Features) -> dict[str, Any]:
    out = _only(prompt, _keys(f, _PROMPT))
    arguments = out.get("arguments")
    if not f.titles and isinstance(arguments, list):
        out = {
            **out,
            "arguments": [_only(a, {"name", "description", "required"}) for a in arguments],
        }
    return out


def _blocks(blocks: Any, f: Features) -> Any:
    if not isinstance(blocks, list):
        return blocks
    return [_block(b, f) for b in blocks]


def _block(block: Any, f: Features) -> Any:
    """One content block, downgraded if its type is missing, its fields filtered."""
    if not isinstance(block, dict):
        return block
    kind = block.get("type")
    if kind not in f.content:
        if kind == "resource_link":
            block = _link_as_text(block)
        elif kind == "audio":
            block = _audio_as_resource(block)
        kind = block.get("type")
    base = _BLOCK.get(kind)
    if base is None:
        return block  # a type no version defines: the application's own business
    keys = set(base)
    if f.definition_meta:
        keys.add("_meta")
    if kind == "resource_link" and f.icons:
        keys.add("icons")
    out = _only(block, keys)
    annotations = out.get("annotations")
    if isinstance(annotations, dict) and not f.annotations_last_modified:
        kept = _only(annotations, {"audience", "priority"})
        if kept is not annotations:
            out = {**out, "annotations": kept}
    if kind == "resource" and isinstance(out.get("resource"), dict):
        contents = _contents(out["resource"], f)
        if contents is not out["resource"]:
            out = {**out, "resource": contents}
    return out


def _contents(contents: Any, f: Features) -> Any:
    """Resource contents (text or blob): ``_meta`` only where defined."""
    if not isinstance(contents, dict) or f.definition_meta or "_meta" not in contents:
        return contents
    return {k: v for k, v in contents.items() if k != "_meta"}


def _link_as_text(link: dict[str, Any]) -> dict[str, Any]:
    text = f"Resource link: {link.get('title') or link.get('name')} <{link.get('uri')}>"
    if link.get("mimeType"):
        text += f" ({link['mimeType']})"
    if link.get("description"):
        text += f" - {link['description']}"
    out: dict[str, Any] = {"type": "text", "text": text}
    if "annotations" in link:
        out["annotations"] = link["annotations"]
    return out


def _audio_as_resource(audio: dict[str, Any]) -> dict[str, Any]:
    mime = audio.get("mimeType") or "application/octet-stream"
    resource = {"uri": f"data:{mime};base64,", "mimeType": mime, "blob": audio.get("data", "")}
    out: dict[str, Any] = {"type": "resource", "resource": resource}
    if "annotations" in audio:
        out["annotations"] = audio["annotations"]
    return out


# ------------------------------------------------ requests, notifications


def shape_request(f: Features, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A server-to-client request's ``params`` made valid in ``f``'s version.

    Raises:
        InternalError: the request cannot be expressed in this version (see the
            module docstring); nothing was sent.
    """
    if method == "elicitation/create":
        return _elicitation(f, params)
    if method == "sampling/createMessage" and isinstance(params.get("messages"), list):
        messages = [
            {**m, "content": _sampling_content(m["content"], f)}
            if isinstance(m, dict) and "content" in m
            else m
            for m in params["messages"]
        ]
        return {**params, "messages": messages}
    return params


def _sampling_content(content: Any, f: Features) -> Any:
    if isinstance(content, list):
        return [_sampling_content(c, f) for c in content]
    if isinstance(content, dict) and content.get("type") == "audio" and "audio" not in f.content:
        mime = content.get("mimeType", "audio")
        return {"type": "text", "text": f"[audio ({mime}) omitted: not in this protocol version]"}
    return content


def shape_input_requests(f: Features, requests: dict[str, Any]) -> dict[str, Any]:
    """Modern ``inputRequests`` (an ``input_required`` result or a task's ``tasks/get``)."""
    out: dict[str, Any] | None = None
    for key, ask in requests.items():
        if not isinstance(ask, dict) or ask.get("method") != "elicitation/create":
            continue
        params = ask.get("params")
        if not isinstance(params, dict):
            continue
        shaped = _elicitation(f, params)
        if shaped is not params:
            if out is None:
                out = dict(requests)
            out[key] = {**ask, "params": shaped}
    return requests if out is None else out


def _elicitation(f: Features, params: dict[str, Any]) -> dict[str, Any]:
    version = f.version
    if not f.elicitation:
        raise InternalError(
            message=f"elicitation/create does not exist in protocol version {version}",
            data={"protocolVersion": version},
        )
    url = params.get("mode") == "url" or "url" in params
    if url and not f.elicitation_url:
        raise InternalError(
            message=f"URL-mode elicitation does not exist in protocol version {version}"
            " (it needs 2025-11-25)",
            data={"protocolVersion": version},
        )
    out = params
    drop = set()
    if not f.elicitation_mode and "mode" in params:
        drop.add("mode")
    if not f.elicitation_id and "elicitationId" in params:
        drop.add("elicitationId")
    if drop:
        out = {k: v for k, v in out.items() if k not in drop}
    schema = out.get("requestedSchema")
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        properties = _requested(f, schema["properties"])
        if properties is not schema["properties"]:
            out = {**out, "requestedSchema": {**schema, "properties": properties}}
    return out


def _requested(f: Features, properties: dict[str, Any]) -> dict[str, Any]:
    if f.elicitation_multi_select and f.elicitation_titled_enums and f.elicitation_defaults:
        return properties
    multi = [
        name for name, p in properties.items() if isinstance(p, dict) and p.get("type") == "array"
    ]
    if multi and not f.elicitation_multi_select:
        raise InternalError(
            message=f"elicitation/create: multi-select properties ({', '.join(multi)}) do not"
            f" exist in protocol version {f.version} (they need 2025-11-25)",
            data={"protocolVersion": f.version, "properties": multi},
        )
    out: dict[str, Any] | None = None
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        shaped = prop
        if not f.elicitation_titled_enums and isinstance(prop.get("oneOf"), list):
            options = [o for o in prop["oneOf"] if isinstance(o, dict) and "const" in o]
            shaped = {k: v for k, v in prop.items() if k in (*_PRIMITIVE, "default")}
            shaped["type"] = "string"
            shaped["enum"] = [o["const"] for o in options]
            shaped["enumNames"] = [str(o.get("title", o["const"])) for o in options]
        if not f.elicitation_defaults and "default" in shaped and shaped.get("type") != "boolean":
            shaped = {k: v for k, v in shaped.items() if k != "default"}
        if shaped is not prop:
            if out is None:
                out = dict(properties)
            out[name] = shaped
    return properties if out is None else out


def shape_notification(
    f: Features, method: str, params: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A notification's ``params`` made valid in ``f``'s version."""
    if method == "notifications/progress" and params and not f.progress_message:
        return {k: v for k, v in params.items() if k != "message"}
    return params
