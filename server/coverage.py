"""Whether an envelope's recipients match the thread's current devices.

Pure: the lists come in already fetched. A send is refused unless every
current device of every member has a wrapped key (nobody silently misses a
message) and every wrapped key goes to a device the thread may reach: a
member's device, or a device of a delegate a member named (assistants read
for the practitioner who delegated to them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.e2e import DeviceList

__all__ = ["delegates_of", "recipient_gaps"]


def delegates_of(lists: Mapping[int, DeviceList], users: Iterable[int], now: int) -> set[int]:
    """The users' delegates whose delegation has not expired."""
    return {d.user for u in users if u in lists for d in lists[u].delegates if d.expires > now}


def _devices(lists: Mapping[int, DeviceList], users: Iterable[int], now: int) -> set[int]:
    return {e.device for u in users if u in lists for e in lists[u].devices if e.expires > now}


def recipient_gaps(
    lists: Mapping[int, DeviceList],
    members: Iterable[int],
    recipients: Iterable[int],
    now: int,
) -> dict[str, list[int]]:
    """What is wrong with ``recipients``: ``no_keys`` (members who published
    no device list), ``missing`` (current devices left out), ``unknown``
    (devices the thread may not reach). Empty when the send may go."""
    members = set(members)
    required = _devices(lists, members, now)
    allowed = required | _devices(lists, delegates_of(lists, members, now), now)
    given = set(recipients)
    gaps = {
        "no_keys": sorted(members - lists.keys()),
        "missing": sorted(required - given),
        "unknown": sorted(given - allowed),
    }
    return {name: found for name, found in gaps.items() if found}
