"""One Web Push request (RFC 8030) to one subscription, and what came of it.

What a push says is only a thread, a count and a kind ("message",
"appointment", "reminder"): no name, no word, no reason. The service worker
shows a generic notification and, where the person chose previews on that
device, opens the envelope the push carries (sealed for that device, as the
socket would have delivered it) with the keys it holds.

Pushes for one thread share a ``Topic``: a push service keeps only the
newest of a topic for a device that is offline, so a burst of messages
reaches a phone as one notification with the latest count.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from server.webpush import PushError, VapidKey, b64url, encrypt
from storage import PushTarget

__all__ = ["Notice", "Outcome", "PushSender", "Result", "WebPushSender", "push"]

TTL_S = 24 * 3600  # a notification about a message is still worth showing a day later
RETRY_DEFAULT_S = 60
TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class Notice:
    """What one push says (every platform's payload is made from it)."""

    thread: int  # 0: not about a thread (an appointment)
    count: int  # the thread's unread messages, or the appointment events
    kind: str = "message"  # "message", "appointment", "reminder"
    quiet: bool = False  # quiet hours or do-not-disturb: the count only, no sound, no banner
    envelope: bytes | None = None  # the newest message, sealed, for a device showing previews
    id: int = 0  # its outbox entry: the same on a retry, so a device can drop a repeat

    def fields(self) -> dict[str, Any]:
        """The payload as JSON-ready fields (the envelope as base64url)."""
        fields: dict[str, Any] = {"id": self.id, "thread": self.thread, "count": self.count}
        fields["kind"] = self.kind
        if self.quiet:
            fields["quiet"] = True
        if self.envelope is not None:
            fields["envelope"] = b64url(self.envelope)
        return fields

    def payload(self) -> bytes:
        return json.dumps(self.fields(), separators=(",", ":")).encode()

    @property
    def topic(self) -> str:
        return f"thread-{self.thread}"  # RFC 8030 §5.4: at most 32 URL-safe characters


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the subscription no longer exists: forget it
    RETRY = "retry"  # the service is busy or down: try again later
    REFUSED = "refused"  # the request itself was refused: trying again will not help


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status: int | None = None
    retry_after_s: int = 0


class PushSender(Protocol):
    """Sends one push to one device of a platform (Web Push, FCM, APNs)."""

    async def send(self, target: PushTarget, notice: Notice) -> Result: ...

    async def close(self) -> None: ...


class WebPushSender:
    def __init__(self, vapid: VapidKey, contact: str) -> None:
        self.vapid = vapid
        self.contact = contact
        self.http = httpx.AsyncClient(follow_redirects=False)

    async def send(self, target: PushTarget, notice: Notice) -> Result:
        return await push(self.http, self.vapid, self.contact, target, notice)

    async def close(self) -> None:
        await self.http.aclose()


async def push(
    http: httpx.AsyncClient, vapid: VapidKey, contact: str, target: PushTarget, notice: Notice
) -> Result:
    """Send ``notice`` to ``target``'s push service."""
    try:
        body = encrypt(notice.payload(), target.p256dh, target.auth)
    except PushError:
        return Result(Outcome.GONE)  # keys no browser could have made: nothing to send to
    headers = {
        "Authorization": vapid.authorization(target.endpoint, contact),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(TTL_S),
        "Urgency": _urgency(notice),
        "Topic": notice.topic,
    }
    try:
        answer = await http.post(target.endpoint, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError:
        return Result(Outcome.RETRY, None, RETRY_DEFAULT_S)
    return _result(answer)


def _urgency(notice: Notice) -> str:
    """RFC 8030 §5.3: a quiet push may wait for the phone to wake anyway."""
    if notice.quiet:
        return "low"
    return "high" if notice.kind == "message" else "normal"


def _result(answer: httpx.Response) -> Result:
    status = answer.status_code
    if 200 <= status < 300:
        return Result(Outcome.SENT, status)
    if status in (404, 410):
        return Result(Outcome.GONE, status)
    if status == 429 or status >= 500:
        return Result(Outcome.RETRY, status, _retry_after(answer))
    return Result(Outcome.REFUSED, status)


def _retry_after(answer: httpx.Response) -> int:
    text = answer.headers.get("retry-after", "")
    return int(text) if text.isdigit() else RETRY_DEFAULT_S
