"""messages.send, messages.history

A send is decoded and checked against its envelope's header here, then
planned, stored and followed up by ``server.ops.send``. An assistant answers
for a practitioner with ``acting_for`` in the header, within the
practitioner's delegation to them (``reply`` scope).
"""

from __future__ import annotations

from functools import partial

from protocol.e2e import AnyHeader, Scope, decode_envelope
from protocol.errors import DecodeError
from protocol.methods import HistoryParams, HistoryResult, SendParams, SendResult
from server.connection import Connection
from server.context import Services
from server.convert import message_data
from server.errors import ServerError, conflict, invalid, too_large
from server.notices import NOTICE_KIND
from server.ops.access import thread_of
from server.ops.send import after_send, plan_send, store_send
from storage.messages import StoredMessage

__all__ = ["history", "send"]


async def send(ctx: Services, conn: Connection, p: SendParams) -> SendResult:
    limit = ctx.settings.max_envelope_bytes
    if len(p.envelope) > limit:
        raise too_large(f"envelope over {limit} bytes", limit=limit)
    if p.kind == NOTICE_KIND:
        raise invalid("notices are written by the server, not sent")
    header = _header(p)
    # A delegate answers in a practitioner's place only by saying so (signed).
    acting_for = header.acting_for
    scope = None if acting_for is None else Scope.REPLY
    access = await thread_of(ctx, conn, p.thread, scope, acting_for)
    _check_call(p, header)
    try:
        plan = await plan_send(ctx, conn.user_id, conn.device_id, conn.session, p, header, access)
    except ServerError:
        # A retry of a message already stored, refused because the devices or
        # the rules changed since, is answered as the duplicate it is.
        stored = await ctx.store.messages.sent(conn.device_id, p.client_msg_id)
        if stored is None:
            raise
        return _duplicate(stored, p.thread)
    sent = await ctx.writer.run(partial(store_send, plan), p.thread, plan.ahead)
    if sent.announced is None:
        return _duplicate(sent.message, p.thread)
    await after_send(ctx, plan, sent)
    return SendResult(sent.message.id, sent.message.seq, sent.message.sent_at)


def _duplicate(stored: StoredMessage, thread_id: int) -> SendResult:
    """The answer to a send whose ``client_msg_id`` this device already stored."""
    if stored.thread_id != thread_id:
        raise conflict("client_msg_id already used in another thread")
    return SendResult(stored.id, stored.seq, stored.sent_at, duplicate=True)


def _header(p: SendParams) -> AnyHeader:
    try:
        return decode_envelope(p.envelope)[1]
    except DecodeError as exc:
        raise invalid(f"not an envelope: {exc}") from None


def _check_call(p: SendParams, header: AnyHeader) -> None:
    """The header says what the call says."""
    expected = {
        "thread": p.thread,
        "kind": p.kind,
        "reason": p.reason,
        "msg_id": p.client_msg_id,
    }
    found = {
        "thread": header.thread,
        "kind": header.kind,
        "reason": header.reason,
        "msg_id": header.msg_id.hex(),
    }
    differ = sorted(name for name in expected if expected[name] != found[name])
    if differ:
        raise invalid("the envelope header disagrees with the call", fields=differ)


async def history(ctx: Services, conn: Connection, p: HistoryParams) -> HistoryResult:
    await thread_of(ctx, conn, p.thread, Scope.READ)
    limit = min(p.limit, ctx.settings.history_page)
    found, has_more = await ctx.store.messages.history(p.thread, p.before_seq, limit)
    return HistoryResult([message_data(m) for m in found], has_more)
