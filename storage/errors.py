"""Storage errors::

StorageError
├── Conflict       a unique value is already taken
└── Unavailable    the database cannot be reached
"""

from __future__ import annotations

__all__ = ["Conflict", "StorageError", "Unavailable"]


class StorageError(Exception):
    """Root of every error raised by ``storage``."""


class Conflict(StorageError):
    pass


class Unavailable(StorageError):
    pass
