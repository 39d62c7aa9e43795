"""A node's services, built once by ``create_app`` (``Context``), and the
part of them handlers and operations may use (``Services``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from server.auth import Passwords
from server.broker.base import Broker, Delivery
from server.broker.control import Control
from server.clock import Clock
from server.directory import Directory
from server.hub import Hub
from server.popup_counts import PopupCounts
from server.presence import Presence
from server.push_progress import PushProgress
from server.ratelimit import Limiter
from server.receipt_writes import ReceiptWrites
from server.settings import Settings
from server.stream import Follower
from server.webpush import VapidKey
from server.writer import Writer
from storage import Store
from storage.blobs import BlobStore

if TYPE_CHECKING:
    from server.ops.receipts import ReceiptPlan

__all__ = ["Context", "Publisher", "Services"]


@dataclass
class Context:
    settings: Settings
    store: Store
    broker: Broker
    hub: Hub
    writer: Writer
    directory: Directory
    presence: Presence
    clock: Clock
    blobs: BlobStore
    passwords: Passwords
    vapid: VapidKey  # this deployment's Web Push identity (docs/push.md)
    receipt_writes: ReceiptWrites[ReceiptPlan]  # being stored
    popup_counts: PopupCounts  # what the care team's popups say is unread
    push: PushProgress = field(default_factory=PushProgress)  # this node's push queue
    follower: Follower | None = None  # durable events from storage (several nodes)
    draining: bool = False  # a graceful stop began: no new sockets


class Publisher(Protocol):
    async def publish(self, delivery: Delivery) -> None:
        """Hand ``delivery`` to every node holding one of its recipients."""

    async def publish_control(self, message: Control) -> None:
        """Hand ``message`` to every node (ended sessions close everywhere)."""

    @property
    def limits(self) -> Limiter:
        """Rate limits shared by the nodes (a password's tries)."""


class Services(Protocol):
    """What handlers (``server.rpc``) and operations (``server.ops``) may use
    of a node: reads and writes through storage and the writer, the caches,
    the clock and settings, documents' blobs, presence, the password hasher
    (an account's own password, ``server.ops.accounts``), and publishing (an
    ephemeral event, ``server.ops.live``; a control message; a rate limit).
    Not the node's sockets (the hub), its broker's subscriptions or its
    chores' state: ``Context`` has them, and satisfies this."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def writer(self) -> Writer: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def presence(self) -> Presence: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def vapid(self) -> VapidKey: ...
    @property
    def receipt_writes(self) -> ReceiptWrites[ReceiptPlan]: ...
    @property
    def popup_counts(self) -> PopupCounts: ...
    @property
    def broker(self) -> Publisher: ...
    @property
    def passwords(self) -> Passwords: ...
