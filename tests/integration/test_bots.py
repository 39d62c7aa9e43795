"""Bots against a real server: the example renewal bot as its own process,
and a bot of our own answering messages in a thread it is a member of."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from clients import Credentials
from clients.bots import Bot, Conversation
from clients.e2e import Opened, Secure
from protocol.e2e import Scope
from protocol.methods import ThreadsOpenParams
from protocol.model import Role, ThreadKind
from protocol.practice import Template
from tests.support.server import PASSWORD, RunningServer


async def bot_message(secure: Secure, bot: Credentials) -> tuple[int, Opened]:
    """The next message from ``bot`` (the thread, and the message opened),
    skipping the others (the emergency notices)."""
    while True:
        event = await secure.next_event("message.new")
        if event.data.sender == bot.user_id:
            opened = await secure.read(event.data)
            assert isinstance(opened, Opened)
            return event.data.thread, opened


async def start_bot(
    server: RunningServer, bot: Credentials, module: str, keystore: Path, *options: str
) -> Any:
    """``python -m module`` logged in as ``bot``, once it says it is ready."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--server",
        server.base_url,
        "--username",
        server.usernames[bot.user_id],
        "--keystore",
        str(keystore),
        "--password-stdin",
        *options,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=server.env,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{PASSWORD}\n".encode())
    await process.stdin.drain()
    assert await asyncio.wait_for(process.stdout.readline(), 30) == b"ready\n"
    return process


async def test_the_renewal_bot_acknowledges_requests_with_the_expected_delay(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor = await server.user("practitioner", "Dr Claire Martin")
    bot = await server.assistant_of(doctor, role="bot", publish_keys=False)
    process = await start_bot(server, bot, "clients.bots.renewal", tmp_path / "bot.keys")
    try:
        await server.delegate(doctor, bot, [Scope.READ, Scope.REPLY])
        patient = await server.user("patient", "Ana Lopez")
        await server.add_patient(doctor, patient)
        async with server.secure(patient) as ana:
            opened_threads = []
            for reason in ("exam_results", "prescription_renewal"):
                params = ThreadsOpenParams(
                    ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], reason
                )
                opened_threads.append((await ana.call("threads.open", params)).id)
            thread, acknowledgement = await bot_message(ana, bot)
        assert thread == opened_threads[1]  # the exam results request got nothing
        assert acknowledgement.body.text == (  # the practice's language: French by default
            "Bonjour Ana, votre demande de renouvellement d'ordonnance a bien été reçue."
            " Dr Claire Martin répond habituellement sous 3 jours."
            " Ceci est une réponse automatique."
        )
        assert (acknowledgement.header.sender_user, acknowledgement.header.acting_for) == (
            bot.user_id,
            doctor.user_id,
        )
    finally:
        process.terminate()
        await process.wait()


async def test_a_bot_answers_each_message_in_a_thread_it_is_a_member_of(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    bot = await server.assistant_of(doctor, role="bot")
    patient = await server.user("patient", "Léa Dubois")
    await server.add_patient(doctor, patient)
    async with server.client(doctor) as desk:
        group = await desk.call(
            "threads.open", ThreadsOpenParams(ThreadKind.GROUP, [bot.user_id, patient.user_id])
        )
    receipt = Template(name="Received", text="Thank you {patient_first_name}, noted on {date}.")
    woken: list[Conversation] = []
    async with server.secure(bot) as secure:
        helper = Bot(secure)

        @helper.on_message
        async def acknowledge(conversation: Conversation) -> None:
            woken.append(conversation)
            await conversation.reply(receipt, {"date": "24 November"})

        running = asyncio.create_task(helper.run())
        try:
            async with server.secure(patient) as lea:
                for text in ("first", "second"):
                    await lea.send(group.id, text)
                    thread, reply = await bot_message(lea, bot)
                    assert (thread, reply.body.text) == (
                        group.id,
                        "Thank you Léa, noted on 24 November.",
                    )
                    assert reply.header.acting_for is None  # in its own thread, for nobody
        finally:
            running.cancel()
    # Woken once per message of the patient: never by its own replies or a notice.
    assert [c.message.body.text for c in woken if c.message] == ["first", "second"]
    assert {c.member(Role.PATIENT).user for c in woken if c.member(Role.PATIENT)} == {
        patient.user_id
    }
