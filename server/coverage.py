"""Whether an envelope's recipients match the thread's current devices.

Pure: the lists come in already fetched. A send is refused unless the
wrapped keys go to exactly the thread's readers' current devices: each
member's, and each of the delegates a member named with the ``read`` scope
(assistants read for the practitioner who delegated to them). Nobody
silently misses a message, and a delegate the practitioner revoked gets no
key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.e2e import DeviceList, Scope

__all__ = ["delegates_of", "recipient_gaps"]


def delegates_of(lists: Mapping[int, DeviceList], users: Iterable[int], now: int) -> set[int]:
    """The users' delegates who may read for them now."""
    return {
        d.user for u in users if u in lists for d in lists[u].delegates if d.allows(Scope.READ, now)
    }


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
    readers = members | delegates_of(lists, members, now)
    required = _devices(lists, readers, now)
    given = set(recipients)
    gaps = {
        "no_keys": sorted(members - lists.keys()),
        "missing": sorted(required - given),
        "unknown": sorted(given - required),
    }
    return {name: found for name, found in gaps.items() if found}
