"""JSON Schema of every frame, method, event, end-to-end structure and HTTP
body (``carehub schema`` prints it)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from protocol.codec import PROTOCOL_VERSIONS, SUBPROTOCOL
from protocol.e2e import (
    AD_CONTEXT,
    COMMIT_CONTEXT,
    DEVICE_LIST_CONTEXT,
    DOCUMENT_CHUNK,
    DOCUMENT_CONTEXT,
    ENVELOPE_VERSION,
    GROUP_ENVELOPE_VERSION,
    MAX_SENDER_KEY_DEVICES,
    MESSAGE_KEY_CONTEXT,
    PAD_BLOCK,
    QR_VERSION,
    SAFETY_ITERATIONS,
    SAFETY_VERSION,
    SENDER_KEY_COMMIT_CONTEXT,
    SENDER_KEY_CONTEXT,
    SENDER_KEY_VERSION,
    SENDER_KEYS_ABOVE,
    SIGNATURE_CONTEXT,
    Body,
    DeviceList,
    DeviceRequest,
    DocumentRef,
    Envelope,
    GroupHeader,
    Header,
    QrPayload,
    SenderKey,
    SignedDeviceList,
    SignedSenderKey,
)
from protocol.events import DURABLE_EVENTS, EVENTS
from protocol.frames import ClientFrame, ServerFrame
from protocol.http import HTTP_BODIES, ErrorBody
from protocol.methods import METHODS
from protocol.practice import Notice
from protocol.templates import VARIABLES
from protocol.texts import CATALOGUES

__all__ = ["PAYLOADS", "json_schema"]

# What clients seal, sign or show, and the server's notices: MessagePack inside
# other fields (``envelope``, ``list``), described here so a client needs no source.
PAYLOADS: dict[str, type[Struct]] = {
    "envelope": Envelope,
    "header": Header,
    "group_header": GroupHeader,
    "signed_sender_key": SignedSenderKey,
    "sender_key": SenderKey,
    "body": Body,
    "document_ref": DocumentRef,
    "signed_device_list": SignedDeviceList,
    "device_list": DeviceList,
    "device_request": DeviceRequest,
    "qr_payload": QrPayload,
    "notice": Notice,
}
CONSTANTS = {
    "envelope_version": ENVELOPE_VERSION,
    "group_envelope_version": GROUP_ENVELOPE_VERSION,
    "sender_key_version": SENDER_KEY_VERSION,
    "sender_key_context": SENDER_KEY_CONTEXT.decode(),
    "sender_key_commit_context": SENDER_KEY_COMMIT_CONTEXT.decode(),
    "message_key_context": MESSAGE_KEY_CONTEXT.decode(),
    "sender_keys_above": SENDER_KEYS_ABOVE,
    "max_sender_key_devices": MAX_SENDER_KEY_DEVICES,
    "device_list_context": DEVICE_LIST_CONTEXT.decode(),
    "signature_context": SIGNATURE_CONTEXT.decode(),
    "ad_context": AD_CONTEXT.decode(),
    "commit_context": COMMIT_CONTEXT.decode(),
    "document_context": DOCUMENT_CONTEXT.decode(),
    "document_chunk_bytes": DOCUMENT_CHUNK,
    "pad_block": PAD_BLOCK,
    "safety_iterations": SAFETY_ITERATIONS,
    "safety_version_hex": SAFETY_VERSION.hex(),
    "qr_version": QR_VERSION,
    "template_variables": sorted(VARIABLES),
}


def json_schema() -> dict[str, Any]:
    """The schema, with every description's whitespace collapsed: how msgspec dedents a
    docstring changed between releases, and the published file must change only when
    the protocol does."""
    method_types = [t for spec in METHODS.values() for t in (spec.params, spec.result)]
    http_types = [t for pair in HTTP_BODIES.values() for t in pair if t is not None]
    types = [
        ClientFrame,
        ServerFrame,
        *method_types,
        *EVENTS.values(),
        *PAYLOADS.values(),
        *http_types,
        ErrorBody,
    ]
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    found = iter(refs)
    client_ref, server_ref = next(found), next(found)
    methods = {name: {"params": next(found), "result": next(found)} for name in METHODS}
    events = {name: {"data": next(found), "durable": name in DURABLE_EVENTS} for name in EVENTS}
    payloads = {name: next(found) for name in PAYLOADS}
    http = {
        endpoint: {
            "body": None if request is None else next(found),
            "answer": None if answer is None else next(found),
        }
        for endpoint, (request, answer) in HTTP_BODIES.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"carehub wire protocol ({SUBPROTOCOL})",
        "description": (
            "Each WebSocket message is one frame: a MessagePack map tagged by 't'. "
            "From version 2 on, a server's message after the welcome may instead be "
            "a MessagePack array of frames, read in order. "
            "'bytes' fields are MessagePack bin (base64 in this JSON view); "
            "times are milliseconds since the Unix epoch. Structures drawn as "
            "arrays ('prefixItems') are MessagePack arrays in that order. "
            "'payloads' travel as MessagePack inside bytes fields; 'http' bodies are JSON."
        ),
        "versions": list(PROTOCOL_VERSIONS),
        "client_frame": client_ref,
        "server_frame": server_ref,
        # what one WebSocket message from the server holds (an array: version 2)
        "server_message": {"anyOf": [server_ref, {"type": "array", "items": server_ref}]},
        "methods": methods,
        "events": events,
        "payloads": payloads,
        "constants": CONSTANTS,
        "http": {**http, "error": next(found)},
        # What carehub says, by code, in each language (``protocol.texts``).
        "texts": {locale.value: catalogue for locale, catalogue in CATALOGUES.items()},
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
