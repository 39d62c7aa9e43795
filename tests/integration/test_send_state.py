"""What a send reads and writes in its transaction, on both backends: one
read of everything it checks (``ThreadTx.send_state``), and the thread's
numbering with the message's row (one statement on PostgreSQL); and the
receipts of several members moved together (one statement on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from storage import Store
from storage.errors import Contention
from storage.hot import _Asyncpg, adapter_of
from storage.messages import HOUR_MS, NewMessage, StoredMessage
from storage.schema import messages, participants, threads, users
from storage.sqlite_inline import InlineConnection
from storage.threads import _READ_SEQS, Receipt, ReceiptMove, SendAsk, SendState, ThreadState
from storage.tx import WriteTx, write_tx
from tests.integration.test_event_order import waiting_on_a_lock
from tests.support.rows import new_message, people, send, send_in, thread_of

NOW = 1_000 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Pair:
    store: Store
    patient: int
    doctor: int
    thread: int
    device: int


@pytest.fixture
async def pair(database_factory) -> AsyncIterator[Pair]:
    store = Store(database_factory())
    await store.db.migrate()
    patient, doctor = await people(store)
    thread, device = await thread_of(store, patient, doctor)
    yield Pair(store, patient, doctor, thread, device)
    await store.close()


async def _append(pair: Pair, client_msg_id: str, thread_reply_allowed: bool | None) -> int:
    """The patient's message, as their send stores it; its seq."""
    return await send(
        pair.store,
        pair.thread,
        pair.device,
        pair.patient,
        at=NOW,
        client_msg_id=client_msg_id,
        thread_reply_allowed=thread_reply_allowed,
        reader=pair.patient,
        counted_for=pair.doctor,
    )


async def test_one_read_finds_the_members_the_state_the_duplicate_and_the_count(
    pair: Pair,
) -> None:
    async with write_tx(pair.store.db) as tx:
        fresh = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m1", pair.patient, pair.doctor, NOW)
        )
    assert fresh.read_seqs == {pair.patient: 0, pair.doctor: 0}
    assert (fresh.duplicate, fresh.thread, fresh.sent_last_day) == (
        False,
        ThreadState(None, True),
        0,
    )
    await _append(pair, "m1", thread_reply_allowed=None)
    await _append(pair, "m2", thread_reply_allowed=False)
    async with pair.store.db.write() as conn:  # the practitioner leaves
        await conn.execute(
            update(participants).where(participants.c.user_id == pair.doctor).values(left_seq=2)
        )
        await conn.execute(update(threads).values(closed_at=NOW))
    async with write_tx(pair.store.db) as tx:
        again = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m1", pair.patient, pair.doctor, NOW)
        )
        uncounted = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m3", pair.patient, None, NOW)
        )
        a_day_later = await tx.threads.send_state(
            SendAsk(
                pair.thread,
                pair.device,
                "m3",
                pair.patient,
                pair.doctor,
                NOW + 24 * HOUR_MS,
            )
        )
    assert again.read_seqs == {pair.patient: 2}  # read what they sent; one who left is gone
    assert (again.duplicate, again.thread, again.sent_last_day) == (
        True,
        ThreadState(NOW, False),
        2,
    )
    assert (uncounted.duplicate, uncounted.sent_last_day) == (False, 0)
    assert a_day_later.sent_last_day == 0


async def test_numbering_is_gap_free_and_sets_the_threads_answer_flag(pair: Pair) -> None:
    seqs = [await _append(pair, f"m{n}", thread_reply_allowed=None) for n in range(3)]
    assert seqs == [1, 2, 3]
    assert await _append(pair, "closing", thread_reply_allowed=False) == 4
    assert await _append(pair, "unchanged", thread_reply_allowed=None) == 5
    async with pair.store.db.read() as conn:
        last_seq, reply_allowed = (
            await conn.execute(select(threads.c.last_seq, threads.c.reply_allowed))
        ).one()
    assert (last_seq, reply_allowed) == (5, False)
    assert await _append(pair, "reopening", thread_reply_allowed=True) == 6
    async with pair.store.db.read() as conn:
        assert await conn.scalar(select(threads.c.reply_allowed)) is True


async def test_a_thread_without_members_or_without_a_row_has_none_to_send_to(pair: Pair) -> None:
    async with pair.store.db.write() as conn:  # both members left
        await conn.execute(update(participants).values(left_seq=0))
    async with write_tx(pair.store.db) as tx:
        emptied = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m1", pair.patient, pair.doctor, NOW)
        )
        missing = await tx.threads.send_state(
            SendAsk(pair.thread + 1, pair.device, "m1", pair.patient, None, NOW)
        )
    assert emptied is not None and emptied.read_seqs == {}
    assert (emptied.duplicate, emptied.thread, emptied.sent_last_day) == (
        False,
        ThreadState(None, True),
        0,
    )
    assert missing is None


def _text(
    thread: int, sender: int, device: int | None, client_msg_id: str, **more: Any
) -> NewMessage:
    return NewMessage(
        thread, sender, device, client_msg_id, "text", None, True, b"sealed", NOW, **more
    )


def _counting(calls: list[str], name: str, run: Callable[..., Any]) -> Callable[..., Any]:
    async def counted(self: _Asyncpg, *args: Any) -> Any:
        calls.append(name)
        return await run(self, *args)

    return counted


async def test_messages_stored_together_are_stored_as_one_after_the_other(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``append_all`` stores what ``append`` would, message after message:
    each its seq, its sender's receipt, the patient's count, the thread's
    answer flag; on PostgreSQL in one round trip for all."""
    other, _ = await thread_of(pair.store, pair.patient, pair.doctor)
    patients = {"reader": pair.patient, "counted_for": pair.doctor, "open_only": True}
    news = [
        _text(pair.thread, pair.patient, pair.device, "m1", **patients),
        _text(other, pair.doctor, None, "d1", reader=pair.doctor, thread_reply_allowed=False),
        _text(pair.thread, pair.patient, pair.device, "m2", **patients),
    ]
    with pytest.raises(_Undo):
        async with write_tx(pair.store.db) as tx:
            in_turn = [await tx.messages.append(new) for new in news]
            raise _Undo
    statements: list[str] = []
    for name in ("fetch", "fetchmany", "execute"):
        monkeypatch.setattr(_Asyncpg, name, _counting(statements, name, getattr(_Asyncpg, name)))
    async with write_tx(pair.store.db) as tx:
        together = await tx.messages.append_all(news)
    monkeypatch.undo()

    def seen(stored: list[StoredMessage]) -> list[tuple[Any, ...]]:
        return [(m.thread_id, m.seq, m.client_msg_id) for m in stored]

    assert seen(together) == seen(in_turn)
    assert seen(together) == [(pair.thread, 1, "m1"), (other, 1, "d1"), (pair.thread, 2, "m2")]
    async with pair.store.db.read() as conn:  # each message's id is its row's
        rows = dict((await conn.execute(select(messages.c.client_msg_id, messages.c.id))).all())
    assert {m.client_msg_id: m.id for m in together} == rows
    assert statements == ([] if pair.store.db.is_sqlite else ["fetchmany"])
    receipts = select(participants.c.thread_id, participants.c.user_id, participants.c.read_seq)
    async with pair.store.db.read() as conn:
        read_seqs = {(thread, user): seq for thread, user, seq in await conn.execute(receipts)}
    assert read_seqs == {
        (pair.thread, pair.patient): 2,
        (pair.thread, pair.doctor): 0,
        (other, pair.patient): 0,
        (other, pair.doctor): 1,
    }
    async with write_tx(pair.store.db) as tx:
        state = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m3", pair.patient, pair.doctor, NOW)
        )
        assert (await tx.threads.state(other)).reply_allowed is False
    assert state is not None and state.sent_last_day == 2


async def test_a_message_that_breaks_a_constraint_stores_none_of_those_together(
    pair: Pair,
) -> None:
    """One statement of the round trip fails: the transaction fails whole."""
    news = [
        _text(pair.thread, pair.patient, pair.device, "m1"),
        _text(pair.thread, pair.patient, pair.device, "m1"),  # the device's id again
    ]
    with pytest.raises(IntegrityError):
        async with write_tx(pair.store.db) as tx:
            await tx.messages.append_all(news)
    async with pair.store.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(messages)) == 0
        assert await conn.scalar(select(threads.c.last_seq)) == 0


async def _receipts(pair: Pair) -> dict[int, tuple[int, int]]:
    query = select(participants.c.user_id, participants.c.delivered_seq, participants.c.read_seq)
    async with pair.store.db.read() as conn:
        return {user: (delivered, read) for user, delivered, read in await conn.execute(query)}


async def test_a_send_moves_its_senders_receipt_and_counts_a_patients_message(
    pair: Pair,
) -> None:
    assert await _append(pair, "m1", thread_reply_allowed=None) == 1
    assert await _receipts(pair) == {pair.patient: (1, 1), pair.doctor: (0, 0)}
    # a delegate's send moves no receipt; a care-side one counts nothing
    seq = await send(
        pair.store, pair.thread, None, pair.doctor, at=NOW, client_msg_id="d", reader=None
    )
    assert seq == 2
    assert await _receipts(pair) == {pair.patient: (1, 1), pair.doctor: (0, 0)}
    async with write_tx(pair.store.db) as tx:
        state = await tx.threads.send_state(
            SendAsk(pair.thread, pair.device, "m3", pair.patient, pair.doctor, NOW)
        )
    assert state is not None and state.sent_last_day == 1


async def test_a_sender_gone_since_the_read_stores_nothing(pair: Pair) -> None:
    """Another node may remove the sender between the send's read and its
    write: their receipt does not move, and the write fails as a lost race
    (the send runs again, and is refused)."""
    async with pair.store.db.write() as conn:
        await conn.execute(
            update(participants).where(participants.c.user_id == pair.doctor).values(left_seq=0)
        )
    with pytest.raises(Contention):
        await send(
            pair.store,
            pair.thread,
            None,
            pair.doctor,
            at=NOW,
            client_msg_id="d",
            reader=pair.doctor,
        )
    assert (await _receipts(pair))[pair.doctor] == (0, 0)
    assert await _others_message(pair, "probe") == 1  # nothing stored before


def _thread_set(**values: Any) -> Callable[[Pair], Any]:
    return lambda pair: update(threads).where(threads.c.id == pair.thread).values(**values)


_THREAD_CHANGES = pytest.mark.parametrize(
    "change",
    [_thread_set(closed_at=NOW), _thread_set(reply_allowed=False)],
    ids=["closed", "no answers"],
)


def _patients_message(pair: Pair) -> NewMessage:
    return new_message(
        pair.thread,
        pair.device,
        pair.patient,
        at=NOW,
        client_msg_id="p",
        reader=pair.patient,
        counted_for=pair.doctor,
        open_only=True,
    )


@_THREAD_CHANGES
async def test_a_patients_message_the_thread_no_longer_allows_stores_nothing(
    pair: Pair, change: Callable[[Pair], Any]
) -> None:
    """Another node may close the thread, or stop the patient's answers,
    between a patient's send's read and its write: the write checks the
    thread's row again and fails as a lost race, alone or stored with
    others (the care side's message beside it is not stored either)."""
    async with pair.store.db.write() as conn:
        await conn.execute(change(pair))
    patients = _patients_message(pair)
    doctors = new_message(pair.thread, None, pair.doctor, at=NOW, client_msg_id="d")
    for news in ([patients], [doctors, patients]):
        with pytest.raises(Contention):
            async with write_tx(pair.store.db) as tx:
                await tx.messages.append_all(news)
    assert await _others_message(pair, "probe") == 1  # nothing stored before


@_THREAD_CHANGES
async def test_a_patients_message_that_waited_for_another_nodes_change_stores_nothing(
    pair: Pair, change: Callable[[Pair], Any]
) -> None:
    """PostgreSQL: another node's transaction holds the thread's row and
    commits its change while the write waits for it: the write checks the
    row's latest version."""
    if pair.store.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no row is held by another")
    async with pair.store.db.write() as holder:
        await holder.execute(change(pair))
        writing = asyncio.create_task(_stored(pair, _patients_message(pair)))
        await waiting_on_a_lock(pair.store)
    with pytest.raises(Contention):
        await writing
    assert await _others_message(pair, "probe") == 1  # nothing stored before


async def _stored(pair: Pair, new: NewMessage) -> None:
    async with write_tx(pair.store.db) as tx:
        await tx.messages.append(new)


async def _advance(
    pair: Pair, *wanted: tuple[int, int, Receipt], after_a_read: bool = False
) -> list[ReceiptMove]:
    """``advance_receipts`` in a transaction of its own: as its first
    statement (on PostgreSQL it sends the BEGIN) or after a read."""
    async with write_tx(pair.store.db) as tx:
        if after_a_read:
            await tx.threads.last_seq(pair.thread)
        return await tx.threads.advance_receipts(list(wanted))


async def _others_message(pair: Pair, client_msg_id: str) -> int:
    """A message that moves nobody's receipt; its seq."""
    return await send(
        pair.store, pair.thread, None, pair.doctor, at=NOW, client_msg_id=client_msg_id
    )


@pytest.mark.parametrize("after_a_read", [False, True])
async def test_receipts_move_together_forward_only(pair: Pair, after_a_read: bool) -> None:
    for n in range(3):
        await _others_message(pair, f"m{n}")
    doctor, patient = (pair.thread, pair.doctor), (pair.thread, pair.patient)
    moves = await _advance(
        pair, (*doctor, Receipt(2, 1)), (*patient, Receipt(0, 3)), after_a_read=after_a_read
    )
    assert moves == [ReceiptMove(Receipt(2, 1), None), ReceiptMove(Receipt(3, 3), None)]
    # already there, or partly: only what is ahead moves
    moves = await _advance(pair, (*doctor, Receipt(1, 2)), (*patient, Receipt(3, 3)))
    assert moves == [ReceiptMove(Receipt(2, 2), None), ReceiptMove(None, 3)]
    assert await _receipts(pair) == {pair.doctor: (2, 2), pair.patient: (3, 3)}


@pytest.mark.parametrize("after_a_read", [False, True])
async def test_a_receipt_out_of_range_moves_nothing_and_says_how_far_the_thread_is(
    pair: Pair, after_a_read: bool
) -> None:
    await _others_message(pair, "m1")
    moves = await _advance(
        pair,
        (pair.thread, pair.doctor, Receipt(2, 0)),  # past the last message
        (pair.thread, pair.patient, Receipt(1, 1)),
        (pair.thread + 1000, pair.patient, Receipt(1, 0)),  # no such thread
        after_a_read=after_a_read,
    )
    assert moves == [
        ReceiptMove(None, 1),
        ReceiptMove(Receipt(1, 1), None),
        ReceiptMove(None, None),
    ]
    assert await _receipts(pair) == {pair.doctor: (0, 0), pair.patient: (1, 1)}


async def test_a_member_who_left_has_no_receipt_to_move(pair: Pair) -> None:
    await _others_message(pair, "m1")
    async with pair.store.db.write() as conn:
        await conn.execute(
            update(participants).where(participants.c.user_id == pair.patient).values(left_seq=1)
        )
    moves = await _advance(pair, (pair.thread, pair.patient, Receipt(1, 1)))
    assert moves == [ReceiptMove(None, 1)]
    assert (await _receipts(pair))[pair.patient] == (0, 0)


async def test_a_receipt_whose_row_another_transaction_holds_is_not_waited_for(
    pair: Pair,
) -> None:
    """PostgreSQL: another node's writer holds the member's row; the receipt
    comes back busy at once (no lock waited for, so no deadlock through it)
    while its neighbour moves, and moves once the row is free."""
    if pair.store.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no row is held by another")
    await _others_message(pair, "m1")
    async with pair.store.db.write() as holder:
        await holder.execute(
            update(participants)
            .where(participants.c.user_id == pair.doctor)
            .values(muted=participants.c.muted)
        )
        moves = await _advance(
            pair,
            (pair.thread, pair.doctor, Receipt(1, 1)),
            (pair.thread, pair.patient, Receipt(1, 0)),
            after_a_read=True,
        )
        assert moves == [ReceiptMove(None, 1, busy=True), ReceiptMove(Receipt(1, 0), None)]
    moves = await _advance(pair, (pair.thread, pair.doctor, Receipt(1, 1)))
    assert moves == [ReceiptMove(Receipt(1, 1), None)]
    assert await _receipts(pair) == {pair.doctor: (1, 1), pair.patient: (1, 0)}


async def test_receipts_are_one_per_member_and_thread(pair: Pair) -> None:
    me = (pair.thread, pair.doctor)
    with pytest.raises(ValueError, match="one receipt per member"):
        await _advance(pair, (*me, Receipt(1, 0)), (*me, Receipt(1, 1)))


class _Undo(Exception):
    """Rolls a transaction back."""


async def _sends_in_turn(
    tx: WriteTx,
    asks: list[SendAsk],
    close_first: bool,
    answers: dict[SendAsk, SendState | None] | None = None,
) -> list[SendState | None]:
    """Each send's read (as read ahead in ``answers``, or its own), and its
    message stored after it as a batch does, its sender's read seq moving
    in what it read, as the server's send moves it (``server.ops.send``);
    with ``close_first``, an operation closes the first send's thread just
    before its turn."""
    answers = {} if answers is None else answers
    found: list[SendState | None] = []
    for ask in asks:
        if close_first and ask is asks[0]:
            closing = update(threads).where(threads.c.id == ask.thread_id).values(closed_at=NOW)
            await tx.connection.execute(closing)
        state = answers.pop(ask) if ask in answers else await tx.threads.send_state(ask)
        found.append(None if state is None else replace(state, read_seqs=dict(state.read_seqs)))
        if state is not None and not state.duplicate:
            new = new_message(
                ask.thread_id,
                ask.device_id or None,
                ask.sender,
                at=ask.now,
                client_msg_id=ask.client_msg_id,
                thread_reply_allowed=ask.reply_allowed,
                reader=ask.sender,
                counted_for=ask.recipient,
            )
            stored = await tx.messages.append(new)
            state.read_seqs[ask.sender] = stored.seq
    return found


@pytest.mark.parametrize("first_vouched", [True, False])
async def test_sends_read_ahead_find_what_each_would_read_in_turn(
    pair: Pair, first_vouched: bool
) -> None:
    """Read ahead, a batch's sends find what they would have read one after
    the other, a thread's later sends too (a burst): what the sends before
    them write is counted in (the sender's daily count, whether the
    patient may answer, the members' read seqs). A thread's send not
    vouched for (its thread changes before its turn) reads at its turn,
    and so do the thread's later sends; and so does a send after a retry
    of one before it (it finds the row stored), or after its sender's send
    in another thread (their daily count)."""
    await _append(pair, "m1", thread_reply_allowed=None)
    other, doctors = await thread_of(pair.store, pair.doctor, pair.patient)  # the doctor's device
    patient, doctor, thread = pair.patient, pair.doctor, pair.thread
    asks = [
        SendAsk(thread, pair.device, "m2", patient, doctor, NOW),  # a burst's first
        SendAsk(thread, doctors, "d1", doctor, None, NOW, False),  # the patient may not answer
        SendAsk(thread, pair.device, "m3", patient, doctor, NOW),  # the patient's second
        SendAsk(thread, pair.device, "m2", patient, doctor, NOW),  # a retry of m2
        SendAsk(thread, pair.device, "m4", patient, doctor, NOW),  # after the retry
        SendAsk(other, doctors, "d2", doctor, None, NOW),  # the doctor's in another thread
        SendAsk(other + 100, 0, "x1", doctor + 100, None, NOW),  # no such thread
        SendAsk(other + 200, 0, "x2", doctor + 200, None, NOW),  # nor this one
    ]
    closing = not first_vouched
    with pytest.raises(_Undo):
        async with write_tx(pair.store.db) as tx:
            in_turn = await _sends_in_turn(tx, asks, closing)
            raise _Undo
    async with write_tx(pair.store.db) as tx:
        vouched = [first_vouched] + [True] * (len(asks) - 1)
        answers = await tx.threads.read_ahead(list(zip(asks, vouched, strict=True)))
        read = set(answers)
        ahead = await _sends_in_turn(tx, asks, closing, answers)
    if pair.store.db.is_sqlite:
        assert read == set()  # SQLite reads each at its turn
    elif first_vouched:
        assert read == {*asks[:3], *asks[6:]}
    else:
        assert read == set(asks[6:])
    assert ahead == in_turn
    first, answer, second, retry, after, doctors_other, missing, _ = ahead
    assert first is not None and first.thread.closed_at == (NOW if closing else None)
    assert not first.duplicate and first.sent_last_day == 1 and first.thread.reply_allowed
    assert answer is not None and answer.read_seqs == {patient: 2, doctor: 0}
    assert second is not None and not second.duplicate and second.sent_last_day == 2
    assert second.read_seqs == {patient: 2, doctor: 3} and not second.thread.reply_allowed
    assert retry is not None and retry.duplicate and retry.sent_last_day == 3
    assert after is not None and not after.duplicate and after.sent_last_day == 3
    assert doctors_other is not None and doctors_other.read_seqs == {patient: 0, doctor: 0}
    assert missing is None


@contextmanager
def _members_read(tx: WriteTx) -> Iterator[list[str]]:
    """The statements that read a thread's members alone (SQLite's), run
    on ``tx``'s connection meanwhile; none elsewhere."""
    reads: list[str] = []
    driver = adapter_of(tx.connection).driver_connection
    if not isinstance(driver, InlineConnection):
        yield reads
        return
    members = _READ_SEQS.statement.compile(dialect=sqlite.dialect()).string.split("?")[0]
    driver.sqlite.set_trace_callback(  # (it is given the SQL with its values in place)
        lambda sql: reads.append(sql) if sql.startswith(members) else None
    )
    try:
        yield reads
    finally:
        driver.sqlite.set_trace_callback(None)


async def _send_in(tx: WriteTx, pair: Pair, sender: int, client_msg_id: str) -> SendState:
    """A send of ``sender``'s in ``tx``, as the server's; what it read."""
    new = new_message(
        pair.thread, pair.device, sender, at=NOW, client_msg_id=client_msg_id, reader=sender
    )
    found, _ = await send_in(tx, new)
    assert found is not None
    return found


async def test_a_threads_next_send_finds_the_members_as_the_last_left_them(pair: Pair) -> None:
    """Sends one after the other in a transaction each find every member's
    read seq as a read would, the previous senders' moved by their sends
    (on SQLite, known from the send before, not read again)."""
    async with write_tx(pair.store.db) as tx:
        with _members_read(tx) as reads:
            found = [
                await _send_in(tx, pair, sender, f"m{n}")
                for n, sender in enumerate((pair.patient, pair.doctor, pair.patient, pair.patient))
            ]
        assert await tx.threads.read_seqs(pair.thread) == {pair.patient: 4, pair.doctor: 2}
    assert len(reads) == (1 if pair.store.db.is_sqlite else 0)  # PostgreSQL: one statement each
    assert [state.read_seqs for state in found] == [
        {pair.patient: 0, pair.doctor: 0},
        {pair.patient: 1, pair.doctor: 0},
        {pair.patient: 1, pair.doctor: 2},
        {pair.patient: 3, pair.doctor: 2},
    ]
    assert found[2].read_seqs is not found[3].read_seqs  # a send's own, not shared


async def test_a_send_to_another_thread_reads_that_threads_members(pair: Pair) -> None:
    """What a transaction knows of one thread's members is not taken for
    another's, though nothing was written between their sends."""
    other, device = await thread_of(pair.store, pair.patient, pair.doctor)
    async with write_tx(pair.store.db) as tx:
        with _members_read(tx) as reads:
            await _send_in(tx, pair, pair.patient, "m1")
            new = new_message(
                other, device, pair.patient, at=NOW, client_msg_id="m2", reader=pair.patient
            )
            there, _ = await send_in(tx, new)
    assert there is not None and there.read_seqs == {pair.patient: 0, pair.doctor: 0}
    assert len(reads) == (2 if pair.store.db.is_sqlite else 0)


async def test_a_send_that_moves_no_receipt_and_a_notice_leave_the_members_known(
    pair: Pair,
) -> None:
    """A delegate's send (it moves no receipt) and a notice the server
    stores between two sends change no member's read seq: the next send
    still finds them, on SQLite without reading them again."""
    async with write_tx(pair.store.db) as tx:
        with _members_read(tx) as reads:
            await _send_in(tx, pair, pair.patient, "m1")
            by_delegate = new_message(
                pair.thread, pair.device, pair.doctor, at=NOW, client_msg_id="m2"
            )  # no reader: a delegate's send moves no receipt
            delegated, _ = await send_in(tx, by_delegate)
            notice = new_message(pair.thread, None, pair.doctor, at=NOW, client_msg_id="n1")
            await tx.messages.append(notice)
            last = await _send_in(tx, pair, pair.doctor, "m3")
        assert await tx.threads.read_seqs(pair.thread) == {pair.patient: 1, pair.doctor: 4}
    assert len(reads) == (1 if pair.store.db.is_sqlite else 0)
    assert delegated is not None
    assert delegated.read_seqs == last.read_seqs == {pair.patient: 1, pair.doctor: 0}


async def _receipt_then_notice(tx: WriteTx, pair: Pair) -> None:
    """A receipt moved, then a message stored after it (a notice)."""
    await tx.threads.advance_receipts([(pair.thread, pair.doctor, Receipt(1, 1))])
    await tx.messages.append(new_message(pair.thread, None, pair.doctor, at=NOW, client_msg_id="n"))


async def test_a_message_to_another_thread_or_moving_no_receipt_moves_none_here(
    pair: Pair,
) -> None:
    """A message stored in another thread moves its reader's seq there, not
    here; one that moves no receipt (a delegate's) moves nobody's."""
    other, device = await thread_of(pair.store, pair.patient, pair.doctor)
    async with pair.store.db.write() as conn:  # the practitioner left this thread
        await conn.execute(
            update(participants)
            .where(participants.c.thread_id == pair.thread, participants.c.user_id == pair.doctor)
            .values(left_seq=0)
        )
    doctor = pair.doctor
    elsewhere = new_message(other, device, doctor, at=NOW, client_msg_id="e", reader=doctor)
    gone = new_message(pair.thread, None, doctor, at=NOW, client_msg_id="g")
    async with write_tx(pair.store.db) as tx:
        await _send_in(tx, pair, pair.patient, "m1")
        await tx.messages.append(elsewhere)
        after_elsewhere = await _send_in(tx, pair, pair.patient, "m2")
        await tx.messages.append(gone)
        after_gone = await _send_in(tx, pair, pair.patient, "m3")
    assert after_elsewhere.read_seqs == {pair.patient: 1}
    assert after_gone.read_seqs == {pair.patient: 2}


_BETWEEN: dict[str, Callable[[WriteTx, Pair], Awaitable[Any]]] = {
    "a receipt moved": lambda tx, pair: tx.threads.advance_receipts(
        [(pair.thread, pair.doctor, Receipt(1, 1))]
    ),
    "a member gone": lambda tx, pair: tx.threads.remove_member(pair.thread, pair.doctor, 9),
    "a member come": lambda tx, pair: tx.threads.add_member(pair.thread, pair.doctor + 1, 9, NOW),
    "a receipt moved, then a notice": _receipt_then_notice,
}


@pytest.mark.parametrize("between", list(_BETWEEN))
async def test_a_write_between_two_sends_is_read_by_the_second(pair: Pair, between: str) -> None:
    """Whatever else the transaction writes between two sends to a thread,
    the second reads the members again: it finds the write."""
    async with pair.store.db.write() as conn:  # someone who may join
        values = {"username": "sec", "display_name": "sec", "role": "secretary"}
        values |= {"password_hash": "-", "created_at": 0, "id": pair.doctor + 1}
        await conn.execute(insert(users).values(**values))
    async with write_tx(pair.store.db) as tx:
        await _send_in(tx, pair, pair.patient, "m1")
        await _BETWEEN[between](tx, pair)
        expected = await tx.threads.read_seqs(pair.thread)
        second = await _send_in(tx, pair, pair.patient, "m2")
    assert second.read_seqs == expected
    assert expected != {pair.patient: 1, pair.doctor: 0}  # what the first send left
