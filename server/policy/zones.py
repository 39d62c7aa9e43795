"""Time zones by IANA name."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["find_zone"]


def find_zone(name: str) -> ZoneInfo | None:
    """The zone called ``name``, or None if it is not one: unknown, malformed
    (``../x``, a NUL byte) or a directory of the database (``Europe``, which
    zoneinfo fails to open with an ``OSError``, not a lookup error)."""
    try:
        return ZoneInfo(name)  # zoneinfo caches instances by key
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
