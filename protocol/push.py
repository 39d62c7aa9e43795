"""Notifications to a closed app (``docs/push.md``): a device subscribes its
browser's Web Push subscription; the server pushes to it, when the device
has no open socket, a payload that names no one and quotes nothing."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from protocol.model import Empty

__all__ = ["PUSH_METHODS", "PushKey", "PushSubscribeParams"]

Base64Url = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]+$")]


class PushKey(Struct):
    """The server's VAPID public key: the browser's ``applicationServerKey``."""

    public_key: str


class PushSubscribeParams(Struct, omit_defaults=True):
    """This device's ``PushSubscription`` (its ``toJSON()``): one per device,
    a new one replaces the old."""

    endpoint: Annotated[str, Meta(min_length=12, max_length=1024, pattern=r"^https?://[^\s]+$")]
    p256dh: Annotated[Base64Url, Meta(min_length=86, max_length=88)]  # a P-256 point, 65 bytes
    auth: Annotated[Base64Url, Meta(min_length=22, max_length=24)]  # 16 bytes
    preview: bool = False  # this device opens the message to show a preview itself


PUSH_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "push.key": (Empty, PushKey),
    "push.subscribe": (PushSubscribeParams, Empty),
    "push.unsubscribe": (Empty, Empty),
}
