"""Notifications to a closed app (``docs/push.md``): a device subscribes its
browser's Web Push subscription, or registers its mobile app's token; the
server pushes to it, when the device has no open socket, a payload that
names no one and quotes nothing. A person's preferences say when pushes
stay quiet, which threads are muted, and where an email may tell them of a
message when no device of theirs can be reached."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from protocol.model import NO_NUL, Empty, Id, Ms, ThreadInfo
from protocol.practice import WeeklySpan

__all__ = [
    "PUSH_METHODS",
    "MobilePlatform",
    "MuteParams",
    "NotifyPreferences",
    "PushKey",
    "PushRegisterParams",
    "PushSubscribeParams",
]

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


class MobilePlatform(StrEnum):
    FCM = "fcm"  # Android: Firebase Cloud Messaging
    APNS = "apns"  # iOS: Apple Push Notification service


class PushRegisterParams(Struct, omit_defaults=True):
    """This device's mobile app push token: one per device, replacing a Web
    Push subscription it had."""

    platform: MobilePlatform
    # FCM registration tokens (about 160 characters), APNs device tokens (hex)
    token: Annotated[str, Meta(min_length=32, max_length=1024, pattern=r"^[A-Za-z0-9_:.-]+$")]
    preview: bool = False


# An address, loosely (RFC 5321's 254 characters; the mail server has the last word).
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")]


class NotifyPreferences(Struct, omit_defaults=True, kw_only=True):
    """When a person's pushes stay quiet, and where an email may reach them.

    During ``quiet_hours`` (weekly spans in ``time_zone``) and until
    ``do_not_disturb_until``, a push says only the count: no sound, no
    banner. ``email``: a patient with no device that can be reached (no app
    open, none subscribed) is told there, at most hourly, that a message
    waits: never by whom, never what."""

    quiet_hours: Annotated[list[WeeklySpan], Meta(max_length=28)] = []
    time_zone: Annotated[str, Meta(min_length=1, max_length=64), NO_NUL] = "Europe/Paris"
    do_not_disturb_until: Ms | None = None
    email: Email | None = None


class MuteParams(Struct):
    """Mute a thread (no push, no email for it; it still counts as unread)."""

    thread: Id
    muted: bool = True


PUSH_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "push.key": (Empty, PushKey),
    "push.subscribe": (PushSubscribeParams, Empty),
    "push.register": (PushRegisterParams, Empty),
    "push.unsubscribe": (Empty, Empty),
    "notify.get": (Empty, NotifyPreferences),
    "notify.set": (NotifyPreferences, NotifyPreferences),
    "threads.mute": (MuteParams, ThreadInfo),
}
