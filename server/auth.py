"""Passwords (argon2id) and opaque bearer tokens (stored as SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

import nacl.exceptions
import nacl.pwhash

from server.errors import busy

__all__ = ["Passwords", "hash_token", "new_token"]

TOKEN_PREFIX = "chb_"  # recognisable by secret scanners
T = TypeVar("T")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Tokens carry 256 random bits, so a fast hash is enough to store them."""
    return hashlib.sha256(token.encode()).digest()


class Passwords:
    """argon2id hashing and verification, ``at_once`` at a time.

    Each hash takes 64 MiB and a core for about a tenth of a second, so a
    burst of logins must queue rather than run side by side; past ``queue``
    waiting, a request is refused at once (``rate_limited``) instead of
    holding memory for a line that would not be served in time."""

    def __init__(self, at_once: int = 2, queue: int = 128) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._queue = queue
        self._waiting = 0
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        hashed = await self._run(nacl.pwhash.argon2id.str, password.encode())
        return hashed.decode()

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``. With nothing stored (an
        unknown username), a decoy is verified instead: timing tells nothing."""
        if stored is None:
            stored = self._decoy = self._decoy or await self.hash(new_token())
        try:
            return await self._run(nacl.pwhash.argon2id.verify, stored.encode(), password.encode())
        except nacl.exceptions.InvalidkeyError:
            return False

    async def _run(self, work: Callable[..., T], *args: bytes) -> T:
        if self._waiting >= self._queue:
            raise busy("the server is busy", retry_after_ms=1000)
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work, *args)
        finally:
            self._waiting -= 1
