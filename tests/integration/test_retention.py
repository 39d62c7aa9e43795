"""The chat copies' retention: messages past it are emptied (their place,
sender and time stay) and the documents of their time deleted, each thread's
trail saying so; a thread filed into the record is emptied only as far as it
was filed. Written through the real server and socket; the round runs with
a clock moved past the retention, on the server's database and blobs."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from clients.errors import CallError
from clients.reading import history, read_message
from protocol.methods import AttachmentReadParams
from protocol.practice import AuditParams
from protocol.records import FiledParams
from server.app import expire_chat_copies
from server.settings import Settings
from storage import Store
from storage.blobs import FilesystemBlobs
from tests.support.clocked import TravelClock
from tests.support.server import RunningServer

DAY_MS = 24 * 3600 * 1000
REPORT = b"%PDF-1.7 " + bytes(range(256)) * 8


def blobs_of(server: RunningServer) -> FilesystemBlobs:
    return FilesystemBlobs(Path(server.env["CAREHUB_BLOB_DIR"]))


async def expire_later(server: RunningServer, days: int) -> int:
    """One round of the chat retention ``days`` from now, on the server's data."""
    clock = TravelClock()
    clock.travel(days * DAY_MS)
    store = Store(server.db)
    ctx = types.SimpleNamespace(
        store=store,
        blobs=blobs_of(server),
        settings=Settings(chat_retention_days=30),
        clock=clock,
    )
    try:
        return await expire_chat_copies(ctx)  # type: ignore[arg-type]
    finally:
        await store.close()


async def test_messages_past_the_retention_are_emptied_and_their_documents_deleted(
    make_server: Any,
) -> None:
    server: RunningServer = make_server(chat_retention_days=30)
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as me, server.secure(doctor) as desk:
        ref = await me.upload(thread, REPORT, "scan.pdf", "application/pdf")
        await me.send(thread, "Voici mon ordonnance", documents=[ref])
        await desk.send(thread, "Bien reçu")
        kept = len(await history(me, thread))
        assert await expire_later(server, 29) == 0  # not yet
        emptied = await expire_later(server, 31)
        assert emptied == kept  # the server's notices too
        assert await expire_later(server, 31) == 0  # nothing twice

        after = await history(me, thread)
        assert [(m.expired, m.envelope) for m in after] == [(True, b"")] * kept
        opened = [await read_message(me, m, _no_document) for m in after]
        assert {(m.text, m.documents == []) for m in opened} == {("", True)}
        # An emptied notice is still the server's, not a person's words.
        assert [m.notice for m in opened] == [m.sender_device is None for m in after]
        assert any(m.notice for m in opened)
        with pytest.raises(CallError) as gone:
            await me.call("attachments.read", AttachmentReadParams(ref.file, 0, 1024))
        assert gone.value.code == "not_found"
        trail = (await desk.call("audit.list", AuditParams(thread))).entries
        (line,) = [e for e in trail if e.action == "expired"]
        assert (line.thread_seq, line.detail) == (
            after[-1].thread_seq,
            f"{kept} msg, 1 doc",
        )
    assert ref.file not in await blobs_of(server).ids()


async def test_nothing_leaves_the_chat_before_it_reached_the_record(make_server: Any) -> None:
    server: RunningServer = make_server(chat_retention_days=30)
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as me, server.secure(doctor) as desk:
        ref = await me.upload(thread, REPORT, "scan.pdf", "application/pdf")  # for the later one
        first = await me.send(thread, "Classé dans le dossier")
        filed = FiledParams(thread, first.thread_seq, 1, 0, "fhir", bytes(32))
        await desk.call("records.filed", filed)
        later = await me.send(thread, "Pas encore classé", documents=[ref])
        assert await expire_later(server, 31) == first.thread_seq  # up to the filing
        shown = {m.id: m.expired for m in await history(me, thread)}
        # Uploaded before the emptied message, sent with the kept one: it stays.
        kept = await me.download(ref)
    assert (shown[first.message_id], shown[later.message_id]) == (True, False)
    assert kept == REPORT


def _no_document(*_: Any) -> Any:
    raise AssertionError("an expired message carries no document")
