"""Messages: one row per message, numbered within their thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
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
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update

from storage.db import Database
from storage.errors import Contention
from storage.hot import Hot, sqlite_changes, unnested
from storage.schema import messages, participants, sent_counts, threads

__all__ = [
    "UNREAD_CAP",
    "KnownMembers",
    "Messages",
    "NewMessage",
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


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to number and store (``MessageTx.append``), with what its
    storing also writes: what the thread now says of the patient's answers
    (``thread_reply_allowed``; None: unchanged), ``reader``'s receipt moved
    to it (the sender's, unless a delegate sent it) and one more message
    counted from the sender to ``counted_for`` in this hour (a patient's
    daily limit). ``open_only``: a patient's message, stored only while the
    thread is open and takes their answers (``MessageTx.append``)."""

    thread_id: int
    sender_id: int
    sender_device_id: int | None  # None: a notice the server writes
    client_msg_id: str
    kind: str
    reason: str | None
    reply_allowed: bool
    envelope: bytes
    now: int
    thread_reply_allowed: bool | None = None
    reader: int | None = None
    counted_for: int | None = None
    open_only: bool = False

    def params(self) -> dict[str, Any]:
        """The statements' parameters (``_numbered_insert``)."""
        return {
            "numbered_thread": self.thread_id,
            "open_only": self.open_only,
            "thread_reply_allowed": self.thread_reply_allowed,
            "reader": self.reader,
            "sender": self.sender_id,
            "recipient": self.counted_for,
            "of_hour": self.now // HOUR_MS,
            "new_thread_id": self.thread_id,
            "new_sender_id": self.sender_id,
            "new_sender_device_id": self.sender_device_id,
            "new_client_msg_id": self.client_msg_id,
            "new_kind": self.kind,
            "new_reason": self.reason,
            "new_reply_allowed": self.reply_allowed,
            "new_envelope": self.envelope,
            "new_sent_at": self.now,
        }

    def stored(self, message_id: int, seq: int) -> StoredMessage:
        return StoredMessage(
            message_id,
            self.thread_id,
            seq,
            self.sender_id,
            self.sender_device_id,
            self.client_msg_id,
            self.kind,
            self.reason,
            self.reply_allowed,
            self.envelope,
            self.now,
        )


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


# A send's statements share their parameters, named unlike any column they
# write: SQLAlchemy would take such a parameter for a value to set.
_THREAD: BindParameter[int] = bindparam("numbered_thread", type_=BigInteger)


def _numbering() -> Update:
    """The thread's next seq. A care-side message also sets whether the
    patient may answer (``thread_reply_allowed``; None: unchanged), in the
    same update of the thread's row. A patient's (``open_only``) numbers
    only an open thread that takes their answers: the update locks the row
    and checks its latest version, whatever another node committed since
    the send's read (no row: ``MessageTx.append``)."""
    open_only = bindparam("open_only", type_=Boolean)
    takes_answers = threads.c.closed_at.is_(None) & threads.c.reply_allowed
    return (
        update(threads)
        .where(threads.c.id == _THREAD, or_(not_(open_only), takes_answers))
        .values(
            last_seq=threads.c.last_seq + literal_column("1"),
            reply_allowed=func.coalesce(
                bindparam("thread_reply_allowed", type_=Boolean), threads.c.reply_allowed
            ),
        )
        .returning(threads.c.last_seq, threads.c.id)
    )


_STORED = [
    column.key for column in COLUMNS if column.key not in ("id", "retracted_at", "expired_at")
]


def _new_row(seq: ColumnElement[int]) -> dict[str, ColumnElement[Any]]:
    """The new message's values, bound as ``new_<column>``: a statement
    that also updates ``threads`` would take a parameter named like one of
    its columns (kind, reason) for a value to set."""
    return {
        name: seq if name == "seq" else bindparam(f"new_{name}", type_=messages.c[name].type)
        for name in _STORED
    }


def _insert(seq: ColumnElement[int], *returned: ColumnElement[Any]) -> Insert:
    """The new message's row, returning its id and seq (and ``returned``)."""
    return (
        insert(messages)
        .from_select(_STORED, select(*_new_row(seq).values()), include_defaults=False)
        .returning(messages.c.id, messages.c.seq, *returned)
    )


def _sender_read(seq: ColumnElement[int], thread: ColumnElement[int]) -> Update:
    """Having sent, the sender has read the thread up to their message
    (``reader``; None for a delegate's send, which moves no receipt)."""
    return (
        update(participants)
        .where(
            participants.c.thread_id == thread,
            participants.c.user_id == bindparam("reader"),
            participants.c.left_seq.is_(None),
        )
        .values(delivered_seq=seq, read_seq=seq)
    )


def _count_sent(dialect: Any) -> Insert:
    """One more message from ``sender`` to ``recipient`` in the hour's row
    (an upsert; none without a ``recipient``: no daily limit applies)."""
    recipient = bindparam("recipient", type_=BigInteger)
    hour = select(
        bindparam("sender", type_=BigInteger),
        recipient,
        bindparam("of_hour", type_=BigInteger),
        literal(1, BigInteger),
    )
    upsert: Insert = (
        dialect.insert(sent_counts)
        .from_select(
            ["sender_id", "recipient_id", "hour", "count"],
            hour.where(recipient.is_not(None)),
        )
        .on_conflict_do_update(
            index_elements=["sender_id", "recipient_id", "hour"],
            set_={"count": sent_counts.c.count + 1},
        )
    )
    return upsert


def _numbered_insert() -> Insert:
    """A send in one statement (PostgreSQL): the thread's update as a common
    table expression the insert reads its seq from, the sender's receipt and
    the patient's hourly count beside it; one round trip instead of three.
    It returns whether the sender's receipt moved: another node may have
    removed them since the send's read."""
    numbered = _numbering().cte("numbered")
    sender_read = _sender_read(numbered.c.last_seq, numbered.c.id)
    read = sender_read.returning(participants.c.user_id).cte("sender_read")
    return _insert(numbered.c.last_seq, exists(select(read.c.user_id))).add_cte(
        read, _count_sent(postgresql).cte("counted")
    )


_NEW_SEQ = bindparam("new_seq", type_=BigInteger)
_NEXT_SEQ = Hot(_numbering())  # SQLite: a statement each (microseconds each)
_INSERT = Hot(insert(messages).values(_new_row(_NEW_SEQ)))  # SQLite: its id is the rowid
_SENDER_READ = Hot(_sender_read(_NEW_SEQ, _THREAD))
_NUMBER_AND_INSERT = Hot(_numbered_insert())
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


_UNREAD = Hot(  # a popup's, shared
    _unread(bindparam("thread_id"), bindparam("after"), messages.c.seq <= bindparam("up_to"))
)
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


_COUNT_SENT = Hot(_count_sent(sqlite))  # SQLite's (PostgreSQL's is in the send's statement)


class Messages:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget_sent_counts(self, now: int) -> int:
        """Drop the hourly counts a daily limit no longer reads; how many."""
        old = sent_counts.c.hour <= day_before(now)
        async with self.db.write() as conn:
            return (await conn.execute(delete(sent_counts).where(old))).rowcount

    async def unread(self, thread_id: int, after_seq: int, up_to: int) -> int:
        """Messages people wrote in the thread after ``after_seq`` up to seq
        ``up_to`` (a notice, written by the server, has no sending device
        and is not counted), up to ``UNREAD_CAP``."""
        params = {"thread_id": thread_id, "after": after_seq, "up_to": up_to}
        async with self.db.read_one() as conn:
            return int(await _UNREAD.scalar(conn, params))

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


class KnownMembers:
    """SQLite: one thread's members and their read seqs as a write
    transaction last knew them, while nothing else is written. A send's
    read leaves them (``ThreadTx.send_state``), each message stored moves
    its reader's seq in them (``MessageTx.append``), and the thread's next
    send takes them rather than read its members again: for a thread of
    100, 100 rows a send, the fan-out's largest read. They hold only while
    the connection's count of rows written (``sqlite_changes``) is what
    it was when they were last brought up to date: a receipt, a member
    added or removed, a closing, another thread's send, anything written
    between, and the next send reads again."""

    __slots__ = ("_changes", "_conn", "_read_seqs", "_thread_id")

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._thread_id: int | None = None  # None: none known
        self._changes: int | None = None
        self._read_seqs: dict[int, int] = {}

    def of(self, thread_id: int) -> dict[int, int] | None:
        """The thread's members and read seqs, if known and still so (a copy)."""
        changes = sqlite_changes(self._conn)
        if changes is None or self._thread_id != thread_id or self._changes != changes:
            return None
        return dict(self._read_seqs)

    def remember(self, thread_id: int, read_seqs: dict[int, int]) -> None:
        """The thread's members and read seqs, as just read."""
        self._thread_id, self._read_seqs = thread_id, dict(read_seqs)
        self._changes = sqlite_changes(self._conn)

    def appended(self, thread_id: int, changes_before: int, reader: int | None, seq: int) -> None:
        """A message stored in ``thread_id`` by statements that began at
        ``changes_before`` rows written; ``reader``'s seq moved to ``seq``
        (None: nobody's)."""
        if self._thread_id != thread_id or self._changes != changes_before:
            self._thread_id = None
            return
        if reader is not None:
            self._read_seqs[reader] = seq
        self._changes = sqlite_changes(self._conn)


def _unchanged(
    news: Sequence[NewMessage], rows: Sequence[Sequence[Any]]
) -> Sequence[Sequence[Any]]:
    """The rows of the messages stored (each its id, its seq and whether
    its reader's receipt moved: it must), or ``Contention`` if one changed since its
    send read the thread: a row missing, a patient's thread has closed or
    no longer takes their answers; a receipt that did not move, its sender
    has left. Only another node commits in between (a node's writer runs
    one transaction at a time): run again, the send reads it and refuses."""
    if len(rows) != len(news) or any(
        new.reader is not None and not read for new, (*_, read) in zip(news, rows, strict=True)
    ):
        raise Contention("a thread changed since its send read it: run it again")
    return rows


class MessageTx:
    """Messages inside one write transaction (``WriteTx.messages``), which
    keeps its ``KnownMembers`` up to date on SQLite."""

    def __init__(self, conn: AsyncConnection, known: KnownMembers | None = None) -> None:
        self.conn = conn
        self._known = known

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

    async def append(self, new: NewMessage) -> StoredMessage:
        """Number the message within its thread and store it, its
        ``reader``'s receipt moved to it. The thread row stays locked until
        commit, so thread seqs are gap-free and ordered. On PostgreSQL one
        statement (``_numbered_insert``) does all the message's writes.
        ``Contention`` if the thread no longer allows it, or the reader has
        left (``_unchanged``)."""
        params = new.params()
        if self.conn.dialect.name == "postgresql":
            row = await _NUMBER_AND_INSERT.first(self.conn, params)
        else:
            row = await self._append_here(new, params)
        ((message_id, seq, _),) = _unchanged([new], [] if row is None else [row])
        return new.stored(message_id, seq)

    async def _append_here(
        self, new: NewMessage, params: dict[str, Any]
    ) -> tuple[int, int, bool] | None:
        """SQLite's ``append``, a statement each (microseconds each): the
        message's id, seq and whether its reader's receipt moved (None: the
        thread was not numbered)."""
        before = sqlite_changes(self.conn)
        params["new_seq"] = await _NEXT_SEQ.scalar(self.conn, params)
        if params["new_seq"] is None:
            return None
        message_id = await _INSERT.rowid(self.conn, params)
        seq = params["new_seq"]
        read = new.reader is not None and await _SENDER_READ.run(self.conn, params) == 1
        if new.counted_for is not None:
            await _COUNT_SENT.run(self.conn, params)
        if self._known is not None and before is not None:
            self._known.appended(new.thread_id, before, new.reader if read else None, seq)
        return message_id, seq, read

    @property
    def stores_together(self) -> bool:
        """Whether ``append_all`` saves anything: on PostgreSQL a round trip
        per message; on SQLite a statement is microseconds, on the loop."""
        return self.conn.dialect.name == "postgresql"

    async def append_all(self, news: Sequence[NewMessage]) -> list[StoredMessage]:
        """``append`` each message in turn, on PostgreSQL in one round trip
        for all (the statement run once per message, pipelined: asyncpg's
        ``fetchmany``). A message its thread no longer allows stores no row,
        and no row would say which: ``Contention`` for all."""
        if not self.stores_together or len(news) < 2:
            return [await self.append(new) for new in news]
        rows = await _NUMBER_AND_INSERT.rows_many(self.conn, [new.params() for new in news])
        return [
            new.stored(message_id, seq)
            for new, (message_id, seq, _) in zip(news, _unchanged(news, rows), strict=True)
        ]

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
