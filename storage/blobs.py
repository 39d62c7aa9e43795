"""Where encrypted document bytes live: an interface and a filesystem store.

An upload grows in ``partial/``; once its size and hash are checked it is
fsynced and renamed into ``blobs/`` in one step, so a reader never sees half
a file. Every method runs its file I/O off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol

__all__ = ["BlobStore", "FilesystemBlobs"]

_HASH_READ = 1 << 20


class BlobStore(Protocol):
    async def write(self, blob_id: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of an unfinished blob, dropping anything after it."""

    async def partial_hash(self, blob_id: str) -> tuple[int, bytes]:
        """Size and BLAKE2b-256 of an unfinished blob."""

    async def commit(self, blob_id: str) -> None:
        """Make an unfinished blob readable, atomically."""

    async def read(self, blob_id: str, offset: int, length: int) -> bytes: ...

    def path(self, blob_id: str) -> Path:
        """The finished blob's file, for range responses."""

    async def delete(self, blob_id: str) -> None:
        """Remove a blob, finished or not; nothing happens if there is none."""

    async def ids(self) -> set[str]:
        """Every blob id present, finished or not."""


class FilesystemBlobs:
    def __init__(self, root: Path) -> None:
        self._partial = root / "partial"
        self._done = root / "blobs"
        self._partial.mkdir(parents=True, exist_ok=True)
        self._done.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        return self._done / _checked(blob_id)

    async def write(self, blob_id: str, offset: int, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._partial / _checked(blob_id), offset, data)

    async def partial_hash(self, blob_id: str) -> tuple[int, bytes]:
        return await asyncio.to_thread(_hash, self._partial / _checked(blob_id))

    async def commit(self, blob_id: str) -> None:
        await asyncio.to_thread(self._commit, _checked(blob_id))

    async def read(self, blob_id: str, offset: int, length: int) -> bytes:
        return await asyncio.to_thread(_read, self.path(blob_id), offset, length)

    async def delete(self, blob_id: str) -> None:
        for path in (self._partial / _checked(blob_id), self.path(blob_id)):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def ids(self) -> set[str]:
        def scan() -> set[str]:
            return {p.name for p in (*self._partial.iterdir(), *self._done.iterdir())}

        return await asyncio.to_thread(scan)

    @staticmethod
    def _write(path: Path, offset: int, data: bytes) -> None:
        with open(path, "r+b" if path.exists() else "wb") as f:
            f.truncate(offset)
            f.seek(offset)
            f.write(data)

    def _commit(self, blob_id: str) -> None:
        partial = self._partial / blob_id
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, self._done / blob_id)
        directory = os.open(self._done, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _checked(blob_id: str) -> str:
    if not blob_id.isalnum():  # ids are server-made hex; never a path
        raise ValueError(f"bad blob id {blob_id!r}")
    return blob_id


def _hash(path: Path) -> tuple[int, bytes]:
    digest = hashlib.blake2b(digest_size=32)
    size = 0
    if path.exists():
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_READ):
                digest.update(chunk)
                size += len(chunk)
    return size, digest.digest()


def _read(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)
