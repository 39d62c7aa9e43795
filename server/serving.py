"""uvicorn, with carehub's graceful stop in front of its own."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from server.app import Lifecycle

__all__ = ["DrainingServer"]


class DrainingServer(uvicorn.Server):
    """On SIGTERM uvicorn cuts open WebSockets (1012), even mid-call. This
    server first stops accepting and drains (``Lifecycle.drain``): each
    socket answers the call it is on, sends what it has queued and closes
    with ``SERVER_SHUTDOWN``; then uvicorn shuts down as usual."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, seconds: float) -> None:
        super().__init__(config)
        self.lifecycle, self.seconds = lifecycle, seconds

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections
        await self.lifecycle.drain(self.seconds)
        await super().shutdown(sockets)
