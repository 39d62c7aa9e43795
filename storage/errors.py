"""Storage errors::

StorageError
├── Conflict       a unique value is already taken
├── Contention     the transaction lost a deadlock or a serialization race: run it again
└── Unavailable    the database cannot be reached
"""

from __future__ import annotations

__all__ = ["Conflict", "Contention", "StorageError", "Unavailable"]


class StorageError(Exception):
    """Root of every error raised by ``storage``."""


class Conflict(StorageError):
    pass


class Contention(StorageError):
    pass


class Unavailable(StorageError):
    pass
