"""The durable event stream clients resume from.

Seqs are one increasing series over the whole deployment, handed out inside
the writing transaction. On PostgreSQL they come from the sequence
``event_seq``: no lock is taken, so the writers of several nodes number and
commit independently, and their commits land out of seq order (seq 8 may
commit after seq 9, or never, if its transaction rolls back). On SQLite they
come from the ``events`` row of ``stream_positions``; SQLite has one writer
at a time, so there commits land in seq order.

A reader therefore never reads past the *horizon*: the newest seq at or
below which every event is final (committed, or never to be). ``Horizon``
finds it from the database alone, with no help from the writers (see its
docstring), so a writer that dies mid-transaction cannot hold it back for
longer than PostgreSQL takes to end that transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    FromClause,
    Integer,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    column,
    delete,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.audit import AUDIT_COLUMNS, AuditTx
from storage.batches import Batched, read_together, rows_of_each
from storage.db import Database
from storage.hot import Autocommit, Hot, insert_of, unnested
from storage.messages import COLUMNS as MESSAGE_COLUMNS
from storage.messages import StoredMessage, from_row
from storage.schema import audit, delegations, events, messages, participants
from storage.schema import stream_positions as positions

__all__ = [
    "Events",
    "Horizon",
    "Membership",
    "NewEvent",
    "StoredEvent",
    "require_one_seq_at_a_time",
    "settle",
]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store: for a thread's members or for one user. A
    ``message.new`` event points at its message instead of carrying data."""

    type: str
    thread_id: int | None = None
    user_id: int | None = None
    message_id: int | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    type: str
    data: bytes | None
    message: StoredMessage | None
    thread_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """One member's window in a thread: they see its events with
    ``joined < seq <= left``."""

    user_id: int
    joined: int
    left: int | None

    def covers(self, seq: int) -> bool:
        return self.joined < seq and (self.left is None or seq <= self.left)


_EVENT_COLUMNS = (
    events.c.seq,
    events.c.type,
    events.c.data,
    events.c.thread_id,
    events.c.user_id,
    *MESSAGE_COLUMNS,
)

# The participant row's membership window covers the event.
_in_window = and_(
    events.c.seq > participants.c.joined_seq,
    participants.c.left_seq.is_(None) | (events.c.seq <= participants.c.left_seq),
)

_ADVANCE = Hot(
    update(positions)
    .where(positions.c.name == bindparam("position"))
    .values(value=positions.c.value + bindparam("by"))
    .returning(positions.c.value)
)
_APPEND = Hot(
    insert_of(events, "seq", "type", "thread_id", "user_id", "message_id", "data", "created_at")
)

# PostgreSQL: ``n`` seqs from the sequence. The filter gives the transaction
# its id before the first ``nextval`` (it is evaluated before any row is
# produced): a probe of the horizon that can see a seq taken can then also
# see that its transaction is still open.
_TAKE_SEQS = (
    "SELECT nextval('event_seq') AS seq FROM generate_series(1, :n)"
    " WHERE pg_current_xact_id() IS NOT NULL"
)
_NEXTVAL = Hot(text(_TAKE_SEQS).bindparams(bindparam("n", type_=Integer)))
_EVENT_FIELDS = ("type", "thread_id", "user_id", "message_id", "data")


def _arrays(table: Table, names: Sequence[str], prefix: str) -> list[BindParameter[Any]]:
    """A parameter per column, each an array of its values, one per row."""
    return [bindparam(prefix + name, type_=ARRAY(table.c[name].type)) for name in names]


def _unnest(binds: Sequence[BindParameter[Any]]) -> str:
    return "unnest(" + ", ".join(f":{bind.key}" for bind in binds) + ")"


def _store() -> Hot:
    """PostgreSQL: a write transaction's end in one statement (one round trip
    instead of three): seqs taken for the events not yet numbered, ranked so
    that the k-th of them in the caller's order gets the k-th smallest; the
    events stored; the audit lines stored beside them. Returns the new seqs,
    smallest first."""
    events_in = [
        bindparam("given", type_=ARRAY(BigInteger)),
        bindparam("place", type_=ARRAY(BigInteger)),
    ]
    events_in += _arrays(events, _EVENT_FIELDS, "event_")
    lines_in = _arrays(audit, AUDIT_COLUMNS, "line_")
    fields, columns = ", ".join(_EVENT_FIELDS), ", ".join(AUDIT_COLUMNS)
    sql = (
        f"WITH taken AS ({_TAKE_SEQS}),"
        " ranked AS (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM taken),"
        f" pending AS (SELECT * FROM {_unnest(events_in)} AS e(given, place, {fields})),"
        f" stored AS (INSERT INTO events (seq, {fields}, created_at)"
        f" SELECT coalesce(pending.given, ranked.seq), {fields}, :now"
        " FROM pending LEFT JOIN ranked ON ranked.n = pending.place),"
        f" lines AS (INSERT INTO audit ({columns}) SELECT * FROM {_unnest(lines_in)})"
        " SELECT seq FROM ranked ORDER BY n"
    )
    binds = [bindparam("n", type_=Integer), bindparam("now", type_=BigInteger)]
    return Hot(text(sql).bindparams(*binds, *events_in, *lines_in))


_STORE = _store()
# The newest seq taken. ``nextval`` changes the sequence's row under an
# exclusive lock on its buffer, and for a moment the row holds the value it
# logs ahead to the WAL (32 past the newest taken). A plain ``SELECT
# last_value FROM event_seq`` reads the row after letting go of its own
# share lock, so it may see that value: a horizon built on it declared seqs
# final before they were taken, and its follower skipped them.
# ``pg_sequence_last_value`` (behind the ``pg_sequences`` view, since
# PostgreSQL 10; tested on 15) reads the row under the exclusive lock. It is
# NULL while the sequence was never called, which carehub leaves it only
# before the first event (migration 0014); nothing here resets it.
_ALLOCATED = text("SELECT coalesce(pg_sequence_last_value('event_seq'), 0) AS seq")
# The newest seq taken, then the ids of this database's open transactions:
# a backend shows its transaction's id (``backend_xid``) from the moment it
# is assigned until the commit is visible. The list is read after the seq
# because it depends on it (a subquery on the seq's row: its condition is
# always true, and only ties the list to the seq). Neither a
# snapshot's list of open transactions (it leaves out those newer than the
# newest one completed) nor ``pg_locks`` (every database of the cluster, and
# costly to read this often) would do.
_PROBE = text(
    "WITH taken AS (" + _ALLOCATED.text + ") SELECT taken.seq, ARRAY("
    "SELECT backend_xid::text FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
    " AND datname = current_database() AND taken.seq IS NOT NULL"
    ") FROM taken"
)


async def _advance(conn: AsyncConnection, name: str, by: int) -> int:
    value = await _ADVANCE.scalar(conn, {"position": name, "by": by})
    assert value is not None
    return int(value)


def settle(
    final: int, waiting: list[tuple[int, frozenset[int]]], allocated: int, open_now: frozenset[int]
) -> tuple[int, list[tuple[int, frozenset[int]]]]:
    """One probe of the horizon, as a pure step. ``final``: the horizon so
    far; ``waiting``: earlier probes not yet settled, each the newest seq
    then allocated and the transactions then open; ``allocated`` and
    ``open_now``: this probe's. A probe's seq is final once none of the
    transactions open at its time is open any more. Returns the new horizon
    and the probes still waiting."""
    settled, still = final, list[tuple[int, frozenset[int]]]()
    for seq, open_then in [*waiting, (allocated, open_now)]:
        remaining = open_then & open_now
        if not remaining:
            settled = max(settled, seq)
        elif seq > final and not (still and still[-1][0] == seq):  # the earlier waits less
            still.append((seq, remaining))
    still = [(seq, xids) for seq, xids in still if seq > settled]
    while len(still) > _MAX_WAITING:  # the newest two become one that waits for both
        (_, older), (newest, xids) = still[-2], still[-1]
        still[-2:] = [(newest, older | xids)]
    return settled, still


# Past this many waiting probes the newest are merged, never the oldest
# dropped: under overlapping transactions an old probe is the one that
# settles first, and a merged probe still waits for every transaction it must.
_MAX_WAITING = 64


@dataclass
class Horizon:
    """The newest seq at or below which every event is final, for one reader.

    PostgreSQL: a writer takes its seqs only once its transaction has an id
    (``_TAKE_SEQS``). A probe reads the newest seq taken, *then* the ids of
    this database's open transactions (``_PROBE``): every transaction that
    took a seq up to that one is, at that instant, either ended or listed.
    So that seq is final as soon as every listed transaction has ended,
    which a later probe sees (``settle``). Nothing depends on the writers
    announcing anything, and a dead writer's transaction ends when
    PostgreSQL notices its connection is gone. The cost: the horizon waits
    for every write transaction of this database open at the probe,
    related or not, so it trails the newest commit by about one write
    transaction (``docs/operations.md``: the settings that bound a stuck
    one). ``newest`` is the newest seq taken, as last probed.

    SQLite: one writer at a time, so the newest committed seq is final.
    """

    final: int = 0
    waiting: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    newest: int = 0

    @property
    def unsettled(self) -> bool:
        """Whether a later probe would move the horizon with no new commit."""
        return bool(self.waiting)

    async def probe(self, conn: AsyncConnection) -> int:
        """Probe on ``conn`` (``Database.poll``): the horizon now."""
        if conn.dialect.name != "postgresql":
            self.final = self.newest = await _committed_position(conn, "events")
            return self.final
        allocated, listed = (await conn.execute(_PROBE)).one()
        self.newest = int(allocated)
        open_now = frozenset(int(xid) for xid in listed)
        self.final, self.waiting = settle(self.final, self.waiting, self.newest, open_now)
        return self.final


def _stored(rows: Sequence[Sequence[Any]]) -> list[StoredEvent]:
    at = len(_EVENT_COLUMNS) - len(MESSAGE_COLUMNS)  # the message's columns, if joined
    return [
        StoredEvent(
            row[0], row[1], row[2], None if row[at] is None else from_row(row[at:]), row[3], row[4]
        )
        for row in rows
    ]


async def require_one_seq_at_a_time(conn: AsyncConnection) -> None:
    """The horizon's reasoning needs every ``nextval`` to take the sequence's
    next value: a session caching seqs (``CACHE`` over 1) could use one below
    a horizon already declared final. Refuse to start on such a sequence."""
    if conn.dialect.name != "postgresql":
        return
    cache = await conn.scalar(_SEQUENCE_CACHE)
    if cache != 1:
        raise RuntimeError(f"event_seq caches {cache} values: run ALTER SEQUENCE event_seq CACHE 1")


_SEQUENCE_CACHE = text("SELECT cache_size FROM pg_sequences WHERE sequencename = 'event_seq'")


def _position(name: str | BindParameter[str]) -> Select[tuple[int]]:
    return select(positions.c.value).where(positions.c.name == name)


_POSITION = Hot(_position(bindparam("name")))


async def _committed_position(conn: AsyncConnection, name: str) -> int:
    value = await _POSITION.scalar(conn, {"name": name})
    assert value is not None
    return int(value)


def _position_of(name: str) -> ScalarSelect[int]:
    return _position(name).scalar_subquery()


# The floor (events at or below it were pruned) and the head (the newest seq
# allocated) in one statement, a read of its own: on SQLite, without the pool
# checkout, BEGIN and COMMIT of a read transaction, which cost a resuming
# device 0.1 ms of the loop (benchmarks/README.md, issue 22, twenty-seventh
# session).
_BOUNDS_OF = {
    "sqlite": select(
        _position_of("events_floor").label("floor"), _position_of("events").label("head")
    ),
    "postgresql": select(
        _position_of("events_floor").label("floor"),
        _ALLOCATED.columns(column("seq", BigInteger)).scalar_subquery().label("head"),
    ),
}
_BOUNDS = {dialect: Hot(bounds) for dialect, bounds in _BOUNDS_OF.items()}


@dataclass(frozen=True, slots=True)
class Resume:
    """A device's resume: the events of ``user_id`` after ``cursor`` up to
    ``upto``, but the messages ``device_id`` sent, which it has."""

    user_id: int
    cursor: int
    device_id: int
    upto: int


_ASKED = tuple(each.name for each in fields(Resume))  # its fields, in order


def _after(fields: Sequence[ColumnElement[int]], *asked: FromClause) -> Select[Any]:
    """``Events.after``'s query, built once: a ``Resume``'s ``fields`` each
    bound, or columns of the rows ``asked`` (``limit`` and ``now`` are
    bound)."""
    user_id, cursor, device_id, upto = fields
    newer = and_(events.c.seq > cursor, events.c.seq <= upto)
    now = bindparam("now", type_=BigInteger)
    in_threads = (
        select(events.c.seq)
        .join(participants, participants.c.thread_id == events.c.thread_id)
        .where(participants.c.user_id == user_id, _in_window, newer)
        .correlate(*asked)
    )
    personal = select(events.c.seq).where(events.c.user_id == user_id, newer).correlate(*asked)
    reading = and_(
        delegations.c.delegate_id == user_id,
        delegations.c.reads.is_(True),
        delegations.c.expires.is_(None) | (delegations.c.expires > now),
        events.c.seq > delegations.c.granted_seq,
        newer,
    )
    in_their_threads = (
        select(events.c.seq)
        .join(participants, participants.c.thread_id == events.c.thread_id)
        .join(delegations, delegations.c.principal_id == participants.c.user_id)
        .where(reading, _in_window)
        .correlate(*asked)
    )
    # union, not union_all: a delegate may also be a member, or read for two members
    wanted = union(in_threads, personal, in_their_threads).subquery()
    not_its_own = messages.c.sender_device_id.is_(None) | (messages.c.sender_device_id != device_id)
    return (
        select(*_EVENT_COLUMNS)
        .join(wanted, wanted.c.seq == events.c.seq)
        .outerjoin(messages, messages.c.id == events.c.message_id)
        .where(not_its_own)
        .order_by(events.c.seq)
        .limit(bindparam("limit"))
    )


_AFTER_ONE = _after([bindparam(name, type_=BigInteger) for name in _ASKED])
_AFTER = Hot(_AFTER_ONE)
# A resuming device's first read: the bounds, then ``_after``'s page, in
# each row of one statement (a row of bounds alone if the page is empty),
# one round trip instead of two, both in the same snapshot. On PostgreSQL,
# the resumes asked meanwhile are read together, a page each, their rows
# numbered ``n`` (``benchmarks/README.md``, issue 22, twenty-ninth session).
_BOUNDS_SQLITE = _BOUNDS_OF["sqlite"].subquery("bounds")
_PAGE = _AFTER_ONE.subquery("page")
_RESUME_SQLITE = Hot(
    select(_BOUNDS_SQLITE.c.floor, _BOUNDS_SQLITE.c.head, *_PAGE.c)
    .select_from(_BOUNDS_SQLITE.outerjoin(_PAGE, true()))
    .order_by(_PAGE.c.seq)
)
_ASKED_RESUMES = unnested({name: BigInteger() for name in _ASKED})
_BOUNDS_PG = _BOUNDS_OF["postgresql"].subquery("bounds")
_PAGES = _after([_ASKED_RESUMES.c[name] for name in _ASKED], _ASKED_RESUMES).lateral("page")
_RESUMES = Hot(
    select(_ASKED_RESUMES.c.n, _BOUNDS_PG.c.floor, _BOUNDS_PG.c.head, *_PAGES.c)
    .select_from(_BOUNDS_PG.join(_ASKED_RESUMES, true()).outerjoin(_PAGES, true()))
    .order_by(_ASKED_RESUMES.c.n, _PAGES.c.seq)
)
REPLAY_PAGE = 500  # events a page of a replay holds at most
_NO_END = 2**62  # ``upto`` when the caller sets no end


class Events:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._resumes = Batched(self._read_resumes, read_together(db))

    async def head(self) -> int:
        """The newest seq allocated (not necessarily committed): no cursor
        the server gave out is above it."""
        return (await self._bounds())[1]

    async def floor(self) -> int:
        """Events at or below this seq have been pruned."""
        return (await self._bounds())[0]

    async def _bounds(self) -> tuple[int, int]:
        """The ``floor`` and the ``head``, read together."""
        async with self.db.read_one() as conn:
            row = await _BOUNDS[conn.dialect.name].first(conn, {})
        assert row is not None and None not in row
        return int(row[0]), int(row[1])

    async def after(
        self,
        user_id: int,
        cursor: int,
        limit: int,
        now: int,
        device_id: int | None = None,
        upto: int | None = None,
    ) -> list[StoredEvent]:
        """The user's events with ``cursor < seq <= upto``, oldest first, except the
        messages ``device_id`` sent itself (it has them): those of the
        threads whose membership window covers them, those addressed to them,
        and, from a delegation's start, the threads' events of each
        practitioner they read for (``delegations``)."""
        params = {"user_id": user_id, "cursor": cursor, "upto": _NO_END if upto is None else upto}
        params |= {"now": now, "device_id": -1 if device_id is None else device_id, "limit": limit}
        async with self.db.read_one() as conn:
            return _stored(await _AFTER.rows(conn, params))

    async def resume(self, asked: Resume, now: int) -> list[StoredEvent] | None:
        """``after``'s first page (``REPLAY_PAGE`` events at most), or None
        if the events after the cursor cannot be replayed: it is a cursor
        from the future (above the ``head``) or from before the ``floor``.
        Read with the resumes asked meanwhile."""
        return await self._resumes((asked, now))

    async def _read_resumes(
        self, asked: list[tuple[Resume, int]]
    ) -> list[list[StoredEvent] | None]:
        now = max(now for _, now in asked)  # the newest: their reads come after it
        resumes = [resume for resume, _ in asked]
        async with self.db.read_one() as conn:
            return await _resumed(conn, resumes, {"now": now, "limit": REPLAY_PAGE})

    async def prune(self, created_before: int) -> int:
        """Drop events older than ``created_before`` and raise the floor.
        Returns how many were dropped."""
        async with self.db.write() as conn:
            top = await conn.scalar(
                select(events.c.seq)
                .where(events.c.created_at < created_before)
                .order_by(events.c.seq.desc())
                .limit(1)
            )
            if top is None:
                return 0
            result = await conn.execute(delete(events).where(events.c.seq <= top))
            await conn.execute(
                update(positions).where(positions.c.name == "events_floor").values(value=top)
            )
            return result.rowcount


async def _resumed(
    conn: AsyncConnection | Autocommit, asked: list[Resume], bound: dict[str, int]
) -> list[list[StoredEvent] | None]:
    """Each resume's first page, or None for a cursor out of bounds."""
    params = [{name: getattr(resume, name) for name in _ASKED} for resume in asked]
    found = await rows_of_each(conn, _RESUME_SQLITE, _RESUMES, params, bound)
    return [_page(resume.cursor, rows) for resume, rows in zip(asked, found, strict=True)]


def _page(cursor: int, rows: list[tuple[Any, ...]]) -> list[StoredEvent] | None:
    """The events of a resume's rows (each the bounds, then an event or
    NULLs), or None if ``cursor`` is out of the bounds."""
    floor, head = rows[0][0], rows[0][1]
    assert floor is not None and head is not None  # ``stream_positions`` has both
    if not floor <= cursor <= head:
        return None
    return _stored([row[2:] for row in rows if row[2] is not None])


def _fields(event: NewEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _EVENT_FIELDS}


def _numbered(pending: Sequence[tuple[int | None, NewEvent]], new: Sequence[int]) -> list[int]:
    """Each event's seq: its own, or the next of ``new``."""
    fresh = iter(new)
    return [next(fresh) if seq is None else seq for seq, _ in pending]


class EventTx:
    """Events inside one write transaction (``WriteTx.events``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def allocate(self, count: int) -> list[int]:
        """``count`` new seqs for events this transaction will store, in
        increasing order, each greater than every seq allocated before."""
        if self.conn.dialect.name == "postgresql":
            return sorted(int(seq) for (seq,) in await _NEXTVAL.rows(self.conn, {"n": count}))
        last = await _advance(self.conn, "events", count)
        return list(range(last - count + 1, last + 1))

    async def store(
        self, pending: Sequence[tuple[int | None, NewEvent]], now: int, audit: AuditTx
    ) -> list[int]:
        """Store the transaction's events, those without a seq numbered in
        the order given, after every seq allocated before; and, on
        PostgreSQL, ``audit``'s lines with them (one statement; on SQLite
        they are written at the transaction's end). The events' seqs."""
        if not pending:
            return []
        unnumbered = sum(1 for seq, _ in pending if seq is None)
        if self.conn.dialect.name == "postgresql":
            new = await self._store_with(pending, unnumbered, now, audit.take())
            return _numbered(pending, new)
        numbered = _numbered(pending, await self.allocate(unnumbered) if unnumbered else [])
        await _APPEND.run_many(
            self.conn,
            [
                {"seq": seq, "created_at": now} | _fields(event)
                for seq, (_, event) in zip(numbered, pending, strict=True)
            ],
        )
        return numbered

    async def _store_with(
        self,
        pending: Sequence[tuple[int | None, NewEvent]],
        unnumbered: int,
        now: int,
        lines: Sequence[dict[str, Any]],
    ) -> list[int]:
        places = iter(range(1, len(pending) + 1))
        params: dict[str, Any] = {"now": now, "n": unnumbered}
        params["given"] = [seq for seq, _ in pending]
        params["place"] = [next(places) if seq is None else None for seq, _ in pending]
        params |= {
            f"event_{name}": [getattr(event, name) for _, event in pending]
            for name in _EVENT_FIELDS
        }
        params |= {f"line_{name}": [line[name] for line in lines] for name in AUDIT_COLUMNS}
        return [int(seq) for (seq,) in await _STORE.rows(self.conn, params)]

    async def between(self, after: int, upto: int, limit: int) -> list[StoredEvent]:
        """Every event with ``after < seq <= upto``, oldest first, at most ``limit``."""
        query = (
            select(*_EVENT_COLUMNS)
            .outerjoin(messages, messages.c.id == events.c.message_id)
            .where(events.c.seq > after, events.c.seq <= upto)
            .order_by(events.c.seq)
            .limit(limit)
        )
        return _stored((await self.conn.execute(query)).all())

    async def memberships(
        self, thread_ids: Sequence[int], after: int
    ) -> dict[int, list[Membership]]:
        """The membership windows of each thread still open after seq ``after``."""
        if not thread_ids:
            return {}
        query = select(
            participants.c.thread_id,
            participants.c.user_id,
            participants.c.joined_seq,
            participants.c.left_seq,
        ).where(
            participants.c.thread_id.in_(sorted(set(thread_ids))),
            participants.c.left_seq.is_(None) | (participants.c.left_seq > after),
        )
        rows = (await self.conn.execute(query)).all()
        found: dict[int, list[Membership]] = {}
        for thread_id, user_id, joined, left in rows:
            found.setdefault(thread_id, []).append(Membership(user_id, joined, left))
        return found
