"""What a popup says is unread, a thread's burst counted once.

A popup for a new message tells the care team's foreground sessions how
many messages people wrote in the thread after what each member read, up
to that message (``Messages.unread``): a read for each message and read
seq, unless the member is up to date (one). A device's burst puts several
of a thread's messages in one commit, and every popup but the first
would read its count, all at once. But the people's messages after a read
seq up to a message are those up to the message before it, and this one:
so a thread's next message, for the same read seq, counts one more than
the message before, whose count is known or being read. Each count stops
at its message, so it is exact whoever wrote the messages between. (It
rests on what popups are for: a person's message, numbered next in its
thread; a notice has its seq too, and the next message after it reads.)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from storage.messages import UNREAD_CAP, Messages

__all__ = ["PopupCounts"]

KEPT = 4096  # (thread, read seq) pairs whose last count is kept, the least recent dropped


class PopupCounts:
    """A node's popup counts: for each thread and read seq, the last
    message's, kept (as it is read, or read)."""

    def __init__(self, messages: Messages, kept: int = KEPT) -> None:
        self._messages = messages
        self._kept = kept
        self._last: OrderedDict[tuple[int, int], tuple[int, asyncio.Future[int]]] = OrderedDict()

    async def unread(self, thread: int, read_seq: int, seq: int) -> int:
        """People's messages in ``thread`` after ``read_seq`` up to ``seq``
        (a person's message, the one popped up), up to ``UNREAD_CAP``."""
        key = (thread, read_seq)
        last = self._last.get(key)
        before = last[1] if last is not None and last[0] == seq - 1 else None
        count = self._count(thread, read_seq, seq, before)
        if last is None or last[0] < seq:  # (a later message's popup may have come first)
            self._last[key] = (seq, count)
            self._last.move_to_end(key)
            if len(self._last) > self._kept:
                self._last.popitem(last=False)
        if count.done():
            return count.result()
        return await asyncio.shield(count)  # others may await it after this caller stops

    def _count(
        self, thread: int, read_seq: int, seq: int, before: asyncio.Future[int] | None
    ) -> asyncio.Future[int]:
        if read_seq == seq - 1:  # up to date: this message alone
            return _known(1)
        if before is None or before.cancelled() or (before.done() and before.exception()):
            return asyncio.ensure_future(self._messages.unread(thread, read_seq, seq))
        if before.done():
            return _known(min(before.result() + 1, UNREAD_CAP))
        return asyncio.ensure_future(self._one_more(before, thread, read_seq, seq))

    async def _one_more(
        self, before: asyncio.Future[int], thread: int, read_seq: int, seq: int
    ) -> int:
        try:
            return min(await asyncio.shield(before) + 1, UNREAD_CAP)
        except asyncio.CancelledError:
            if not before.cancelled():  # this count itself was cancelled
                raise
        except Exception:  # the message before's count failed: this one reads its own
            pass
        return await self._messages.unread(thread, read_seq, seq)


def _known(count: int) -> asyncio.Future[int]:
    """A count known now (most are: no task to run, nothing to wait for)."""
    known: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    known.set_result(count)
    return known
