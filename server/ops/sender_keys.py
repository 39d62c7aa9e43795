"""Who an envelope or a sender key reaches, checked against the thread.

A version 1 envelope names its devices in the header; a version 2 one names
a sender key, which reaches the devices it was distributed to
(``keys.distribute``). Either way a send goes only if those are exactly the
thread's readers' current devices (``server.coverage``): a member added, a
device approved or removed, a delegate revoked since the key was
distributed refuses the send with ``stale_devices``, and the sender
distributes a new key. That is how sender keys rotate on every membership
change without the server ever holding one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from protocol.e2e import AnyHeader, GroupHeader
from protocol.model import Role
from server.context import Services
from server.coverage import delegates_of, recipient_gaps
from server.errors import stale_devices
from storage.keys import SenderKeyRef

__all__ = ["reached_devices", "require_coverage"]


async def reached_devices(ctx: Services, header: AnyHeader) -> Collection[int]:
    """The devices that can open the envelope ``header`` starts."""
    if isinstance(header, GroupHeader):
        ref = SenderKeyRef(header.thread, header.sender_device, header.sender_key)
        return await ctx.directory.sender_key_devices(ref)
    return [r.device for r in header.recipients]


async def require_coverage(
    ctx: Services, members: Mapping[int, Role], devices: Collection[int], now: int
) -> None:
    """``devices`` are exactly those of the thread's members and of their
    delegates who read for them; ``stale_devices`` says what differs."""
    member_ids = set(members)
    for attempt in range(2):
        lists = await ctx.directory.device_lists(member_ids)
        readers = member_ids | delegates_of(lists, member_ids, now)
        lists = await ctx.directory.device_lists(readers)
        gaps = recipient_gaps(lists, member_ids, devices, now)
        if not gaps:
            return
        if not attempt:  # our cached lists may be older than the sender's: read them again
            ctx.directory.forget_device_lists(readers)
    raise stale_devices(
        "the recipients do not match the thread's devices: fetch keys and seal again", **gaps
    )
