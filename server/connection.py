"""One device's live session: who it is, and a bounded queue of frames to send.

Frames are queued as bytes already encoded (the same bytes for every
recipient) and written by a task that lives only while there is something to
write: an idle link holds no writer, and a frame queued to an idle link
costs one task started rather than a sleeping one woken.

Live pushes never wait: when the queue is over its byte budget the
connection is closed with ``SLOW_CONSUMER`` and the client resumes from its
cursor, so a slow reader cannot grow the server's memory. Durable events that
arrive while the session is replaying its backlog are held, then sent after
the backlog in seq order, each seq at most once.

A connection's life is one ``Stage`` that only moves forward::

    WELCOMING --welcome()--> REPLAYING --go_live()--> LIVE
        any stage --close()--> CLOSING

Once closing, nothing moves it any more (the first close wins). Two things
run across the stages and stay apart: ``busy`` (calls taken are not all
answered yet, ``server.calls``) and a graceful ``finish`` (close once they
are and the queue is flushed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from enum import IntEnum
from time import monotonic

from protocol.e2e import Delegate
from protocol.errors import CloseCode
from protocol.model import PresenceStatus, Role
from server.ratelimit import Charge

__all__ = ["Connection", "Flag", "Stage"]


class Flag:
    """``asyncio.Event``'s set, clear and wait, without its deque of
    waiters: one future, made only while someone waits. A connection holds
    two, for each of tens of thousands of idle links (an Event with its
    deque is 0.7 KB; an idle Flag, 56 bytes)."""

    __slots__ = ("_set", "_waiting")

    def __init__(self) -> None:
        self._set = False
        self._waiting: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        if self._waiting is not None:
            if not self._waiting.done():
                self._waiting.set_result(None)
            self._waiting = None

    def clear(self) -> None:
        self._set = False
        if self._waiting is not None and self._waiting.done():
            self._waiting = None  # made done while set: a waiter from now on waits

    def future(self) -> asyncio.Future[None]:
        """Done once set: one future shared by every waiter (never cancel it)."""
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
            if self._set:
                self._waiting.set_result(None)
        return self._waiting

    async def wait(self) -> None:
        if not self._set:
            await asyncio.shield(self.future())  # a cancelled waiter leaves the others waiting


class Stage(IntEnum):
    WELCOMING = 1  # greeted: ephemeral pushes are dropped, durable events held
    REPLAYING = 2  # the welcome is queued; durable events held while the backlog is sent
    LIVE = 3  # durable events go out as they come, each seq once
    CLOSING = 4  # the close is decided (``close_code``): nothing more is queued


# The stages the per-frame checks compare with, read as module names: in
# Python 3.11 each ``Stage.X`` is a lookup through the enum's class, about
# 0.3 µs, and a frame pushed to 100 members was checked 200 times.
_LIVE, _CLOSING = Stage.LIVE, Stage.CLOSING
_WELCOMED = (Stage.REPLAYING, Stage.LIVE)


class Connection:
    __slots__ = (
        "_drained",
        "_finish",
        "_frames",
        "_held",
        "_queue_bytes",
        "_queued",
        "_start_writer",
        "_welcome_next",
        "batch_bytes",
        "busy",
        "calls",
        "close_code",
        "close_reason",
        "closed",
        "device_id",
        "foreground",
        "grants",
        "last_received",
        "last_seq",
        "locale",
        "opened",
        "refused_in_a_row",
        "role",
        "sends",
        "session",
        "stage",
        "status",
        "token_hash",
        "user_id",
        "writer",
    )

    def __init__(
        self,
        *,
        session: str,
        user_id: int,
        device_id: int,
        role: Role,
        queue_bytes: int,
        calls: Charge,
        sends: Charge,
        token_hash: bytes = b"",  # the token it said hello with: logging it out closes it
        locale: str = "fr",  # the user's language: refusals are worded in it
    ) -> None:
        self.locale = locale
        self.session = session
        self.token_hash = token_hash
        self.user_id = user_id
        self.device_id = device_id
        self.role = role
        # Delegations to this user, by practitioner: set once at connect; a
        # change closes the socket (``CloseCode.ACCESS_CHANGED``).
        self.grants: Mapping[int, Delegate] = {}
        self.calls = calls  # every call spends from this device's bucket
        self.sends = sends  # messages.send also from this one
        self.status = PresenceStatus.ONLINE
        self.foreground = False
        self.opened = self.last_received = monotonic()
        self.last_seq = 0  # newest durable event sent
        self.close_code: int | None = None
        self.close_reason = ""
        self._queue_bytes = queue_bytes
        self._frames: list[bytes] = []
        self._queued = 0
        self._start_writer: Callable[[], asyncio.Task[None]] | None = None  # once open
        self.writer: asyncio.Task[None] | None = None  # while running, it takes every frame queued
        # The most bytes of one message of several frames (0: a frame per
        # message): ``protocol.codec.messages``, from version 2 on.
        self.batch_bytes = 0
        self._welcome_next = False  # the welcome is queued: taken alone
        self._drained = Flag()  # the queue has room again
        self.closed = Flag()
        self.stage = Stage.WELCOMING
        self._held: list[tuple[int, bytes]] = []  # durable events, until live
        self.busy = False  # calls taken, not all answered
        self.refused_in_a_row = 0  # frames answered rate_limited since the last one taken
        self._finish: tuple[int, str] | None = None  # close once answered and flushed

    @property
    def closing(self) -> bool:
        return self.stage is _CLOSING

    @property
    def welcomed(self) -> bool:
        return self.stage in _WELCOMED

    @property
    def live(self) -> bool:
        """Its backlog is sent: durable events are no longer held."""
        return self.stage is _LIVE

    def _advance(self, stage: Stage) -> bool:
        """Move forward to ``stage``; False once closing (the close won)."""
        if self.closing:
            return False
        if stage < self.stage:
            raise RuntimeError(f"a connection cannot go from {self.stage.name} to {stage.name}")
        self.stage = stage
        return True

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting; overflow closes the connection."""
        if self.closing:
            return
        if self._queued + len(frame) > self._queue_bytes:
            self.close(CloseCode.SLOW_CONSUMER, "send queue overflow: resume from your cursor")
            return
        self._frames.append(frame)
        self._queued += len(frame)
        self._wake_writer()

    def write_with(self, start_writer: Callable[[], asyncio.Task[None]]) -> None:
        """From now on, frames are written by what ``start_writer`` starts
        (a task that calls ``take_frames`` until it is empty)."""
        self._start_writer = start_writer
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._frames and self.writer is None and self._start_writer is not None:
            self.writer = self._start_writer()

    async def send_paced(self, frame: bytes) -> None:
        """Queue a frame, first waiting for room (for backlogs we produce)."""
        while not self.closing and self._queued and self._queued + len(frame) > self._queue_bytes:
            self._drained.clear()
            await self._drained.wait()
        self.send(frame)

    def welcome(self, frame: bytes) -> None:
        """Queue the welcome: the first frame, before any push, and alone in
        its message (from it, the client learns how the next ones come)."""
        self.send(frame)
        self._welcome_next = True
        self._advance(Stage.REPLAYING)

    def push(self, frame: bytes) -> None:
        """Queue an ephemeral push; before the welcome there is nothing to miss."""
        if self.welcomed:
            self.send(frame)

    def push_event(self, seq: int, frame: bytes) -> None:
        """Queue a durable event, or hold it while the backlog is replayed."""
        if self.live:
            if seq > self.last_seq:
                self.last_seq = seq
                self.send(frame)
        elif not self.closing:
            self._held.append((seq, frame))

    def go_live(self) -> None:
        """The backlog up to ``last_seq`` is queued: release what was held."""
        if not self._advance(Stage.LIVE):
            return
        held, self._held = self._held, []
        for seq, frame in sorted(held, key=lambda item: item[0]):
            self.push_event(seq, frame)

    def close(self, code: int, reason: str = "") -> None:
        if self._advance(Stage.CLOSING):
            self.close_code, self.close_reason = code, reason
            self._frames.clear()
            self._drained.set()
            self.closed.set()

    def finish(self, code: int, reason: str = "") -> None:
        """Close once the calls taken (if any) are answered and every
        queued frame is sent: a graceful stop. No new call is taken."""
        if not self.closing:
            self._finish = (code, reason)
            self._finish_if_idle()

    @property
    def finishing(self) -> bool:
        return self._finish is not None

    @property
    def finishing_with(self) -> int | None:
        """The close code it will close with once finished, if finishing."""
        return None if self._finish is None else self._finish[0]

    def answered(self) -> None:
        """Every call taken has its answer queued."""
        self.busy = False
        self._finish_if_idle()

    def _finish_if_idle(self) -> None:
        idle = not self.busy and self.writer is None and self._start_writer is not None
        if self._finish is not None and idle:
            self.close(*self._finish)

    async def wait_closed(self) -> None:
        await self.closed.wait()

    def take_frames(self) -> list[bytes]:
        """For the writer: every frame queued (the welcome alone), or none
        when there is nothing left to write (or the connection is closing),
        and the writer stops."""
        if self._welcome_next:
            self._welcome_next = False
            frames, self._frames = self._frames[:1], self._frames[1:]
        else:
            frames, self._frames = self._frames, []
        if not frames or self.closing:
            self.writer = None
            self._finish_if_idle()
            return []
        return frames

    def sent(self, size: int) -> None:
        """Frames of ``size`` bytes taken by ``take_frames`` reached the socket."""
        self._queued -= size
        self._drained.set()
