"""Threads, their participants and the participants' receipts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.hot import Hot, unnested
from storage.messages import KnownMembers, capped_count, day_before, sent_last_day
from storage.schema import messages, participants, sent_counts, threads, users

__all__ = [
    "MemberRecord",
    "Receipt",
    "ReceiptMove",
    "SendAsk",
    "SendState",
    "ThreadRecord",
    "ThreadState",
    "Threads",
]


_current = participants.c.left_seq.is_(None)


@dataclass(frozen=True, slots=True)
class MemberRecord:
    user_id: int
    role: str
    display_name: str
    delivered_seq: int = 0  # their receipts, as every member already sees them live
    read_seq: int = 0


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    """A thread as one member sees it (``read_seq``/``delivered_seq`` are theirs)."""

    id: int
    kind: str
    created_by: int
    created_at: int
    last_seq: int
    members: list[MemberRecord]
    read_seq: int = 0
    delivered_seq: int = 0
    reason: str | None = None
    subject_id: int | None = None
    closed_at: int | None = None
    reply_allowed: bool = True
    unread: int = 0  # others' messages after ``read_seq``, notices not counted, up to UNREAD_CAP
    last_at: int | None = None  # when its latest message was sent
    muted: bool = False  # by this member: no push, no email for it


@dataclass(frozen=True, slots=True)
class ThreadState:
    """What decides whether a patient may still write in a thread."""

    closed_at: int | None
    reply_allowed: bool


@dataclass(frozen=True, slots=True)
class SendState:
    """The thread as a new message finds it, inside the storing transaction."""

    read_seqs: dict[int, int]  # the current members and how far each has read
    duplicate: bool  # the sending device already stored this client_msg_id
    thread: ThreadState
    sent_last_day: int  # by the sender to the recipient named (a patient's daily limit)


@dataclass(frozen=True, slots=True)
class Receipt:
    delivered_seq: int
    read_seq: int


@dataclass(frozen=True, slots=True)
class ReceiptMove:
    """What moving one member's receipts did: ``moved``, the receipts as
    now stored (None: they were there already, or the seq is out of range);
    ``last_seq``, the thread's newest seq when nothing moved (None: no
    such thread), to tell the two apart; ``busy``, nothing was tried:
    another transaction holds the member's row (PostgreSQL)."""

    moved: Receipt | None
    last_seq: int | None
    busy: bool = False


def _receipt_move(
    delivered: int | None, read: int | None, last_seq: int | None, busy: bool
) -> ReceiptMove:
    if delivered is None or read is None:
        return ReceiptMove(None, last_seq, busy)
    return ReceiptMove(Receipt(delivered, read), None)


def greatest(column: ColumnElement[int], value: ColumnElement[int]) -> ColumnElement[int]:
    """Portable GREATEST(column, value): SQLite spells it as two-argument MAX."""
    return case((column > value, column), else_=value)


# The statements of every send, receipt and connect (``storage.hot``).
_LAST_SEQ = Hot(select(threads.c.last_seq).where(threads.c.id == bindparam("thread_id")))
_READ_SEQS = Hot(
    select(participants.c.user_id, participants.c.read_seq).where(
        participants.c.thread_id == bindparam("thread_id"), _current
    )
)


class SendAsk(NamedTuple):
    """What a send asks of its thread: the message ``client_msg_id`` from
    ``sender``'s ``device_id``; ``recipient``, the one a daily limit counts
    what the sender sent (None: no limit applies); ``reply_allowed``, what
    the message sets the thread's ``reply_allowed`` to (None: nothing)."""

    thread_id: int
    device_id: int
    client_msg_id: str
    sender: int
    recipient: int | None
    now: int
    reply_allowed: bool | None = None

    def params(self) -> dict[str, Any]:
        fields = ("thread_id", "device_id", "client_msg_id", "sender", "recipient")
        return {name: getattr(self, name) for name in fields} | {"day_before": day_before(self.now)}


_SEND_PARAMS = {  # a send's statement's parameters, and their types
    "thread_id": BigInteger(),
    "device_id": BigInteger(),
    "client_msg_id": messages.c.client_msg_id.type,
    "sender": BigInteger(),
    "recipient": BigInteger(),
    "day_before": BigInteger(),
}


_member = participants.c.thread_id == threads.c.id


def _send_checks(asked: Mapping[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """What a send checks of its thread besides its members: the thread's
    state, whether the message is a retry's duplicate and the sender's
    count for a daily limit. ``asked``: the columns of the send, bound or
    unnested (then correlated: a row for each send, from its own columns)."""
    duplicate = select(messages.c.id).where(
        messages.c.sender_device_id == asked["device_id"],
        messages.c.client_msg_id == asked["client_msg_id"],
    )
    sent = sent_last_day(asked["sender"], asked["recipient"], asked["day_before"])
    duplicate, sent = duplicate.correlate_except(messages), sent.correlate_except(sent_counts)
    return [
        threads.c.closed_at,
        threads.c.reply_allowed,
        duplicate.scalar_subquery().label("duplicate"),
        sent.scalar_subquery().label("sent"),
    ]


def _send_state(asked: Mapping[str, ColumnElement[Any]]) -> Select[Any]:
    """Everything a send checks, in one statement (one round trip to
    PostgreSQL): a row per current member, each with ``_send_checks``."""
    return (
        select(participants.c.user_id, participants.c.read_seq, *_send_checks(asked))
        .select_from(threads.outerjoin(participants, and_(_member, _current)))
        .where(threads.c.id == asked["thread_id"])
        .correlate_except(threads, participants)
    )


_BOUND_SEND = {name: bindparam(name, type_=t) for name, t in _SEND_PARAMS.items()}
_SEND_STATE = Hot(_send_state(_BOUND_SEND))
# SQLite: the checks in a row of their own, the members read apart (``_READ_SEQS``):
# joined, a thread of 100 carried its checks in each of 100 rows, converted each.
_SEND_CHECKS = Hot(
    select(*_send_checks(_BOUND_SEND)).where(threads.c.id == _BOUND_SEND["thread_id"])
)
# A thread's kind and current members in one statement (a row per member;
# one row of NULLs beside the kind for a thread without members).
_META = Hot(
    select(threads.c.kind, participants.c.user_id, users.c.role)
    .select_from(
        threads.outerjoin(
            participants, and_(participants.c.thread_id == threads.c.id, _current)
        ).outerjoin(users, users.c.id == participants.c.user_id)
    )
    .where(threads.c.id == bindparam("thread_id"))
)
# PostgreSQL: the sends of a batch in one statement, each row of the arrays
# one send, its rows numbered by its place (none: no such thread).
_SENDS = unnested(_SEND_PARAMS)
_EACH_SEND = _send_state({name: _SENDS.c[name] for name in _SEND_PARAMS}).lateral("state")
_SEND_STATES = Hot(
    select(_SENDS.c.n, *_EACH_SEND.c)
    .select_from(_SENDS.join(_EACH_SEND, true()))
    .order_by(_SENDS.c.n)
)
# (An UPDATE reserves its table's column names for bound parameters.)
_DELIVERED = bindparam("to_delivered", type_=BigInteger)
_READ = bindparam("to_read", type_=BigInteger)
_ADVANCE_RECEIPT = Hot(
    update(participants)
    .where(
        participants.c.thread_id == bindparam("of_thread"),
        participants.c.user_id == bindparam("of_user"),
        _current,
        (participants.c.delivered_seq < _DELIVERED) | (participants.c.read_seq < _READ),
        select(threads.c.last_seq).where(threads.c.id == participants.c.thread_id).scalar_subquery()
        >= _DELIVERED,
    )
    .values(
        delivered_seq=greatest(participants.c.delivered_seq, _DELIVERED),
        read_seq=greatest(participants.c.read_seq, _READ),
    )
    .returning(participants.c.delivered_seq, participants.c.read_seq)
)
# PostgreSQL: many members' receipts in one statement (one round trip), each
# row of the arrays one member of one thread: the receipts that move, each
# thread's newest seq for those that do not, and which ones needed a move
# but did not get it (``busy``: another transaction holds the row, or moved
# it since this statement's snapshot). It locks only the rows it moves, in
# order, and waits for none (SKIP LOCKED): a held row is left for a later
# write, so no deadlock between writers can go through this statement.
_RECEIPT_ARRAYS = ("threads", "users", "delivered", "read")  # a value of each row's in each
_ADVANCE_RECEIPTS = Hot(
    text(
        "WITH wanted AS (SELECT * FROM unnest(:threads, :users, :delivered, :read)"
        " WITH ORDINALITY AS w(thread_id, user_id, delivered_seq, read_seq, n)),"
        " needs AS (SELECT w.n FROM wanted AS w JOIN participants AS p"
        " ON p.thread_id = w.thread_id AND p.user_id = w.user_id AND p.left_seq IS NULL"
        " JOIN threads AS t ON t.id = w.thread_id AND t.last_seq >= w.delivered_seq"
        " WHERE p.delivered_seq < w.delivered_seq OR p.read_seq < w.read_seq),"
        " locked AS (SELECT w.n, p.thread_id, p.user_id FROM wanted AS w"
        " JOIN needs ON needs.n = w.n JOIN participants AS p"
        " ON p.thread_id = w.thread_id AND p.user_id = w.user_id AND p.left_seq IS NULL"
        " WHERE p.delivered_seq < w.delivered_seq OR p.read_seq < w.read_seq"
        " ORDER BY p.thread_id, p.user_id FOR UPDATE OF p SKIP LOCKED),"
        " moved AS (UPDATE participants AS p"
        " SET delivered_seq = GREATEST(p.delivered_seq, w.delivered_seq),"
        " read_seq = GREATEST(p.read_seq, w.read_seq)"
        " FROM locked AS l JOIN wanted AS w ON w.n = l.n"
        " WHERE p.thread_id = l.thread_id AND p.user_id = l.user_id"
        " RETURNING l.n, p.delivered_seq, p.read_seq)"
        " SELECT moved.delivered_seq, moved.read_seq, t.last_seq,"
        " needs.n IS NOT NULL AND moved.n IS NULL FROM wanted AS w"
        " LEFT JOIN needs ON needs.n = w.n LEFT JOIN moved ON moved.n = w.n"
        " LEFT JOIN threads AS t ON t.id = w.thread_id ORDER BY w.n"
    ).bindparams(*(bindparam(name, type_=ARRAY(BigInteger)) for name in _RECEIPT_ARRAYS))
)
_MY_THREADS = select(participants.c.thread_id).where(
    participants.c.user_id == bindparam("user_id"), _current
)
_CONTACTS = Hot(  # a connect's, for presence
    select(participants.c.user_id)
    .distinct()
    .where(participants.c.thread_id.in_(_MY_THREADS), _current)
)
_STATE = Hot(
    select(threads.c.closed_at, threads.c.reply_allowed).where(
        threads.c.id == bindparam("thread_id")
    )
)


class Threads:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set_muted(self, thread_id: int, user_id: int, muted: bool) -> ThreadRecord | None:
        """Mute or unmute the thread for a current member; the thread as they
        see it, None if they are not one."""
        async with self.db.write() as conn:
            await conn.execute(
                update(participants)
                .where(
                    participants.c.thread_id == thread_id,
                    participants.c.user_id == user_id,
                    participants.c.left_seq.is_(None),
                )
                .values(muted=muted)
            )
            return await ThreadTx(conn).record(thread_id, user_id)

    async def get(self, thread_id: int, user_id: int) -> ThreadRecord | None:
        """The thread if ``user_id`` is a current member of it."""
        async with self.db.read() as conn:
            return await ThreadTx(conn).record(thread_id, user_id)

    async def list_for(self, user_id: int) -> list[ThreadRecord]:
        """Every thread the user is a current member of, most recently created first."""
        async with self.db.read() as conn:
            return await ThreadTx(conn).load(user_id)

    async def meta(self, thread_id: int) -> tuple[str, dict[int, str]] | None:
        """A thread's kind, and its current members and their roles."""
        async with self.db.read_one() as conn:
            rows = await _META.rows(conn, {"thread_id": thread_id})
        if not rows:
            return None
        return rows[0][0], {user: role for _, user, role in rows if user is not None}

    async def authors_among(self, members: list[int], candidates: list[int]) -> set[int]:
        """Those of ``candidates`` who wrote in a thread one of ``members`` is in now."""
        query = (
            select(messages.c.sender_id)
            .distinct()
            .join(participants, participants.c.thread_id == messages.c.thread_id)
            .where(
                participants.c.user_id.in_(members),
                _current,
                messages.c.sender_id.in_(candidates),
            )
        )
        async with self.db.read() as conn:
            return set((await conn.scalars(query)).all())

    async def contacts(self, user_id: int) -> set[int]:
        """Everyone who currently shares a thread with ``user_id``."""
        async with self.db.read_one() as conn:
            rows = await _CONTACTS.rows(conn, {"user_id": user_id})
        return {contact for (contact,) in rows} - {user_id}


def _send_state_of(rows: Sequence[Sequence[Any]]) -> SendState | None:
    if not rows:
        return None
    _, _, closed_at, reply_allowed, duplicate, sent = rows[0]
    return SendState(
        {user: read_seq for user, read_seq, *_ in rows if user is not None},
        duplicate is not None,
        ThreadState(closed_at, bool(reply_allowed)),
        int(sent),
    )


def _burst_chains(sends: Sequence[tuple[SendAsk, bool]]) -> list[list[SendAsk]]:
    """The sends ``ThreadTx.read_ahead`` reads, by thread in the order
    given: each thread's up to its first that cannot be (see there)."""
    chains: dict[int, list[SendAsk]] = {}
    sent: dict[int, set[tuple[int, str]]] = defaultdict(set)  # each thread's (device, id)
    stopped: set[int] = set()
    threads_of: dict[int, set[int]] = defaultdict(set)  # each sender's, so far
    for ask, vouched in sends:
        thread, message = ask.thread_id, (ask.device_id, ask.client_msg_id)
        threads_of[ask.sender].add(thread)
        retry = message in sent[thread]
        if thread in stopped or not vouched or retry or len(threads_of[ask.sender]) > 1:
            stopped.add(thread)
            continue
        chains.setdefault(thread, []).append(ask)
        sent[thread].add(message)
    return list(chains.values())


def _burst(chain: list[SendAsk], read: list[SendState | None]) -> dict[SendAsk, SendState | None]:
    """A thread's sends read ahead, each as it finds the thread once those
    before it are stored: its own read (``read``), with their messages:
    their sender's daily count (+1 each), ``reply_allowed`` as the last of
    them set it, and the first's members (one dict, which each message
    stored moves its sender in: ``server.ops.send``)."""
    first = read[0]
    answers = {chain[0]: first}
    sent: Counter[tuple[int, int | None]] = Counter()  # by sender and recipient, before
    reply_allowed: bool | None = None
    for (before, ask), own in zip(pairwise(chain), read[1:], strict=True):
        sent[before.sender, before.recipient] += 1
        if before.reply_allowed is not None:
            reply_allowed = before.reply_allowed
        if first is None or own is None:
            answers[ask] = None
            continue
        counted = 0 if ask.recipient is None else sent[ask.sender, ask.recipient]
        allowed = own.thread.reply_allowed if reply_allowed is None else reply_allowed
        state = ThreadState(own.thread.closed_at, allowed)
        answers[ask] = SendState(first.read_seqs, own.duplicate, state, own.sent_last_day + counted)
    return answers


class ThreadTx:
    """Threads inside one write transaction (``WriteTx.threads``)."""

    def __init__(self, conn: AsyncConnection, known: KnownMembers | None = None) -> None:
        self.conn = conn
        self._known = known

    async def find_pair(self, pair_key: str) -> int | None:
        return await self.conn.scalar(select(threads.c.id).where(threads.c.pair_key == pair_key))

    async def create(
        self,
        kind: str,
        created_by: int,
        members: list[int],
        now: int,
        pair_key: str | None = None,
        *,
        reason: str | None = None,
        subject_id: int | None = None,
        reply_allowed: bool = True,
    ) -> int:
        thread_id = await self.conn.scalar(
            insert(threads)
            .values(
                kind=kind,
                created_by=created_by,
                created_at=now,
                last_seq=0,
                pair_key=pair_key,
                reason=reason,
                subject_id=subject_id,
                reply_allowed=reply_allowed,
            )
            .returning(threads.c.id)
        )
        assert thread_id is not None
        await self.conn.execute(
            insert(participants),
            [
                {
                    "thread_id": thread_id,
                    "user_id": user_id,
                    "joined_at": now,
                    "joined_seq": 0,
                    "delivered_seq": 0,
                    "read_seq": 0,
                }
                for user_id in members
            ],
        )
        return int(thread_id)

    async def state(self, thread_id: int) -> ThreadState:
        row = await _STATE.first(self.conn, {"thread_id": thread_id})
        assert row is not None, "the thread exists"
        closed_at, reply_allowed = row
        return ThreadState(closed_at, bool(reply_allowed))

    async def set_closed(
        self, thread_id: int, closed_at: int | None, closed_by: int | None
    ) -> None:
        """Close (a time and who) or reopen (None, None) a thread."""
        await self.conn.execute(
            update(threads)
            .where(threads.c.id == thread_id)
            .values(closed_at=closed_at, closed_by=closed_by)
        )

    async def add_member(self, thread_id: int, user_id: int, at_seq: int, now: int) -> bool:
        """Make ``user_id`` a member from event ``at_seq`` on, with nothing
        unread (a member who left and comes back starts over); False if
        they already are one."""
        last = await _LAST_SEQ.scalar(self.conn, {"thread_id": thread_id})
        window = {"joined_at": now, "joined_seq": at_seq, "left_seq": None}
        receipts = {"delivered_seq": last, "read_seq": last}
        rejoined = await self.conn.execute(
            update(participants)
            .where(
                participants.c.thread_id == thread_id,
                participants.c.user_id == user_id,
                participants.c.left_seq.is_not(None),
            )
            .values(**window, **receipts)
        )
        if rejoined.rowcount:
            return True
        present = await self.conn.scalar(
            select(participants.c.user_id).where(
                participants.c.thread_id == thread_id, participants.c.user_id == user_id
            )
        )
        if present is not None:
            return False
        await self.conn.execute(
            insert(participants).values(thread_id=thread_id, user_id=user_id, **window, **receipts)
        )
        return True

    async def remove_member(self, thread_id: int, user_id: int, at_seq: int) -> bool:
        """End ``user_id``'s membership at event ``at_seq``: they get nothing
        newer. False if they were not a member."""
        done = await self.conn.execute(
            update(participants)
            .where(
                participants.c.thread_id == thread_id, participants.c.user_id == user_id, _current
            )
            .values(left_seq=at_seq)
        )
        return bool(done.rowcount)

    async def of_member(self, user_id: int) -> list[int]:
        """The threads ``user_id`` is a member of now."""
        query = (
            select(participants.c.thread_id)
            .where(participants.c.user_id == user_id, _current)
            .order_by(participants.c.thread_id)
        )
        return list((await self.conn.scalars(query)).all())

    async def about(self, subject_id: int, member_id: int) -> list[int]:
        """The threads for ``subject_id`` (a relative) that ``member_id`` is a member of."""
        query = (
            select(threads.c.id)
            .join(participants, participants.c.thread_id == threads.c.id)
            .where(
                threads.c.subject_id == subject_id, participants.c.user_id == member_id, _current
            )
            .order_by(threads.c.id)
        )
        return list((await self.conn.scalars(query)).all())

    async def last_seq(self, thread_id: int) -> int | None:
        """The thread's newest message seq, None if there is no such thread."""
        last: int | None = await _LAST_SEQ.scalar(self.conn, {"thread_id": thread_id})
        return last

    async def read_seqs(self, thread_id: int) -> dict[int, int]:
        """Current members of a thread and how far each has read."""
        rows = await _READ_SEQS.rows(self.conn, {"thread_id": thread_id})
        return dict(rows)

    async def send_state(self, ask: SendAsk) -> SendState | None:
        """What the new message finds in the thread now (None: no such
        thread); its ``sent_last_day`` counts what the sender sent the
        recipient (None: no daily limit applies, 0)."""
        if self.conn.dialect.name == "postgresql":
            return _send_state_of(await _SEND_STATE.rows(self.conn, ask.params()))
        checks = await _SEND_CHECKS.first(self.conn, ask.params())
        if checks is None:
            return None
        closed_at, reply_allowed, duplicate, sent_in_a_day = checks
        read_seqs = await self._members_now(ask.thread_id)
        thread = ThreadState(closed_at, bool(reply_allowed))
        return SendState(read_seqs, duplicate is not None, thread, int(sent_in_a_day))

    async def _members_now(self, thread_id: int) -> dict[int, int]:
        """The thread's members and read seqs, as the transaction knows them
        still (``KnownMembers``) or read."""
        known = None if self._known is None else self._known.of(thread_id)
        if known is not None:
            return known
        read_seqs = await self.read_seqs(thread_id)
        if self._known is not None:
            self._known.remember(thread_id, read_seqs)
        return read_seqs

    async def read_ahead(
        self, sends: Sequence[tuple[SendAsk, bool]]
    ) -> dict[SendAsk, SendState | None]:
        """The state of a transaction's sends, read at once (one statement
        on PostgreSQL, where each is a round trip), for the sends to find
        (``send_state`` answers the others). ``sends``: in the order they
        will run, each with whether the caller vouches that nothing the
        transaction writes before it changes its thread, but the messages of
        the sends before it in its thread, each stored as asked (a burst of
        one thread's messages). Read ahead are the thread's sends up to its
        first not vouched for, or that repeats one before it (a retry: it
        reads the row stored), or whose sender has sent in another thread
        before (their daily count). A later send's state is its own read
        with what the sends before it write: their sender's daily count
        (+1 each), ``reply_allowed``, and the members, one dict that each
        message stored moves its reader in (``server.ops.send``). SQLite
        reads each when asked (microseconds)."""
        if self.conn.dialect.name != "postgresql":
            return {}
        chains = _burst_chains(sends)
        asks = [ask for chain in chains for ask in chain]
        if len(asks) < 2:
            return {}
        each = [ask.params() for ask in asks]
        params = {name: [one[name] for one in each] for name in _SEND_PARAMS}
        found: dict[int, list[list[Any]]] = {n: [] for n in range(len(asks))}
        for n, *row in await _SEND_STATES.rows(self.conn, params):
            found[n - 1].append(row)
        states = iter([_send_state_of(found[n]) for n in range(len(asks))])
        answers: dict[SendAsk, SendState | None] = {}
        for chain in chains:
            answers |= _burst(chain, [next(states) for _ in chain])
        return answers

    async def advance_receipts(
        self, wanted: Sequence[tuple[int, int, Receipt]]
    ) -> list[ReceiptMove]:
        """Move members' receipts forward (never back, never past the
        thread's last message), one ``(thread, user, receipt)`` per member
        and thread. Reading implies delivery. On PostgreSQL a member's row
        that another transaction holds is not waited for: it comes back
        ``busy``, to be moved again later."""
        if len({(thread, user) for thread, user, _ in wanted}) < len(wanted):
            raise ValueError("one receipt per member and thread")  # one row, moved once
        asked = [
            (thread, user, max(r.delivered_seq, r.read_seq), r.read_seq)
            for thread, user, r in wanted
        ]
        if self.conn.dialect.name == "postgresql":
            arrays = zip(_RECEIPT_ARRAYS, zip(*asked, strict=True), strict=True)
            params = {name: list(values) for name, values in arrays}
            rows = await _ADVANCE_RECEIPTS.rows(self.conn, params)
            return [_receipt_move(*row) for row in rows]
        return [await self._advance_receipt(*each) for each in asked]

    async def _advance_receipt(
        self, thread: int, user: int, delivered: int, read: int
    ) -> ReceiptMove:
        """SQLite: a statement, and another if nothing moved (microseconds each)."""
        params = {"of_thread": thread, "of_user": user, "to_delivered": delivered, "to_read": read}
        row = await _ADVANCE_RECEIPT.first(self.conn, params)
        if row is not None:
            return ReceiptMove(Receipt(*row), None)
        return ReceiptMove(None, await self.last_seq(thread))

    async def record(self, thread_id: int, user_id: int) -> ThreadRecord | None:
        """The thread as ``user_id`` (a current member) sees it, on ``self.conn``."""
        found = await self.load(user_id, thread_id)
        return found[0] if found else None

    async def load(self, user_id: int, thread_id: int | None = None) -> list[ThreadRecord]:
        me = participants.alias("me")
        unread = capped_count(
            messages.c.thread_id == threads.c.id,
            messages.c.seq > me.c.read_seq,
            messages.c.sender_device_id.is_not(None),  # a notice has no sending device
            messages.c.sender_id != user_id,
        ).scalar_subquery()
        latest = (  # one row by (thread_id, seq): uq_messages_thread_seq
            select(messages.c.sent_at)
            .where(messages.c.thread_id == threads.c.id, messages.c.seq == threads.c.last_seq)
            .scalar_subquery()
        )
        query = (
            select(
                threads.c.id,
                threads.c.kind,
                threads.c.created_by,
                threads.c.created_at,
                threads.c.last_seq,
                me.c.read_seq,
                me.c.delivered_seq,
                threads.c.reason,
                threads.c.subject_id,
                threads.c.closed_at,
                threads.c.reply_allowed,
                unread.label("unread"),
                latest.label("last_at"),
                me.c.muted,
            )
            .join(me, and_(me.c.thread_id == threads.c.id, me.c.user_id == user_id))
            .where(me.c.left_seq.is_(None))
            .order_by(threads.c.id.desc())
        )
        if thread_id is not None:
            query = query.where(threads.c.id == thread_id)
        rows = (await self.conn.execute(query)).all()
        members = await self._members([row.id for row in rows])
        return [
            ThreadRecord(
                row.id,
                row.kind,
                row.created_by,
                row.created_at,
                row.last_seq,
                members[row.id],
                row.read_seq,
                row.delivered_seq,
                row.reason,
                row.subject_id,
                row.closed_at,
                bool(row.reply_allowed),
                row.unread,
                row.last_at,
                bool(row.muted),
            )
            for row in rows
        ]

    async def roles(self, thread_id: int) -> dict[int, str]:
        """The thread's current members' roles, by user."""
        return {m.user_id: m.role for m in (await self._members([thread_id]))[thread_id]}

    async def _members(self, thread_ids: list[int]) -> dict[int, list[MemberRecord]]:
        result: dict[int, list[MemberRecord]] = defaultdict(list)
        if not thread_ids:
            return result
        rows = await self.conn.execute(
            select(
                participants.c.thread_id,
                users.c.id,
                users.c.role,
                users.c.display_name,
                participants.c.delivered_seq,
                participants.c.read_seq,
            )
            .join(users, users.c.id == participants.c.user_id)
            .where(participants.c.thread_id.in_(thread_ids), _current)
            .order_by(participants.c.thread_id, users.c.id)
        )
        for row in rows:
            result[row.thread_id].append(
                MemberRecord(row.id, row.role, row.display_name, row.delivered_seq, row.read_seq)
            )
        return result
