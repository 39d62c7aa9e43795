"""The broker interface: how a node hands a pushed frame to every node that
holds a recipient's connection.

Delivery contract: best-effort. A broker may drop, repeat or reorder
deliveries (two nodes' publications reach a third in either order) and
never blocks a publisher on a slow subscriber. Durable events are in the
store, and unless the broker is ``complete`` (one process, nothing lost)
nodes read them from there (``server.stream``); ephemeral ones (presence,
typing, popups) are simply lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from server.broker.shared import Leases, PresenceBoard
from server.ratelimit import Limiter

__all__ = ["Broker", "Delivery", "DeliveryHandler"]


class Delivery(msgspec.Struct, array_like=True, omit_defaults=True):
    """A frame for some users' connections, encoded once for all of them."""

    recipients: list[int]
    frame: bytes
    seq: int | None = None  # durable events: the stream position
    exclude_session: str | None = None  # the sending connection already knows
    foreground_only: bool = False  # popups go to foreground sessions only
    thread: int | None = None  # a thread's event: it also reaches whoever reads for its members
    thread_changed: int | None = None  # a thread whose membership caches are stale
    keys_changed: int | None = None  # a user whose cached device list is stale
    practice_changed: int | None = None  # a practitioner whose cached settings are stale
    access_changed: int | None = None  # a delegate whose delegations changed: it reconnects
    token_revoked: bytes | None = None  # a logged-out token's hash: its sockets close (no frame)
    after: int | None = None  # an ephemeral push that must follow this seq (a popup, its message)
    exclude_device: int | None = None  # the sending device already knows (a message it sent)


DeliveryHandler = Callable[[Delivery], None]


class Broker(Protocol):
    """Deliveries between nodes, and the state they share."""

    healthy: bool  # False while deliveries may be dropped
    # Whether every publication of a durable event reaches this node's hub,
    # in seq order (one process). If not, the hub delivers durable events
    # from storage (``server.stream``) and a publication only wakes it.
    complete: bool
    unheard: int  # publications to a node that had no subscription (``/healthz``)

    @property
    def presence(self) -> PresenceBoard: ...

    @property
    def limits(self) -> Limiter: ...

    @property
    def leases(self) -> Leases: ...

    async def start(self, handler: DeliveryHandler) -> None:
        """Begin handing deliveries for this node's users to ``handler``."""

    async def publish(self, delivery: Delivery) -> None:
        """Send ``delivery`` to every node that holds one of its recipients."""

    async def attach(self, user_ids: Iterable[int]) -> None:
        """Deliveries for ``user_ids`` must reach this node from now on."""

    async def detach(self, user_ids: Iterable[int]) -> None:
        """This node holds nothing of ``user_ids`` any more."""

    async def stop(self) -> None: ...
