"""The async client: one WebSocket, calls, events, reconnect and resume.

    async with Client(ws_url, credentials) as client:
        thread = await client.call("threads.open", ThreadsOpenParams(...))
        await client.send(thread.id, envelope)
        async for event in client.events():
            ...

After a drop the client reconnects with back-off, resumes from the last
durable event it received (no event is lost or repeated) and sends again
every ``messages.send`` that was not acknowledged (the server stores each
``client_msg_id`` once). Other calls in flight fail with ``Disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from clients.errors import AuthError, CallError, CarehubError, Disconnected
from clients.http import Credentials
from protocol.codec import SUBPROTOCOL, BrokenError, BrokenEvent, Codec, encode, to_raw
from protocol.errors import CloseCode, DecodeError, ErrorCode, should_reconnect
from protocol.frames import Call, Error, Event, Result, Welcome
from protocol.methods import SendParams, SendResult
from protocol.session import (
    ClientSession,
    Duplicate,
    EventReceived,
    Refused,
    ReplyReceived,
    SessionEvent,
    Welcomed,
)

__all__ = ["UNREADABLE", "Client", "ClientEvent", "Unreadable"]

log = logging.getLogger(__name__)

UNREADABLE = "unreadable"  # the type of a ClientEvent whose data or frame did not validate

_AUTH_CLOSES = {CloseCode.UNAUTHORIZED, CloseCode.TOKEN_REVOKED}


@dataclass(frozen=True, slots=True)
class ClientEvent:
    type: str
    data: Any  # the event's Struct (protocol.events); raw for unknown types; Unreadable
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An event that did not validate, handed on as an ``unreadable`` event
    rather than dropped: the cursor is past its seq, so no resume would
    bring it back, and an app that dispatches on ``type`` skips it as it
    skips a type it does not know. Either its data, of a known type (a
    server older or newer than this SDK, or a bug), or its frame itself (a
    server's bug: ``type`` is "" unless the frame's is a string, and
    ``data`` the whole frame)."""

    type: str
    data: msgspec.Raw
    reason: str


@dataclass
class _Pending:
    method: str
    params: msgspec.Raw
    future: asyncio.Future[Any]
    retry: bool  # send again after a reconnect (idempotent calls only)
    frame: bytes = b""


@dataclass
class _Stats:
    reconnects: int = 0
    resent: int = 0
    duplicates_dropped: int = 0
    unreadable: int = 0  # events handed on as ``unreadable``
    closes: list[int] = field(default_factory=list)


def _as_bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode()


def _call_error(frame: Error | BrokenError) -> CallError:
    """The call's failure; an error whose frame did not validate (a code
    from a newer server) keeps what could be read of it."""
    if isinstance(frame, Error):
        return CallError(frame.code, frame.message, frame.details)
    message = frame.message or f"unreadable error: {frame.reason}"
    return CallError(frame.code or ErrorCode.INTERNAL, message, frame.details)


def other_node(urls: list[str], current: str) -> str:
    """Any node but the current one, at random: after a rolling restart the
    clients spread over the nodes again instead of all ending on one."""
    others = [url for url in urls if url != current]
    return random.choice(others) if others else current


class Client:
    def __init__(
        self,
        url: str | Sequence[str],
        credentials: Credentials,
        *,
        resume_from: int | None = None,
        reconnect: bool = True,
        max_frame_bytes: int = 1024 * 1024,
    ) -> None:
        # Several nodes of one deployment: a reconnect tries another, at random.
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url = self.urls[0]
        self.credentials = credentials
        self.cursor = resume_from  # seq of the newest durable event received
        self.reconnect = reconnect
        self.welcome: Welcome | None = None
        self.stats = _Stats()
        self._codec = Codec(max_frame_bytes)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._events: asyncio.Queue[ClientEvent | CarehubError] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._session: ClientSession | None = None  # the current socket's
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._failure: CarehubError | None = None

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def user_id(self) -> int:
        return self.credentials.user_id

    async def connect(self) -> Welcome:
        """Connect and say hello; raises if the first attempt is refused."""
        self._ws, self.welcome = await self._open()
        self._connected.set()
        self._supervisor = asyncio.create_task(self._supervise(), name="carehub-client")
        return self.welcome

    async def close(self) -> None:
        self.reconnect = False
        if self._ws is not None:
            await self._ws.close()
        if self._supervisor is not None:
            if not self._connected.is_set():  # between attempts: stop trying
                self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._fail_all(Disconnected(CloseCode.NORMAL, "closed by the client"))

    async def call(
        self, method: str, params: Any = None, *, timeout: float = 30.0, idempotent: bool = False
    ) -> Any:
        """Call ``method`` and return its typed result; raise ``CallError`` if refused.
        An ``idempotent`` call (a read) is sent again after a reconnect instead
        of failing with ``Disconnected``."""
        return await self._call(method, params, retry=idempotent, timeout=timeout)

    async def send(
        self,
        thread: int,
        envelope: bytes,
        *,
        kind: str = "text",
        reason: str | None = None,
        reply_allowed: bool = True,
        close_thread: bool = False,
        client_msg_id: str | None = None,
        timeout: float = 60.0,
    ) -> SendResult:
        """Send a message; survives reconnects (retried with the same client_msg_id).
        The care side says whether the patient may reply, and may close the
        thread with it."""
        params = SendParams(
            thread=thread,
            client_msg_id=client_msg_id or uuid.uuid4().hex,
            envelope=envelope,
            kind=kind,
            reason=reason,
            reply_allowed=reply_allowed,
            close_thread=close_thread,
        )
        result: SendResult = await self._call("messages.send", params, retry=True, timeout=timeout)
        return result

    async def events(self) -> AsyncIterator[ClientEvent]:
        """Pushed events, durable ones in seq order and each once."""
        while True:
            item = await self._events.get()
            if isinstance(item, CarehubError):
                raise item
            yield item

    async def next_event(self, *types: str, timeout: float = 10.0) -> ClientEvent:
        """The next event of one of ``types`` (any type if none), skipping others."""
        async with asyncio.timeout(timeout):
            async for event in self.events():
                if not types or event.type in types:
                    return event
        raise AssertionError("unreachable")

    async def _call(self, method: str, params: Any, *, retry: bool, timeout: float) -> Any:
        if self._failure is not None:
            raise self._failure
        call_id = next(self._ids)
        raw = to_raw(params if params is not None else {})
        pending = _Pending(method, raw, asyncio.get_running_loop().create_future(), retry)
        pending.frame = encode(Call(id=call_id, method=method, params=raw))
        self._pending[call_id] = pending
        try:
            if self._connected.is_set() and self._ws is not None:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self._ws.send(pending.frame)
            async with asyncio.timeout(timeout):
                return await pending.future
        finally:
            self._pending.pop(call_id, None)

    async def _open(self) -> tuple[ClientConnection, Welcome]:
        ws = await connect(
            self.url,
            subprotocols=[websockets.Subprotocol(SUBPROTOCOL)],
            max_size=self._codec.max_frame_bytes,
            ping_interval=None,  # the protocol's own heartbeat keeps the link alive
            open_timeout=10,
        )
        session = ClientSession(
            self.credentials.token,
            self.credentials.device_id,
            resume_from=self.cursor,
            client="carehub-py/0.1",
            max_frame_bytes=self._codec.max_frame_bytes,
        )
        for frame in session.data_to_send():
            await ws.send(frame)
        try:
            first = await ws.recv()
        except websockets.ConnectionClosed as closed:
            raise self._closed_error(closed) from None
        [answer] = session.receive(_as_bytes(first))  # a welcome, or a refusal
        if not isinstance(answer, Welcomed):
            await ws.close()
            raise CarehubError(answer.reason if isinstance(answer, Refused) else "no welcome")
        self._session = session
        self.cursor = session.cursor
        return ws, answer.welcome

    def _closed_error(self, closed: websockets.ConnectionClosed) -> CarehubError:
        code = closed.rcvd.code if closed.rcvd else None
        reason = closed.rcvd.reason if closed.rcvd else ""
        if code in _AUTH_CLOSES:
            return AuthError(f"{CloseCode(code).name.lower()}: {reason}")
        return Disconnected(code, reason)

    async def _supervise(self) -> None:
        attempt = 0
        while True:
            assert self._ws is not None
            error = await self._read(self._ws)
            self._connected.clear()
            code = error.code if isinstance(error, Disconnected) else None
            self.stats.closes.append(code or 0)
            if (
                not self.reconnect
                or isinstance(error, AuthError)
                or (code is not None and not should_reconnect(code))
            ):
                self._fail_all(error)
                return
            self._fail_pending(lambda p: not p.retry, error)
            while True:
                attempt += 1
                await asyncio.sleep(
                    min(5.0, 0.05 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.0)
                )
                if attempt > 1 or code == CloseCode.SERVER_SHUTDOWN:  # try another node
                    self.url = other_node(self.urls, self.url)
                try:
                    self._ws, self.welcome = await self._open()
                    break
                except AuthError as refused:
                    self._fail_all(refused)
                    return
                except (OSError, CarehubError, websockets.WebSocketException, TimeoutError):
                    continue
            attempt = 0
            self.stats.reconnects += 1
            self._connected.set()
            for pending in list(self._pending.values()):
                self.stats.resent += 1
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self._ws.send(pending.frame)

    async def _read(self, ws: ClientConnection) -> CarehubError:
        """Handle frames until the socket closes; return why it closed."""
        session = self._session
        assert session is not None
        while True:
            try:
                # Not wait_for: on Python 3.11 it may swallow a cancel (a close).
                async with asyncio.timeout(session.silence_seconds):
                    data = await ws.recv()
            except TimeoutError:
                session.close(CloseCode.HEARTBEAT_TIMEOUT, "server silent")
                await ws.close(CloseCode.HEARTBEAT_TIMEOUT, "server silent")
                return Disconnected(CloseCode.HEARTBEAT_TIMEOUT, "server silent")
            except websockets.ConnectionClosed as closed:
                session.closed()
                return self._closed_error(closed)
            events = session.receive(_as_bytes(data))
            self.cursor = session.cursor
            for frame in session.data_to_send():  # a pong
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.send(frame)
            for event in events:
                self._dispatch(event)

    def _dispatch(self, event: SessionEvent) -> None:
        if isinstance(event, ReplyReceived):
            self._answer(event.frame)
        elif isinstance(event, EventReceived):
            self._events.put_nowait(self._client_event(event.event))
        elif isinstance(event, Duplicate):
            self.stats.duplicates_dropped += 1

    def _client_event(self, frame: Event | BrokenEvent) -> ClientEvent:
        if isinstance(frame, BrokenEvent):
            return self._unreadable(frame.type, frame.frame, frame.reason, frame.seq)
        try:
            data = self._codec.decode_event(frame.type, frame.data)
        except DecodeError as exc:
            return self._unreadable(frame.type, frame.data, str(exc), frame.seq)
        return ClientEvent(frame.type, data, frame.seq)

    def _unreadable(
        self, type_: str, data: msgspec.Raw, reason: str, seq: int | None
    ) -> ClientEvent:
        self.stats.unreadable += 1
        log.warning("event %s #%s is unreadable: %s", type_ or "?", seq, reason)
        return ClientEvent(UNREADABLE, Unreadable(type_, data, reason), seq)

    def _answer(self, frame: Result | Error | BrokenError) -> None:
        pending = self._pending.get(frame.id) if frame.id is not None else None
        if pending is None or pending.future.done():
            return
        if isinstance(frame, Error | BrokenError):
            pending.future.set_exception(_call_error(frame))
            return
        try:
            pending.future.set_result(self._codec.decode_result(pending.method, frame.value))
        except DecodeError as exc:
            pending.future.set_exception(CarehubError(f"unreadable result: {exc}"))

    def _fail_pending(self, which: Any, error: CarehubError) -> None:
        for pending in list(self._pending.values()):
            if which(pending) and not pending.future.done():
                pending.future.set_exception(error)

    def _fail_all(self, error: CarehubError) -> None:
        if self._failure is None:
            self._failure = error
            self._events.put_nowait(error)
        self._fail_pending(lambda _: True, error)
