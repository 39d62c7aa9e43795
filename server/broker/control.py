"""Control messages: what every node must hear once, apart from deliveries.

A delivery carries a frame to some users' sockets, and reaches only the
nodes holding them. A control message says that something every node may
hold is stale (a cache) or must end (a socket): each node hears it once,
the publishing node included, and no socket ever sees it. Like deliveries,
control messages are best-effort; a node that may have missed some (an
outage of the broker) drops every cache and checks its sockets instead
(``server.app.recovered``).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

__all__ = [
    "AccessChanged",
    "Control",
    "ControlHandler",
    "KeysChanged",
    "PracticeChanged",
    "SessionsEnded",
    "ThreadChanged",
    "decode_control",
    "encode_control",
]


class ThreadChanged(msgspec.Struct, tag=True, array_like=True):
    """A thread's members changed: its cached members, receipt floors and
    the contacts of its old and new ``members`` are stale."""

    thread: int
    members: list[int]


class KeysChanged(msgspec.Struct, tag=True, array_like=True):
    """``user`` published a device list: their cached one is stale."""

    user: int


class PracticeChanged(msgspec.Struct, tag=True, array_like=True):
    """A practitioner's verification, inbox settings or rules changed."""

    practitioner: int


class AccessChanged(msgspec.Struct, tag=True, array_like=True):
    """A delegate's delegations changed: their cached grants are stale and
    their sockets reconnect with the new ones."""

    delegate: int


class SessionsEnded(msgspec.Struct, tag=True, array_like=True):
    """Sessions of ``user`` ended (a logout, a session ended from another
    device, a new password, a deactivation): the sockets opened with the
    tokens hashing to ``tokens`` close, on whichever node, saying ``why``."""

    user: int
    tokens: list[bytes]
    why: str


Control = ThreadChanged | KeysChanged | PracticeChanged | AccessChanged | SessionsEnded
ControlHandler = Callable[[Control], None]

encode_control = msgspec.msgpack.Encoder().encode
decode_control = msgspec.msgpack.Decoder(Control).decode
