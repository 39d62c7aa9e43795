"""The ``/ws`` endpoint: handshake, then a reader, a writer and, when the
device resumes, a replay of what it missed.

Calls from one connection are answered in the order they were sent; on
SQLite a send or a receipt is answered while the next frames are read
(``server.calls``).
A frame that cannot be read is answered with an ``error`` frame (``id`` set
when the call's id could be read) and the connection goes on; only a bad
handshake or a protocol-level failure closes it, with a documented
``CloseCode``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from time import monotonic

from protocol.codec import (
    BATCHES_FROM,
    PACKED_BYTES,
    SUBPROTOCOL,
    Codec,
    encode,
    encode_event,
    messages,
    to_raw,
)
from protocol.errors import CloseCode, DecodeError, ErrorCode
from protocol.events import SyncReset
from protocol.frames import Call, Error, Hello, Limits, Result, Welcome
from protocol.model import Role
from protocol.session import (
    CallReceived,
    FrameEvent,
    FrameRefused,
    Greeted,
    PingReceived,
    Refused,
    ServerSession,
)
from server.auth import hash_token
from server.calls import Calls
from server.connection import Connection
from server.context import Context
from server.convert import event_data
from server.errors import ServerError
from server.policy import DELEGATE_ROLES
from server.ratelimit import Charge, Limit
from server.rpc import CALLING, ROUTES, Bucket
from server.websocket import Disconnected, Socket
from storage.errors import Unavailable
from storage.events import REPLAY_PAGE, Resume, StoredEvent

__all__ = ["websocket_endpoint"]

log = logging.getLogger(__name__)
CLOSE_WAIT_SECONDS = 5.0
STORE_DOWN = (CloseCode.SERVER_SHUTDOWN, "store unavailable, resume later")


async def websocket_endpoint(ctx: Context, ws: Socket) -> None:
    try:
        if SUBPROTOCOL not in ws.subprotocols:
            await ws.accept()
            await ws.close(CloseCode.UNSUPPORTED_VERSION, f"offer subprotocol {SUBPROTOCOL}")
            return
        await ws.accept(subprotocol=SUBPROTOCOL)
        if ctx.draining:
            await ws.close(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect elsewhere")
            return
        await _greet(ctx, ws)
    except Disconnected:
        return


async def _greet(ctx: Context, ws: Socket) -> None:
    wire = ServerSession(ctx.settings.max_frame_bytes)
    try:
        async with asyncio.timeout(ctx.settings.hello_timeout_seconds):  # no task, unlike wait_for
            greeting = wire.receive_hello(await ws.receive())
    except TimeoutError:
        greeting = wire.hello_timed_out()
    if isinstance(greeting, Refused):
        await _close(ws, greeting.code, greeting.reason)
        return
    try:
        conn = await _authenticate(ctx, wire, greeting.hello)
    except Unavailable as exc:
        log.warning("hello refused: store unavailable (%s)", exc)
        conn = wire.refuse(*STORE_DOWN)
    if isinstance(conn, Refused):
        await _close(ws, conn.code, conn.reason)
        return
    await _serve(ctx, ws, wire, conn, greeting)


async def _authenticate(ctx: Context, wire: ServerSession, hello: Hello) -> Connection | Refused:
    token_hash = hash_token(hello.token)
    session = await ctx.store.accounts.session(token_hash)
    if session is None or session.device_id != hello.device:
        return wire.refuse(CloseCode.UNAUTHORIZED, "unknown token for this device: log in again")
    if session.revoked:
        return wire.refuse(CloseCode.TOKEN_REVOKED, "token revoked: log in again")
    if session.expires_at <= ctx.clock.ms():
        return wire.refuse(CloseCode.UNAUTHORIZED, "token expired: log in again")
    s = ctx.settings
    device = session.device_id
    return Connection(
        session=secrets.token_urlsafe(12),
        user_id=session.user.id,
        device_id=session.device_id,
        token_hash=token_hash,
        role=Role(session.user.role),
        queue_bytes=s.send_queue_bytes,
        calls=(f"calls:{device}", Limit(s.calls_per_second, s.call_burst)),
        sends=(f"sends:{device}", Limit(s.sends_per_second, s.send_burst)),
        locale=session.locale,
    )


def _welcome(ctx: Context, conn: Connection, greeting: Greeted, cursor: int) -> bytes:
    s = ctx.settings
    limits = Limits(
        frame_bytes=s.max_frame_bytes,
        envelope_bytes=s.max_envelope_bytes,
        calls_per_second=s.calls_per_second,
        call_burst=s.call_burst,
        sends_per_second=s.sends_per_second,
        send_burst=s.send_burst,
        history_page=s.history_page,
    )
    return encode(
        Welcome(
            v=greeting.version,
            user=conn.user_id,
            role=conn.role.value,
            device=conn.device_id,
            session=conn.session,
            server_time=ctx.clock.ms(),
            cursor=cursor,
            heartbeat_ms=int(s.heartbeat_seconds * 1000),
            limits=limits,
            resumed=greeting.hello.resume_from is not None,
            locale=conn.locale,
        )
    )


async def _serve(
    ctx: Context, ws: Socket, wire: ServerSession, conn: Connection, greeting: Greeted
) -> None:
    resume_from = greeting.hello.resume_from
    routes = ctx.hub.add(conn)  # from here on, live durable events are held until replayed
    if ctx.draining:  # the drain began while this socket said hello
        conn.finish(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect elsewhere")
    tasks: list[asyncio.Task[None]] = []
    calls = Calls(conn, _stopped_on, ctx.writer.hurried)
    try:
        if conn.role in DELEGATE_ROLES:  # a change from here on closes this socket
            conn.grants = await ctx.directory.grants(conn.user_id)
            routes += ctx.hub.read_for(conn)
        await ctx.broker.attach(routes)  # before the cursor: later events find this node
        head = ctx.hub.delivered
        if greeting.version >= BATCHES_FROM:
            conn.batch_bytes = min(ctx.settings.max_frame_bytes, PACKED_BYTES)
        conn.welcome(_welcome(ctx, conn, greeting, head))
        conn.last_seq = head if resume_from is None else resume_from
        conn.write_with(functools.partial(_start_writer, ws, conn))
        reading = _read(ctx, ws, wire, conn, calls)
        tasks.append(asyncio.create_task(reading, name=f"read-{conn.session}"))
        if resume_from is None:
            conn.go_live()
        else:
            tasks.append(asyncio.create_task(_replay(ctx, conn, resume_from, head)))
        await ctx.presence.refresh(conn.user_id)
        await conn.wait_closed()
    except Unavailable as exc:
        _store_down(conn, exc)
    finally:
        if not conn.closing:
            conn.close(CloseCode.NORMAL)
        if conn.writer is not None:  # still writing: the close frame goes next
            tasks.append(conn.writer)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        code = conn.close_code or CloseCode.NORMAL
        wire.close(code, conn.close_reason)
        await _close(ws, code, conn.close_reason)
        wire.closed()
        await calls.let_finish(CLOSE_WAIT_SECONDS)
        # Out of the hub once closed: a graceful stop waits for the hub to empty.
        await ctx.broker.detach(ctx.hub.remove(conn))
        with contextlib.suppress(Unavailable):
            await ctx.presence.refresh(conn.user_id)


def _stopped_on(conn: Connection, error: Exception) -> None:
    """The reader, the writer or the replay stopped on ``error``: the client
    left, the store is down (the client resumes later), or a fault, logged
    unless the connection was already closing. Either way it closes."""
    if isinstance(error, Unavailable):
        _store_down(conn, error)
    elif conn.closing:
        log.debug("session %s: %r while closing", conn.session, error)
    elif not isinstance(error, Disconnected):
        log.error("session %s failed", conn.session, exc_info=error)
        conn.close(CloseCode.SERVER_ERROR, "internal error")
    conn.close(CloseCode.NORMAL)  # the first close wins


def _store_down(conn: Connection, error: Unavailable) -> None:
    log.warning(
        "session %s: store unavailable (%s); closing so it resumes later", conn.session, error
    )
    conn.close(*STORE_DOWN)


async def _replay(ctx: Context, conn: Connection, resume_from: int, head: int) -> None:
    """Send every durable event after ``resume_from`` (oldest first), then go
    live. Each page reads up to ``Hub.delivered`` as it is when asked for
    (the socket is in the hub already): whatever is above it reaches this
    socket live (held until now), so nothing falls between the two, and
    what comes both ways is sent once."""
    try:
        asked = Resume(conn.user_id, resume_from, conn.device_id, ctx.hub.delivered)
        page = await ctx.store.events.resume(asked, ctx.clock.ms())
        if page is None:
            conn.send(encode_event("sync.reset", to_raw(SyncReset(head))))
            conn.last_seq = head
        else:
            await _send_backlog(ctx, conn, page)
    except Exception as exc:
        _stopped_on(conn, exc)
        return
    conn.go_live()


async def _send_backlog(ctx: Context, conn: Connection, page: list[StoredEvent]) -> None:
    """Send ``page``, then the pages after it until one is not full."""
    while True:
        for event in page:
            await conn.send_paced(encode_event(event.type, event_data(event), event.seq))
            conn.last_seq = event.seq
        if len(page) < REPLAY_PAGE:
            return
        page = await ctx.store.events.after(
            conn.user_id,
            page[-1].seq,
            REPLAY_PAGE,
            ctx.clock.ms(),
            conn.device_id,
            ctx.hub.delivered,
        )


def _start_writer(ws: Socket, conn: Connection) -> asyncio.Task[None]:
    return asyncio.create_task(_write(ws, conn))


async def _write(ws: Socket, conn: Connection) -> None:
    try:
        while frames := conn.take_frames():
            for message, size in messages(frames, conn.batch_bytes):
                if conn.closing:  # what it took is dropped, as what was queued
                    return
                await ws.send(message)
                conn.sent(size)
    except Exception as exc:
        _stopped_on(conn, exc)
    except asyncio.CancelledError:
        conn.close(CloseCode.NORMAL)
        raise


async def _read(
    ctx: Context, ws: Socket, wire: ServerSession, conn: Connection, calls: Calls
) -> None:
    try:
        while True:
            data = await ws.receive()
            if conn.finishing:  # a graceful stop: the client sends it again elsewhere
                await conn.wait_closed()
                return
            conn.last_received = monotonic()
            frame = wire.receive(data)
            await calls.take(
                functools.partial(_handle, ctx, conn, frame), pipelined=_pipelined(frame)
            )
            if conn.closing:  # a call closed it: what was read after it is dropped
                return
    except Exception as exc:
        _stopped_on(conn, exc)
    finally:
        conn.close(CloseCode.NORMAL)  # however it stopped; the first close wins


def _pipelined(frame: FrameEvent) -> bool:
    """Whether the frame is a call whose writes are queued in order, which
    the connection need not wait for before reading the next frame."""
    route = ROUTES.get(frame.call.method) if isinstance(frame, CallReceived) else None
    return route is not None and route.pipelined


async def _handle(ctx: Context, conn: Connection, frame: FrameEvent) -> bytes | None:
    """The answer to one frame, if any. Every frame, readable or not, spends
    from the device's call bucket; a call spends what its route charges."""
    wait = await ctx.broker.limits.take(*_charges(conn, frame))
    if wait:
        return _rate_limited(ctx, conn, frame, wait)
    conn.refused_in_a_row = 0
    if isinstance(frame, CallReceived):
        return await _call(ctx, conn, frame.call)
    if isinstance(frame, PingReceived | FrameRefused):
        return frame.reply
    return None  # a pong only proves liveness, which receiving it already recorded


def _rate_limited(ctx: Context, conn: Connection, frame: FrameEvent, wait: float) -> bytes | None:
    """The ``rate_limited`` answer to a frame the device had no tokens for.
    A client that keeps sending past a burst of such answers is closed:
    ignoring them costs the server a decode and an answer a frame."""
    conn.refused_in_a_row += 1
    if conn.refused_in_a_row > ctx.settings.call_burst:
        conn.close(CloseCode.POLICY_VIOLATION, "too many frames after rate_limited")
        return None
    details = {"retry_after_ms": int(wait * 1000) + 1}
    return encode(Error(_call_id(frame), ErrorCode.RATE_LIMITED, "slow down", details))


def _call_id(frame: FrameEvent) -> int | None:
    if isinstance(frame, CallReceived):
        return frame.call.id
    return frame.error.id if isinstance(frame, FrameRefused) else None


def _charges(conn: Connection, frame: FrameEvent) -> list[Charge]:
    route = ROUTES.get(frame.call.method) if isinstance(frame, CallReceived) else None
    buckets = {Bucket.CALLS: conn.calls, Bucket.SENDS: conn.sends}
    return [buckets[bucket] for bucket in (route.charges if route else CALLING)]


async def _call(ctx: Context, conn: Connection, call: Call) -> bytes:
    try:
        params = Codec.decode_params(call.method, call.params)
        value = await ROUTES[call.method].handler(ctx, conn, params)
        return encode(Result(call.id, to_raw(value)))
    except ServerError as exc:
        return encode(Error(call.id, exc.code, exc.worded(conn.locale), exc.details))
    except DecodeError as exc:
        return encode(Error(call.id, exc.code, str(exc)[:300]))
    except Unavailable as exc:  # one line each: an outage must not flood the log
        log.warning("%s refused: %s", call.method, exc)
        return encode(Error(call.id, ErrorCode.UNAVAILABLE, "storage unavailable, retry later"))
    except Exception:
        log.exception("%s failed", call.method)
        return encode(Error(call.id, ErrorCode.INTERNAL, "internal error"))


async def _close(ws: Socket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        # A slow consumer's close frame waits behind what it has not read yet;
        # past this, the transport is dropped and the client sees 1006.
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await ws.close(code, reason[:120])
