"""The bot framework's pure parts: the example bot's delay in words and
the values a conversation gives its templates."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from clients import ClientEvent
from clients.bots import Bot, Conversation
from clients.bots.renewal import acknowledgement, response_delay
from protocol.model import Member, Role, ThreadInfo, ThreadKind
from protocol.templates import render, variables_of


@pytest.mark.parametrize(
    ("hours", "english", "french"),
    [
        (None, "a few days", "quelques jours"),
        (1, "1 hour", "1 heure"),
        (36, "36 hours", "36 heures"),
        (48, "2 days", "2 jours"),
        (72, "3 days", "3 jours"),
        (50, "50 hours", "50 heures"),
    ],
)
def test_response_delay(hours: int | None, english: str, french: str) -> None:
    assert (response_delay(hours, "en"), response_delay(hours, "fr")) == (english, french)


def thread(*members: Member) -> ThreadInfo:
    return ThreadInfo(1, ThreadKind.PATIENT_PRACTITIONER, list(members), created_by=2, created_at=0)


def conversation(info: ThreadInfo) -> Conversation:
    bot: Any = None  # values() never reaches the bot
    return Conversation(bot, info)


def test_a_conversation_gives_the_names_its_members_have() -> None:
    info = thread(Member(2, Role.PATIENT, "Ana Lopez"), Member(1, Role.PRACTITIONER, "Dr Martin"))
    values = conversation(info).values()
    assert values == {
        "patient_name": "Ana Lopez",
        "patient_first_name": "Ana",
        "practitioner_name": "Dr Martin",
    }
    for locale in ("fr", "en"):
        template = acknowledgement(locale)
        assert variables_of(template.text) - values.keys() == {"response_delay"}
    text = render(acknowledgement("en").text, {**values, "response_delay": "3 days"})
    assert text.startswith("Hello Ana, ") and "automatic reply" in text


def test_a_conversation_without_a_patient_gives_no_patient_name() -> None:
    values = conversation(thread(Member(1, Role.PRACTITIONER, "Dr Martin"))).values()
    assert values == {"practitioner_name": "Dr Martin"}


async def test_a_new_thread_wakes_the_handlers_of_its_reason_once() -> None:
    me = 9
    bot = Bot(SimpleNamespace(client=SimpleNamespace(user_id=me)))  # type: ignore[arg-type]
    woken: list[tuple[str, int]] = []

    @bot.on_new_thread("prescription_renewal")
    async def renewal(conversation: Conversation) -> None:
        woken.append(("renewal", conversation.thread.id))

    @bot.on_new_thread()
    async def any_reason(conversation: Conversation) -> None:
        woken.append(("any", conversation.thread.id))

    def opened(thread_id: int, reason: str | None, **changes: Any) -> ClientEvent:
        info = ThreadInfo(thread_id, ThreadKind.GROUP, [], 1, 0, reason=reason, **changes)
        return ClientEvent("thread.updated", info, thread_id)

    for event in [
        opened(1, "prescription_renewal"),
        opened(1, "prescription_renewal"),  # the same opening, replayed: once
        opened(2, "exam_results"),
        opened(3, "prescription_renewal", last_seq=4),  # an update, not an opening
        opened(4, "prescription_renewal", closed=True),
    ]:
        await bot.handle(event)
    assert woken == [("renewal", 1), ("any", 1), ("any", 2)]


async def test_a_failing_handler_is_logged_and_the_next_one_runs() -> None:
    bot = Bot(SimpleNamespace(client=SimpleNamespace(user_id=9)))  # type: ignore[arg-type]
    woken: list[str] = []

    @bot.on_new_thread()
    async def broken(_: Conversation) -> None:
        raise ValueError("a template naming a value the bot lacks")

    @bot.on_new_thread()
    async def working(_: Conversation) -> None:
        woken.append("working")

    info = ThreadInfo(1, ThreadKind.GROUP, [], 1, 0)
    await bot.handle(ClientEvent("thread.updated", info, 1))
    assert woken == ["working"]
