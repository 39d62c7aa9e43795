"""The names of everything carehub keeps in Redis, under one prefix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "carehub"

    @property
    def control(self) -> str:
        """The channel every node hears: control messages."""
        return f"{self.prefix}:control"

    @property
    def nodes(self) -> str:
        """The set of nodes that started and have not been reaped."""
        return f"{self.prefix}:nodes"

    def channel(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def users_of(self, node: str) -> str:
        """The users ``node`` holds sockets of."""
        return f"{self.prefix}:node:{node}:users"

    def alive(self, node: str) -> str:
        """Set with an expiry by ``node``'s heartbeat: gone, the node is dead."""
        return f"{self.alive_prefix}{node}:alive"

    @property
    def alive_prefix(self) -> str:
        return f"{self.prefix}:node:"

    def route(self, user_id: int) -> str:
        """The nodes holding sockets of ``user_id``."""
        return f"{self.prefix}:route:{user_id}"

    def presence(self, user_id: int) -> str:
        """Hash: ``n:{node}`` -> that node's status; ``status``/``seen`` as last pushed."""
        return f"{self.prefix}:presence:{user_id}"

    def lease(self, name: str) -> str:
        return f"{self.prefix}:lease:{name}"

    def rate(self, name: str) -> str:
        return f"{self.prefix}:rate:{name}"
