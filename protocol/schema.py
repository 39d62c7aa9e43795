"""JSON Schema of every frame, method and event (``carehub schema`` prints it)."""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.codec import PROTOCOL_VERSIONS, SUBPROTOCOL
from protocol.events import DURABLE_EVENTS, EVENTS
from protocol.frames import ClientFrame, ServerFrame
from protocol.methods import METHODS

__all__ = ["json_schema"]


def json_schema() -> dict[str, Any]:
    """The schema, with every description's whitespace collapsed: how msgspec dedents a
    docstring changed between releases, and the published file must change only when
    the protocol does."""
    method_types = [t for spec in METHODS.values() for t in (spec.params, spec.result)]
    types = [ClientFrame, ServerFrame, *method_types, *EVENTS.values()]
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    client_ref, server_ref, *rest = refs
    method_refs = iter(rest[: len(method_types)])
    event_refs = rest[len(method_types) :]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"carehub wire protocol ({SUBPROTOCOL})",
        "description": (
            "Each WebSocket message is one MessagePack map tagged by 't'. "
            "'bytes' fields are MessagePack bin (base64 in this JSON view); "
            "times are milliseconds since the Unix epoch."
        ),
        "versions": list(PROTOCOL_VERSIONS),
        "client_frame": client_ref,
        "server_frame": server_ref,
        "methods": {
            name: {"params": next(method_refs), "result": next(method_refs)} for name in METHODS
        },
        "events": {
            name: {"data": ref, "durable": name in DURABLE_EVENTS}
            for name, ref in zip(EVENTS, event_refs, strict=True)
        },
        "$defs": _normalised(components),
    }


def _normalised(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: " ".join(value.split())
            if key == "description" and isinstance(value, str)
            else _normalised(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_normalised(item) for item in node]
    return node
