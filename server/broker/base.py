"""The broker interface: how a node hands a pushed frame to every node that
holds a recipient's connection, and a control message to every node.

Delivery contract: best-effort. A broker may drop, repeat or reorder
deliveries (two nodes' publications reach a third in either order) and
never blocks a publisher on a slow subscriber. Durable events are in the
store, and unless the broker is ``complete`` (one process, nothing lost)
nodes read them from there (``server.stream``); ephemeral ones (presence,
typing, popups) are simply lost.

Control contract (``server.broker.control``): a control message reaches
every node once, the publishing one included, with the same best effort.
One node's publications, deliveries and control messages alike, reach
each node in the order they were published: a node drops the caches a
commit made stale before it is handed that commit's events (the writer
publishes those control messages first, and the ones that close sockets
last).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from server.broker.control import Control, ControlHandler
from server.broker.shared import Leases, PresenceBoard
from server.ratelimit import Limiter

__all__ = ["Broker", "Delivery", "DeliveryHandler"]


class Delivery(msgspec.Struct, array_like=True, omit_defaults=True):
    """A frame for some users' connections, encoded once for all of them,
    and what routes it to the right ones."""

    recipients: list[int]
    frame: bytes
    seq: int | None = None  # durable events: the stream position
    exclude_session: str | None = None  # the sending connection already knows
    foreground_only: bool = False  # popups go to foreground sessions only
    thread: int | None = None  # a thread's event: it also reaches whoever reads for its members
    after: int | None = None  # an ephemeral push that must follow this seq (a popup, its message)
    exclude_device: int | None = None  # the sending device already knows (a message it sent)


DeliveryHandler = Callable[[Delivery], None]


class Broker(Protocol):
    """Deliveries and control messages between nodes. It also hands out
    what the nodes share beside them, each an interface of its own with a
    local and a Redis implementation: presence, rate limits, leases."""

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

    async def start(self, handler: DeliveryHandler, control: ControlHandler) -> None:
        """Begin handing deliveries for this node's users to ``handler``,
        and every control message to ``control``."""

    async def publish(self, delivery: Delivery) -> None:
        """Send ``delivery`` to every node that holds one of its recipients."""

    async def publish_control(self, message: Control) -> None:
        """Send ``message`` to every node, this one included."""

    async def attach(self, user_ids: Iterable[int]) -> None:
        """Deliveries for ``user_ids`` must reach this node from now on."""

    async def detach(self, user_ids: Iterable[int]) -> None:
        """This node holds nothing of ``user_ids`` any more."""

    async def stop(self) -> None: ...
