"""What every handler shares: its signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from server.connection import Connection
from server.context import Services

__all__ = ["Handler"]

Handler = Callable[[Services, Connection, Any], Awaitable[Any]]
