"""Bots: practice members that answer by themselves.

A bot is a user of role ``bot`` with its own token and device keys, a member
of a practice. It sees a practitioner's threads when the practitioner
delegates to it (``read.reply``: ``Secure.delegate``), and the group threads
it was added to. It registers handlers and replies with templates::

    bot = Bot(secure)

    @bot.on_new_thread("prescription_renewal")
    async def acknowledge(conversation: Conversation) -> None:
        await conversation.reply(template, {"response_delay": "3 days"})

    await bot.run()

Its replies are signed by the bot, ``acting_for`` the practitioner: readers
see who wrote them. Events arrive through the SDK client, which reconnects
and resumes by itself. ``run(state=path)`` saves the device's keystore at
``path`` and the event cursor beside it after each event; a bot started with
``Client(..., resume_from=saved_cursor(path))`` then handles what happened
while it was away. A bot that crashes between replying and saving answers
that event again when it restarts (at least once, never silently skipped).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from clients.client import Client, ClientEvent
from clients.e2e import Keystore
from clients.e2e.envelope import Opened
from clients.e2e.secure import Secure
from clients.http import login
from protocol.e2e import Scope
from protocol.methods import SendResult
from protocol.model import Empty, Member, MessageData, Role, ThreadInfo
from protocol.practice import DelegationsResult, Template, TemplatesResult

__all__ = ["Bot", "Conversation", "Handler", "bot_arguments", "saved_cursor", "signed_in"]

log = logging.getLogger(__name__)


@dataclass
class Conversation:
    """A thread as a handler sees it, and the message that woke it (if any)."""

    bot: Bot
    thread: ThreadInfo
    message: Opened | None = None
    acting_for: int | None = None  # the practitioner the bot answers for

    def member(self, role: Role) -> Member | None:
        return next((m for m in self.thread.members if m.role is role), None)

    def values(self) -> dict[str, str]:
        """Template values the thread itself gives: the patient's and the
        practitioner's names."""
        values = {}
        patient = self.member(Role.PATIENT)
        if patient is not None:
            values["patient_name"] = patient.name
            values["patient_first_name"] = patient.name.split()[0]
        practitioner = self.member(Role.PRACTITIONER)
        if practitioner is not None:
            values["practitioner_name"] = practitioner.name
        return values

    async def reply(
        self, template: Template, values: Mapping[str, str] | None = None
    ) -> SendResult:
        """Send ``template`` in this thread, rendered with the thread's own
        values and ``values``, for the practitioner the bot answers for."""
        return await self.bot.secure.send_template(
            self.thread.id,
            template,
            {**self.values(), **(values or {})},
            acting_for=self.acting_for,
        )


Handler = Callable[[Conversation], Awaitable[None]]


class Bot:
    def __init__(self, secure: Secure) -> None:
        self.secure = secure
        self._on_new_thread: list[tuple[frozenset[str], Handler]] = []
        self._on_message: list[Handler] = []
        # Practitioners who let the bot answer for them, and until when.
        self._principals: dict[int, int | None] = {}
        self._threads: dict[int, ThreadInfo] = {}
        self._started: set[int] = set()  # threads whose opening was handled

    @property
    def user_id(self) -> int:
        return self.secure.client.user_id

    def on_new_thread(self, *reasons: str) -> Callable[[Handler], Handler]:
        """Register a handler for a newly opened thread with one of
        ``reasons`` (any thread if none is given)."""

        def register(handler: Handler) -> Handler:
            self._on_new_thread.append((frozenset(reasons), handler))
            return handler

        return register

    def on_message(self, handler: Handler) -> Handler:
        """Register a handler for each message someone else sends in a
        thread the bot sees (notices from the server excluded)."""
        self._on_message.append(handler)
        return handler

    async def template(self, name: str) -> Template | None:
        """The template called ``name`` among those the bot may use."""
        found: TemplatesResult = await self.secure.call("templates.list", Empty())
        return next((t for t in found.templates if t.name == name), None)

    async def run(self, state: Path | None = None) -> None:
        """Handle events until the connection ends for good, saving the
        device's keystore to ``state`` (pins, opened messages) and the event
        cursor beside it after each."""
        await self._load_delegations()
        async for event in self.secure.client.events():
            await self.handle(event)
            if state is not None:
                self.secure.keys.save(state)
                _cursor_file(state).write_text(str(self.secure.client.cursor or 0))

    async def handle(self, event: ClientEvent) -> None:
        """Handle one event; whatever fails is logged, never fatal."""
        try:
            if event.type == "thread.updated":
                await self._thread_updated(event.data)
            elif event.type == "message.new":
                await self._message(event.data)
            elif event.type == "delegation.updated":
                await self._load_delegations()
        except Exception:  # one bad event (or handler) must not stop the bot
            log.exception("bot %d could not handle %s #%s", self.user_id, event.type, event.seq)

    async def _thread_updated(self, info: ThreadInfo) -> None:
        self._threads[info.id] = info
        # A thread's first update is the only one without a message yet.
        if info.last_seq or info.closed or info.id in self._started:
            return
        self._started.add(info.id)
        for reasons, handler in self._on_new_thread:
            if not reasons or info.reason in reasons:
                await self._call(handler, Conversation(self, info, None, self._acting_for(info)))

    async def _message(self, message: MessageData) -> None:
        if message.sender == self.user_id or message.sender_device is None:
            return  # its own, or a server notice
        opened = await self.secure.open(message)
        info = self._threads.get(message.thread) or await self._thread(message.thread)
        conversation = Conversation(self, info, opened, self._acting_for(info))
        for handler in self._on_message:
            await self._call(handler, conversation)

    async def _call(self, handler: Handler, conversation: Conversation) -> None:
        try:
            await handler(conversation)
        except Exception:  # the next handler still runs
            log.exception("bot handler %s failed in thread %d", handler, conversation.thread.id)

    async def _thread(self, thread_id: int) -> ThreadInfo:
        for info in (await self.secure.call("threads.list", Empty())).threads:
            self._threads[info.id] = info
        if thread_id not in self._threads:
            raise LookupError(f"thread {thread_id} is no longer visible to the bot")
        return self._threads[thread_id]

    def _acting_for(self, info: ThreadInfo) -> int | None:
        """None in the bot's own threads; else the practitioner it answers for."""
        members = {m.user for m in info.members}
        if self.user_id in members:
            return None
        now = int(time.time() * 1000)
        current = [p for p, until in self._principals.items() if until is None or until > now]
        return next((p for p in sorted(current) if p in members), None)

    async def _load_delegations(self) -> None:
        found: DelegationsResult = await self.secure.client.call(
            "delegations.list", Empty(), idempotent=True
        )
        self._principals = {
            d.principal: d.expires for d in found.received if Scope.REPLY in d.scope
        }


def saved_cursor(state: Path) -> int | None:
    """The cursor ``Bot.run(state=...)`` saved, to resume from (None: none yet)."""
    cursor = _cursor_file(state)
    return int(cursor.read_text()) if cursor.exists() else None


def _cursor_file(state: Path) -> Path:
    return state.with_name(state.name + ".cursor")


@asynccontextmanager
async def signed_in(
    server: str, username: str, password: str, keystore: Path, device_name: str
) -> AsyncIterator[Secure]:
    """A bot's device, logged in and connected: the keystore's device once
    it exists; else a new one, published and saved to ``keystore`` (0600).
    The connection resumes from the cursor ``Bot.run`` saved beside it."""
    first_run = not keystore.exists()  # noqa: ASYNC240  (once, at start-up)
    if not first_run:
        keys = Keystore.load(keystore)
        credentials = await login(server, username, password, device_id=keys.device.device)
    else:
        credentials = await login(server, username, password, device_name=device_name)
        keys = Keystore.create(credentials.user_id, credentials.device_id, with_identity=True)
    ws_url = server.replace("http", "ws", 1).rstrip("/") + "/ws"
    async with Client(ws_url, credentials, resume_from=saved_cursor(keystore)) as client:
        secure = Secure(client, keys)
        if first_run:
            await secure.setup()
            keys.save(keystore)
        yield secure


def bot_arguments(module: str, description: str | None) -> argparse.ArgumentParser:
    """The command line every bot takes: where, who, its keystore; the
    password comes on stdin, never in the arguments (``ps`` shows those)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--keystore", type=Path, required=True)
    parser.add_argument("--password-stdin", action="store_true", required=True)
    return parser
