"""Everything a request handler needs, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from server.auth import Passwords
from server.broker.base import Broker
from server.clock import Clock
from server.directory import Directory
from server.hub import Hub
from server.presence import Presence
from server.settings import Settings
from server.stream import Follower
from server.webpush import VapidKey
from server.writer import Writer
from storage import Store
from storage.blobs import BlobStore

__all__ = ["Context"]


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
    push_position: int = -1  # how far this node's push queue got (storage has the truth)
    follower: Follower | None = None  # durable events from storage (several nodes)
    draining: bool = False  # a graceful stop began: no new sockets
