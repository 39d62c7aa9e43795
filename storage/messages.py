"""Messages: one row per message, numbered within their thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.types import TypeEngine

from storage.db import Database
from storage.hot import Hot, hold, unnested
from storage.schema import messages, participants, sent_counts, threads

T = TypeVar("T")

__all__ = [
    "UNREAD_CAP",
    "Messages",
    "StoredMessage",
    "capped_count",
    "day_before",
    "sent_last_day",
]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    thread_id: int
    seq: int
    sender_id: int
    sender_device_id: int | None  # None: a notice the server wrote
    client_msg_id: str
    kind: str
    reason: str | None
    reply_allowed: bool
    envelope: bytes
    sent_at: int
    retracted_at: int | None = None
    expired_at: int | None = None


COLUMNS = (
    messages.c.id,
    messages.c.thread_id,
    messages.c.seq,
    messages.c.sender_id,
    messages.c.sender_device_id,
    messages.c.client_msg_id,
    messages.c.kind,
    messages.c.reason,
    messages.c.reply_allowed,
    messages.c.envelope,
    messages.c.sent_at,
    messages.c.retracted_at,
    messages.c.expired_at,
)


def from_row(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(*row[: len(COLUMNS)])


# The statements of every send (``storage.hot``).
_BY_CLIENT_ID = Hot(
    select(*COLUMNS).where(
        messages.c.sender_device_id == bindparam("device_id"),
        messages.c.client_msg_id == bindparam("client_msg_id"),
    )
)


_STORED = [
    column.key for column in COLUMNS if column.key not in ("id", "retracted_at", "expired_at")
]
# A send's values, named unlike any column its statements write (SQLAlchemy
# would take such a parameter for a value to set): bound parameters for one
# send, or, on PostgreSQL, the columns of its row among several sends'
# arrays (``unnested``). The new message's columns are ``new_<column>``.
_SEND_TYPES: dict[str, TypeEngine[Any]] = {
    **{f"new_{name}": messages.c[name].type for name in _STORED if name != "seq"},
    "thread_reply_allowed": Boolean(),  # None: unchanged
    "reader": BigInteger(),  # whose receipt moves (None: a delegate's send moves none)
    "recipient": BigInteger(),  # whom a daily limit counts for (None: no limit)
    "of_hour": BigInteger(),
}
_SendValues = Mapping[str, ColumnElement[Any]]
_ONE: _SendValues = {name: bindparam(name, type_=kind) for name, kind in _SEND_TYPES.items()}
_SENDS = unnested(_SEND_TYPES)
_EACH: _SendValues = {name: _SENDS.c[name] for name in _SEND_TYPES}


def _numbering(send: _SendValues) -> Update:
    """The thread's next seq. A care-side message also sets whether the
    patient may answer, in the same update of the thread's row."""
    return (
        update(threads)
        .where(threads.c.id == send["new_thread_id"])
        .values(
            last_seq=threads.c.last_seq + literal_column("1"),
            reply_allowed=func.coalesce(send["thread_reply_allowed"], threads.c.reply_allowed),
        )
        .returning(threads.c.last_seq, threads.c.id)
    )


def _row(seq: ColumnElement[int], send: _SendValues) -> Select[Any]:
    """The new message's row, numbered ``seq``."""
    return select(*(seq if name == "seq" else send[f"new_{name}"] for name in _STORED))


def _insert(row: Select[Any]) -> Insert:
    return insert(messages).from_select(_STORED, row, include_defaults=False)


def _sender_read(seq: ColumnElement[int], thread: ColumnElement[int], send: _SendValues) -> Update:
    """Having sent, the sender has read the thread up to their message."""
    return (
        update(participants)
        .where(
            participants.c.thread_id == thread,
            participants.c.user_id == send["reader"],
            participants.c.left_seq.is_(None),
        )
        .values(delivered_seq=seq, read_seq=seq)
    )


def _hour_of(send: _SendValues) -> list[ColumnElement[Any]]:
    """The row of ``sent_counts`` a send counts in."""
    return [send["new_sender_id"], send["recipient"], send["of_hour"]]


def _count_sent(dialect: Any, counted: Select[Any]) -> Insert:
    """What ``counted`` counts (sender, recipient, hour, how many) added
    to the hours' rows (an upsert)."""
    upsert: Any = dialect.insert(sent_counts)  # the dialect's, with ON CONFLICT
    upsert = upsert.from_select(["sender_id", "recipient_id", "hour", "count"], counted)
    counting: Insert = upsert.on_conflict_do_update(
        index_elements=["sender_id", "recipient_id", "hour"],
        set_={"count": sent_counts.c.count + upsert.excluded.count},
    )
    return counting


def _one_counted() -> Select[Any]:
    """One more message in the hour's row, if the send names a recipient
    (a patient's daily limit)."""
    return select(*_hour_of(_ONE), literal(1, BigInteger)).where(_ONE["recipient"].is_not(None))


def _numbered_insert() -> Insert:
    """PostgreSQL, one send in one statement: the thread's update as a
    common table expression the insert reads its seq from, the sender's
    receipt and the patient's hourly count beside it; one round trip
    instead of three. It returns whether the sender's receipt moved:
    another node may have removed them since the send's read."""
    numbered = _numbering(_ONE).cte("numbered")
    sender_read = _sender_read(numbered.c.last_seq, numbered.c.id, _ONE)
    read = sender_read.returning(participants.c.user_id).cte("sender_read")
    counted = _count_sent(postgresql, _one_counted()).cte("counted")
    stored = _insert(_row(numbered.c.last_seq, _ONE))
    return stored.returning(messages.c.id, messages.c.seq, exists(select(read.c.user_id))).add_cte(
        read, counted
    )


def _numbered_inserts() -> Select[Any]:
    """PostgreSQL, the sends of several threads, one each, in one statement
    (``SendsTogether``): the same writes as ``_numbered_insert``, a send
    per row of the arrays; for each, in the sends' order, the message's id
    and seq and whether its sender's receipt moved."""
    # Their threads' rows locked in id order, as one send at a time locks
    # them (the writer's order): not in the order the plan scans them.
    asked = select(_EACH["new_thread_id"])
    locked = (
        select(threads.c.id)
        .where(threads.c.id.in_(asked))
        .order_by(threads.c.id)
        .with_for_update()
        .cte("locked")
    )
    numbered = _numbering(_EACH).where(threads.c.id == locked.c.id).cte("numbered")
    its_thread = numbered.c.id == _EACH["new_thread_id"]
    sender_read = _sender_read(numbered.c.last_seq, numbered.c.id, _EACH).where(its_thread)
    read = sender_read.returning(participants.c.thread_id).cte("sender_read")
    hours = _hour_of(_EACH)
    counted = select(*hours, func.count()).where(_EACH["recipient"].is_not(None)).group_by(*hours)
    counting = _count_sent(postgresql, counted).cte("counted")
    row = _row(numbered.c.last_seq, _EACH).where(its_thread).order_by(_SENDS.c.n)
    stored = _insert(row).returning(messages.c.id, messages.c.seq, messages.c.thread_id)
    new = stored.cte("stored")
    return (
        select(new.c.id, new.c.seq, new.c.thread_id.in_(select(read.c.thread_id)))
        .join_from(new, _SENDS, new.c.thread_id == _EACH["new_thread_id"])
        .order_by(_SENDS.c.n)
        .add_cte(read, counting)
    )


_NEW_SEQ = bindparam("new_seq", type_=BigInteger)
# SQLite: a statement each (microseconds each)
_NEXT_SEQ = Hot(_numbering(_ONE))
_INSERT = Hot(_insert(_row(_NEW_SEQ, _ONE)).returning(messages.c.id, messages.c.seq))
_SENDER_READ = Hot(_sender_read(_NEW_SEQ, _ONE["new_thread_id"], _ONE))
_COUNT_SENT = Hot(_count_sent(sqlite, _one_counted()))
_NUMBER_AND_INSERT = Hot(_numbered_insert())
_NUMBER_AND_INSERTS = Hot(_numbered_inserts())
UNREAD_CAP = 100  # an unread count stops here: 100 reads "100 or more" (a badge: 99+)


def capped_count(*where: ColumnElement[bool]) -> Select[int]:
    """How many messages match, counted up to ``UNREAD_CAP``: however many
    a member left unread, a count reads at most that many rows."""
    matching = select(messages.c.id).where(*where).limit(UNREAD_CAP)
    return select(func.count()).select_from(matching.correlate_except(messages).subquery())


def _unread(
    thread: ColumnElement[int], after: ColumnElement[int], *more: ColumnElement[bool]
) -> Select[int]:
    """People's messages after ``after`` (a notice has no sending device)."""
    people = messages.c.sender_device_id.is_not(None)
    return capped_count(messages.c.thread_id == thread, messages.c.seq > after, people, *more)


_UNREAD = Hot(_unread(bindparam("thread_id"), bindparam("after")))  # a popup's, shared
# A push's count: ``(thread, reader, after)`` in arrays, a count for each, in order.
_ASKED = unnested({"thread_id": BigInteger(), "reader": BigInteger(), "after": BigInteger()})
_UNREAD_BY_OTHERS = Hot(
    _unread(bindparam("thread_id"), bindparam("after"), messages.c.sender_id != bindparam("reader"))
)
_UNREADS_BY_OTHERS = Hot(
    select(
        _unread(
            _ASKED.c.thread_id, _ASKED.c.after, messages.c.sender_id != _ASKED.c.reader
        ).scalar_subquery()
    )
    .select_from(_ASKED)
    .order_by(_ASKED.c.n)
)
HOUR_MS = 3_600_000
DAY_HOURS = 24


def sent_last_day(
    sender: ColumnElement[int], recipient: ColumnElement[int], hour_before: ColumnElement[int]
) -> Select[tuple[int]]:
    """Messages ``sender`` sent ``recipient`` in the hours after
    ``hour_before`` (``MessageTx.append`` counts them): at most 24 rows read."""
    return select(func.coalesce(func.sum(sent_counts.c.count), 0)).where(
        sent_counts.c.sender_id == sender,
        sent_counts.c.recipient_id == recipient,
        sent_counts.c.hour > hour_before,
    )


def day_before(now: int) -> int:
    """The last hour a daily count no longer reads."""
    return now // HOUR_MS - DAY_HOURS


class Messages:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget_sent_counts(self, now: int) -> int:
        """Drop the hourly counts a daily limit no longer reads; how many."""
        old = sent_counts.c.hour <= day_before(now)
        async with self.db.write() as conn:
            return (await conn.execute(delete(sent_counts).where(old))).rowcount

    async def unread(self, thread_id: int, after_seq: int) -> int:
        """Messages people wrote in the thread after ``after_seq`` (a notice,
        written by the server, has no sending device and is not counted), up
        to ``UNREAD_CAP``."""
        async with self.db.read_one() as conn:
            return int(await _UNREAD.scalar(conn, {"thread_id": thread_id, "after": after_seq}))

    async def sent(self, device_id: int, client_msg_id: str) -> StoredMessage | None:
        """The message ``device_id`` already stored under ``client_msg_id``, if any."""
        async with self.db.read() as conn:
            return await MessageTx(conn).by_client_id(device_id, client_msg_id)

    async def history(
        self, thread_id: int, before_seq: int | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` messages older than ``before_seq``, newest first, and
        whether older ones remain."""
        query = select(*COLUMNS).where(messages.c.thread_id == thread_id)
        if before_seq is not None:
            query = query.where(messages.c.seq < before_seq)
        query = query.order_by(messages.c.seq.desc()).limit(limit + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(row) for row in rows[:limit]], len(rows) > limit


async def _number_and_insert(
    conn: AsyncConnection, sends: Sequence[Mapping[str, Any]]
) -> Sequence[tuple[Any, ...]]:
    """PostgreSQL: store ``sends`` (``MessageTx.append``'s parameters, each
    to a thread of its own) in one statement; for each, in order, the
    message's id and seq and whether its reader's receipt moved."""
    if len(sends) == 1:  # half the cost of the arrays' statement for one
        rows = await _NUMBER_AND_INSERT.rows(conn, sends[0])
    else:
        assert len({send["new_thread_id"] for send in sends}) == len(sends), "a send per thread"
        arrays = {name: [send[name] for send in sends] for name in _SEND_TYPES}
        rows = await _NUMBER_AND_INSERTS.rows(conn, arrays)
    assert len(rows) == len(sends), "each thread's row is there: the send's read found it"
    return rows


class SendsTogether:
    """The sends of operations that run beside each other in one
    transaction, each to a thread of its own (``MessageTx.beside``): their
    messages are stored in one statement, once each operation has either
    asked to store its message or finished without. Until then no other
    statement may run on the transaction's connection (``storage.hot``
    refuses one: two at once would fail on asyncpg, and only when they
    overlap)."""

    def __init__(self, conn: AsyncConnection, operations: int) -> None:
        self._conn = conn
        self._running = operations  # not finished yet
        self._asked: list[tuple[Mapping[str, Any], asyncio.Future[tuple[Any, ...]]]] = []

    async def run(self, operation: Awaitable[T]) -> T:
        """``operation``'s result, one of the operations beside each other."""
        try:
            return await operation
        finally:
            await self._finished()

    async def store(self, send: Mapping[str, Any]) -> tuple[Any, ...]:
        stored: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._asked.append((send, stored))
        await self._store_once_all_asked()
        return await stored

    async def _finished(self) -> None:
        """One of the operations ended (whether or not it sent). Cancelled,
        they all are (the transaction is given up): nothing is stored."""
        self._running -= 1
        task = asyncio.current_task()
        if task is None or not task.cancelling():
            await self._store_once_all_asked()

    async def _store_once_all_asked(self) -> None:
        if not self._asked or len(self._asked) < self._running:
            return
        asked, self._asked = self._asked, []
        hold(self._conn, False)
        try:
            rows = await _number_and_insert(self._conn, [send for send, _ in asked])
        except Exception as exc:  # each send fails with it, and so the transaction
            for _, stored in asked:
                stored.set_exception(exc)
            return
        finally:
            hold(self._conn, True)
        for (_, stored), row in zip(asked, rows, strict=True):
            stored.set_result(row)


class MessageTx:
    """Messages inside one write transaction (``WriteTx.messages``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._together: SendsTogether | None = None

    def beside(self, operations: int) -> SendsTogether:
        """Until ``alone``: ``operations`` run beside each other, and their
        sends are stored together (PostgreSQL)."""
        assert self.conn.dialect.name == "postgresql", "SQLite stores each at its turn"
        hold(self.conn, True)
        self._together = SendsTogether(self.conn, operations)
        return self._together

    def alone(self) -> None:
        hold(self.conn, False)
        self._together = None

    async def by_client_id(self, device_id: int, client_msg_id: str) -> StoredMessage | None:
        params = {"device_id": device_id, "client_msg_id": client_msg_id}
        row = await _BY_CLIENT_ID.first(self.conn, params)
        return None if row is None else from_row(row)

    async def unread_counts(self, asked: Sequence[tuple[int, int, int]]) -> list[int]:
        """For each ``(thread, reader, after_seq)``: others' messages in the
        thread after ``after_seq``, notices not counted, up to ``UNREAD_CAP``
        (``ThreadRecord.unread`` alone). One statement on PostgreSQL; on
        SQLite one each (microseconds)."""
        if not asked:
            return []
        if self.conn.dialect.name == "postgresql":
            threads_, readers, afters = (list(values) for values in zip(*asked, strict=True))
            params = {"thread_id": threads_, "reader": readers, "after": afters}
            return [int(count) for (count,) in await _UNREADS_BY_OTHERS.rows(self.conn, params)]
        one = [{"thread_id": t, "reader": r, "after": after} for t, r, after in asked]
        return [int(await _UNREAD_BY_OTHERS.scalar(self.conn, params)) for params in one]

    async def append(
        self,
        *,
        thread_id: int,
        sender_id: int,
        sender_device_id: int | None,
        client_msg_id: str,
        kind: str,
        reason: str | None,
        reply_allowed: bool,
        envelope: bytes,
        now: int,
        thread_reply_allowed: bool | None = None,
        reader: int | None = None,
        counted_for: int | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Number the message within its thread and store it; the message,
        and whether ``reader``'s receipt moved to it. The thread row
        stays locked until commit, so thread seqs are gap-free and ordered.
        With the same statement on PostgreSQL (one round trip): what the
        thread now says of the patient's answers (``thread_reply_allowed``;
        None: unchanged), ``reader``'s receipt moved to this message (the
        sender's, unless a delegate sent it), and one more message counted
        from the sender to ``counted_for`` in this hour (a patient's daily
        limit). Several sends running beside each other (``beside``) are
        stored in one statement."""
        params: dict[str, Any] = {
            "new_thread_id": thread_id,
            "new_sender_id": sender_id,
            "new_sender_device_id": sender_device_id,
            "new_client_msg_id": client_msg_id,
            "new_kind": kind,
            "new_reason": reason,
            "new_reply_allowed": reply_allowed,
            "new_envelope": envelope,
            "new_sent_at": now,
            "thread_reply_allowed": thread_reply_allowed,
            "reader": reader,
            "recipient": counted_for,
            "of_hour": now // HOUR_MS,
        }
        if self._together is not None:
            message_id, seq, read = await self._together.store(params)
        elif self.conn.dialect.name == "postgresql":
            [(message_id, seq, read)] = await _number_and_insert(self.conn, [params])
        else:
            params["new_seq"] = await _NEXT_SEQ.scalar(self.conn, params)
            row = await _INSERT.first(self.conn, params)
            assert row is not None
            message_id, seq = row
            read = reader is not None and await _SENDER_READ.run(self.conn, params) == 1
            if counted_for is not None:
                await _COUNT_SENT.run(self.conn, params)
        stored = StoredMessage(
            message_id,
            thread_id,
            seq,
            sender_id,
            sender_device_id,
            client_msg_id,
            kind,
            reason,
            reply_allowed,
            envelope,
            now,
        )
        return stored, bool(read)

    async def for_retraction(self, message_id: int) -> StoredMessage | None:
        row = (await self.conn.execute(select(*COLUMNS).where(messages.c.id == message_id))).first()
        return None if row is None else from_row(row)

    async def retract(self, message_id: int, now: int) -> None:
        """Empty the message's envelope; its place, sender and time stay."""
        await self.conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(envelope=b"", retracted_at=now)
        )
