"""Load a plan's users, devices, tokens and threads into a carehub database.

The benchmark measures messaging, not sign-up: registering thousands of
users through HTTP would spend minutes in argon2id, so they are written in
bulk with the storage schema instead (one password hash shared by all) and
each device gets a real bearer token, checked by the server at ``hello``.
Practitioners are verified, and their patients are theirs, as the practice
rules require.
Each user gets a real identity key and a signed device list with real device
keys, which the server checks every envelope's recipients against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
import nacl.pwhash
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from sqlalchemy import insert

from benchmarks.plan import Plan
from clients.e2e import Identity
from protocol.e2e import DeviceEntry
from protocol.model import ThreadKind
from protocol.practice import InboxSettings
from server.auth import hash_token, new_token
from server.policy import pair_key
from storage import Database
from storage.schema import (
    care_relations,
    device_lists,
    devices,
    inboxes,
    participants,
    threads,
    tokens,
    users,
)

__all__ = ["Seeded", "seed"]

PASSWORD = "benchmark password"
_DAY_MS = 24 * 3600 * 1000
_INBOX = msgspec.msgpack.Encoder().encode


@dataclass(frozen=True)
class Seeded:
    user_ids: list[int]  # [user]
    tokens: list[list[str]]  # [user][device]
    device_ids: list[list[int]]
    thread_ids: list[int]  # [room]


def _kind(roles: list[str], members: list[int]) -> ThreadKind:
    if len(members) != 2:
        return ThreadKind.GROUP
    if {roles[m] for m in members} == {"practitioner"}:
        return ThreadKind.PRACTITIONER_PRACTITIONER
    return ThreadKind.PATIENT_PRACTITIONER


async def _returning_ids(conn, table, rows: list[dict[str, object]]) -> list[int]:  # type: ignore[no-untyped-def]
    result = await conn.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row.id for row in result]


def _device_lists(
    user_ids: list[int], owners: list[int], device_ids: list[int], now: int
) -> list[dict[str, object]]:
    entries: dict[int, list[DeviceEntry]] = {user: [] for user in user_ids}
    for owner, device in zip(owners, device_ids, strict=True):
        sign_pk = bytes(SigningKey.generate().verify_key)
        enc_pk = bytes(PrivateKey.generate().public_key)
        entries[owner].append(DeviceEntry(device, sign_pk, enc_pk, now + 365 * _DAY_MS))
    return [
        {
            "user_id": user,
            "version": 1,
            "signed": Identity.generate().sign_list(user, 1, now, listed),
            "updated_at": now,
        }
        for user, listed in entries.items()
    ]


async def _practice(conn, plan: Plan, user_ids: list[int], now: int) -> None:  # type: ignore[no-untyped-def]
    """Each patient is a patient of the practitioners they share a thread
    with, and no practitioner's daily limit stops the load."""
    pairs = {
        (user_ids[a], user_ids[b])
        for room in plan.rooms
        for a in room
        for b in room
        if plan.roles[a] == "practitioner" and plan.roles[b] == "patient"
    }
    if pairs:
        rows = [
            {"practitioner_id": d, "patient_id": p, "source": "added", "created_at": now}
            for d, p in sorted(pairs)
        ]
        await conn.execute(insert(care_relations), rows)
    settings = _INBOX(InboxSettings(max_daily_messages=100_000))
    practitioners = sorted({d for d, _ in pairs})
    if practitioners:
        rows = [
            {"practitioner_id": d, "settings": settings, "updated_at": now} for d in practitioners
        ]
        await conn.execute(insert(inboxes), rows)


async def seed(url: str, plan: Plan) -> Seeded:
    now = time.time_ns() // 1_000_000
    password_hash = nacl.pwhash.argon2id.str(PASSWORD.encode()).decode()
    db = Database(url)
    try:
        await db.migrate()
        async with db.write() as conn:
            user_ids = await _returning_ids(
                conn,
                users,
                [
                    {
                        "username": f"bench-{index}",
                        "display_name": f"Bench {role} {index}",
                        "role": role,
                        "password_hash": password_hash,
                        "created_at": now,
                        "verified_at": now if role == "practitioner" else None,
                    }
                    for index, role in enumerate(plan.roles)
                ],
            )
            owners = [u for u in user_ids for _ in range(plan.devices)]
            device_rows = [{"user_id": u, "name": "bench", "created_at": now} for u in owners]
            flat_devices = await _returning_ids(conn, devices, device_rows)
            flat_tokens = [new_token() for _ in flat_devices]
            await conn.execute(
                insert(tokens),
                [
                    {
                        "token_hash": hash_token(token),
                        "user_id": owner,
                        "device_id": device,
                        "created_at": now,
                        "expires_at": now + _DAY_MS,
                    }
                    for token, owner, device in zip(flat_tokens, owners, flat_devices, strict=True)
                ],
            )
            await conn.execute(
                insert(device_lists), _device_lists(user_ids, owners, flat_devices, now)
            )
            thread_rows = []
            for room in plan.rooms:
                kind = _kind(plan.roles, room)
                members = {user_ids[m] for m in room}
                thread_rows.append(
                    {
                        "kind": kind,
                        "created_by": user_ids[room[0]],
                        "created_at": now,
                        "last_seq": 0,
                        "pair_key": pair_key(kind, members),
                    }
                )
            thread_ids = await _returning_ids(conn, threads, thread_rows)
            await conn.execute(
                insert(participants),
                [
                    {
                        "thread_id": thread_id,
                        "user_id": user_ids[member],
                        "joined_at": now,
                        "joined_seq": 0,
                        "delivered_seq": 0,
                        "read_seq": 0,
                    }
                    for thread_id, room in zip(thread_ids, plan.rooms, strict=True)
                    for member in room
                ],
            )
            await _practice(conn, plan, user_ids, now)
    finally:
        await db.close()
    per_user = plan.devices
    return Seeded(
        user_ids=user_ids,
        tokens=[flat_tokens[i : i + per_user] for i in range(0, len(flat_tokens), per_user)],
        device_ids=[flat_devices[i : i + per_user] for i in range(0, len(flat_devices), per_user)],
        thread_ids=thread_ids,
    )
