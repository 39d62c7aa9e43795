"""An example bot: acknowledges each prescription renewal request with the
delay the practitioner announces for it, in their place and marked as
automatic, in the language of the practice they share (French unless the
practice chose otherwise). The practice may word it with its own template of
the same name.

Set-up: an admin creates the bot (``carehub user NAME --role bot``), a
practitioner adds it to their practice and delegates ``read`` and ``reply``
to it. Then::

    python -m clients.bots.renewal --server http://127.0.0.1:8000 \\
        --username renewal-bot --keystore renewal-bot.keys --password-stdin

The keystore file holds the bot's device keys (mode 0600); the first run
creates it and publishes the bot's device list. The event cursor is saved
beside it, so a restarted bot acknowledges the requests that came meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from clients.bots.bot import Bot, Conversation, bot_arguments, signed_in
from clients.e2e import Secure
from protocol.model import Empty, Role
from protocol.practice import PracticesListResult, PractitionerInfo, PractitionerParams, Template
from protocol.templates import variables_of
from protocol.texts import DEFAULT_LOCALE, render

__all__ = ["RENEWAL", "acknowledgement", "renewal_bot", "response_delay"]

RENEWAL = "prescription_renewal"


def acknowledgement(locale: str) -> Template:
    return Template(
        name=render(locale, "bot.renewal_ack.name"), text=render(locale, "bot.renewal_ack.text")
    )


def response_delay(hours: int | None, locale: str) -> str:
    """The expected delay in words: whole days from two days on."""
    if hours is None:
        return render(locale, "delay.unknown")
    if hours >= 48 and hours % 24 == 0:
        return render(locale, "delay.days", count=hours // 24)
    return render(locale, "delay.hours", count=hours)


async def practice_locale(secure: Secure, practitioner: int) -> str:
    """The language of the first practice the bot shares with ``practitioner``."""
    found: PracticesListResult = await secure.call("practices.list", Empty())
    shared = [p for p in found.practices if practitioner in {m.user for m in p.members}]
    return shared[0].locale if shared else DEFAULT_LOCALE


def renewal_bot(secure: Secure) -> Bot:
    bot = Bot(secure)

    @bot.on_new_thread(RENEWAL)
    async def acknowledge(conversation: Conversation) -> None:
        practitioner = conversation.member(Role.PRACTITIONER)
        patient = conversation.member(Role.PATIENT)
        if practitioner is None or conversation.acting_for != practitioner.user:
            return  # it answers only for the practitioners who delegated to it
        if patient is None or conversation.thread.created_by != patient.user:
            return  # a request is the patient's; the practitioner needs no receipt
        info: PractitionerInfo = await secure.call(
            "practitioners.get", PractitionerParams(practitioner.user)
        )
        hours = next((r.response_hours for r in info.reasons if r.code == RENEWAL), None)
        locale = await practice_locale(secure, practitioner.user)
        values = {**conversation.values(), "response_delay": response_delay(hours, locale)}
        fallback = acknowledgement(locale)
        template = await bot.template(fallback.name)
        if template is None or not variables_of(template.text) <= values.keys():
            template = fallback  # the practice's own wording needs values we lack
        await conversation.reply(template, values)

    return bot


async def serve(server: str, username: str, password: str, keystore: Path) -> None:
    """Log in (as the keystore's device once it exists) and run the bot."""
    async with signed_in(server, username, password, keystore, "renewal bot") as secure:
        bot = renewal_bot(secure)
        print("ready", flush=True)
        await bot.run(state=keystore)


def main(argv: list[str] | None = None) -> None:
    parser = bot_arguments("clients.bots.renewal", __doc__)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    password = sys.stdin.readline().rstrip("\n")
    asyncio.run(serve(args.server, args.username, password, args.keystore))


if __name__ == "__main__":
    main()
