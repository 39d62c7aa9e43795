"""Passwords (argon2id) and opaque bearer tokens (stored as SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import nacl.exceptions
import nacl.pwhash

__all__ = ["hash_password", "hash_token", "new_token", "verify_password"]

TOKEN_PREFIX = "chb_"  # recognisable by secret scanners


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Tokens carry 256 random bits, so a fast hash is enough to store them."""
    return hashlib.sha256(token.encode()).digest()


async def hash_password(password: str) -> str:
    hashed = await asyncio.to_thread(nacl.pwhash.argon2id.str, password.encode())
    return hashed.decode()


async def verify_password(stored: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(
            nacl.pwhash.argon2id.verify, stored.encode(), password.encode()
        )
    except nacl.exceptions.InvalidkeyError:
        return False
