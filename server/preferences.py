"""A person's notification preferences (``protocol.push.NotifyPreferences``):
kept as MessagePack, checked before they are kept, and read by the push
queue to decide whether a push stays quiet."""

from __future__ import annotations

import msgspec

from protocol.push import NotifyPreferences
from server.policy.rules import span_problems, weekly_window
from server.policy.zones import find_zone
from storage import Store

__all__ = ["decode_preferences", "is_quiet", "load_preferences", "preference_problems"]

_DECODER = msgspec.msgpack.Decoder(NotifyPreferences)
DEFAULT = NotifyPreferences()


def decode_preferences(stored: bytes | None) -> NotifyPreferences:
    return DEFAULT if stored is None else _DECODER.decode(stored)


async def load_preferences(store: Store, user_id: int) -> NotifyPreferences:
    return decode_preferences(await store.push.preferences(user_id))


def preference_problems(preferences: NotifyPreferences) -> list[str]:
    """What is wrong with ``preferences``, in English; empty if nothing."""
    problems = []
    if find_zone(preferences.time_zone) is None:
        problems.append(f"unknown time zone {preferences.time_zone!r}")
    return problems + span_problems(preferences.quiet_hours)


def is_quiet(preferences: NotifyPreferences, now: int) -> bool:
    """During quiet hours or do-not-disturb, a push says only the count."""
    until = preferences.do_not_disturb_until
    if until is not None and now < until:
        return True
    return weekly_window(preferences.quiet_hours, preferences.time_zone, now) is not None
