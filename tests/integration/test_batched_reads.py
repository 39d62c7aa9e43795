"""Sockets saying hello at once: their sessions are read together (on
PostgreSQL in one statement), each caller getting its own, on both
databases: known tokens, a revoked one, an unknown one, one asked twice."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert

from storage import Store
from storage.accounts import SESSIONS_AT_ONCE
from storage.schema import tokens
from tests.support.rows import people, thread_of


async def test_sessions_asked_at_once_each_get_their_own(store: Store) -> None:
    patient, doctor = await people(store)
    _, device = await thread_of(store, patient, doctor)
    hashes = [bytes([n]) * 32 for n in range(12)]
    async with store.db.write() as conn:
        for n, token_hash in enumerate(hashes):
            row = {"token_hash": token_hash, "user_id": patient, "device_id": device}
            row |= {"created_at": 0, "expires_at": 1000 + n, "revoked_at": 5 if n == 3 else None}
            await conn.execute(insert(tokens).values(**row))
    unknown = b"?" * 32
    asked = [*hashes, unknown, hashes[7]]
    assert len(asked) > 2 * SESSIONS_AT_ONCE  # some are read together
    sessions = await asyncio.gather(*(store.accounts.session(h) for h in asked))
    assert sessions[12] is None
    known = [s for s in sessions if s is not None]
    assert [s.expires_at for s in known] == [*range(1000, 1012), 1007]
    assert [s.revoked for s in known] == [n == 3 for n in range(12)] + [False]
    assert {(s.user.id, s.device_id, s.locale) for s in known} == {(patient, device, "fr")}
