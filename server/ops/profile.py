"""A person's date of birth: set by them (or by whoever manages their
profile), and with their name how their practitioners find them
(``patients.find``) among their own patients."""

from __future__ import annotations

from datetime import UTC, date, datetime

from server.errors import invalid
from server.names import folded
from storage.accounts import UserRecord

__all__ = ["named", "past_day"]


def past_day(birth_date: str, now_ms: int) -> str:
    """``birth_date`` if it is a day that exists and has come; ``invalid`` otherwise."""
    try:
        day = date.fromisoformat(birth_date)
    except ValueError:
        raise invalid("no such day", birth_date=birth_date) from None
    if day > datetime.fromtimestamp(now_ms / 1000, UTC).date():
        raise invalid("a date of birth cannot be in the future", birth_date=birth_date)
    return birth_date


def named(user: UserRecord, name: str) -> bool:
    """Whether ``name`` is part of the user's, whatever the case and accents."""
    return folded(name) in folded(user.display_name)
