"""The single-process broker: a publish is a direct hand-off to the hub, a
control message a direct hand-off to the node's handler of them."""

from __future__ import annotations

from collections.abc import Iterable

from server.broker.base import Delivery, DeliveryHandler
from server.broker.control import Control, ControlHandler
from server.broker.shared import LocalBoard, LocalLeases
from server.ratelimit import LocalLimiter

__all__ = ["MemoryBroker"]


class MemoryBroker:
    healthy = True
    complete = True  # the writer's publications, each handed over at once, in seq order
    unheard = 0

    def __init__(self) -> None:
        self.presence = LocalBoard()
        self.limits = LocalLimiter()
        self.leases = LocalLeases()
        self._handler: DeliveryHandler | None = None
        self._control: ControlHandler | None = None

    async def start(self, handler: DeliveryHandler, control: ControlHandler) -> None:
        self._handler, self._control = handler, control

    async def publish(self, delivery: Delivery) -> None:
        if self._handler is not None:
            self._handler(delivery)

    async def publish_control(self, message: Control) -> None:
        if self._control is not None:
            self._control(message)

    async def attach(self, user_ids: Iterable[int]) -> None:
        """Every user is on this node: nothing to record."""

    async def detach(self, user_ids: Iterable[int]) -> None:
        """Every user is on this node: nothing to record."""

    async def stop(self) -> None:
        self._handler = self._control = None
