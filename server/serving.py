"""uvicorn, with carehub's graceful stop in front of its own, and its log
kept for the server's faults."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from server.app import Lifecycle

__all__ = ["ClientFaults", "DrainingServer"]


class DrainingServer(uvicorn.Server):
    """On SIGTERM uvicorn cuts open WebSockets (1012), even mid-call. This
    server first stops accepting and drains (``Lifecycle.drain``): each
    socket answers the calls it has taken, sends what it has queued and closes
    with ``SERVER_SHUTDOWN``; then uvicorn shuts down as usual."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, seconds: float) -> None:
        super().__init__(config)
        self.lifecycle, self.seconds = lifecycle, seconds

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections
        await self.lifecycle.drain(self.seconds)
        await super().shutdown(sockets)


class ClientFaults(logging.Filter):
    """uvicorn logs a client's text frame of invalid UTF-8 as an ERROR with a
    traceback: any client could fill the log with them. It is the client's
    fault (the socket is closed with 1007): kept at DEBUG only, one line."""

    PREFIXES = ("Invalid UTF-8 sequence received from client",)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self.PREFIXES):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
