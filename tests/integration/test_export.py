"""A patient exports their own conversations and documents, decrypted on
their device, as a readable archive with an index and as FHIR, through the
real server."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from clients.export import export_conversations
from clients.fhir import reference
from tests.support.server import RunningServer

REPORT = b"%PDF-1.7 " + bytes(range(256)) * 40  # a document, byte for byte


async def test_a_patient_exports_their_conversations_readable_and_as_fhir(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, thread = await server.patient_thread("exam_results")
    async with server.secure(patient) as me, server.secure(doctor) as desk:
        await me.send(thread, "Bonjour, avez-vous reçu mes résultats ? <script>alert(1)</script>")
        ref = await desk.upload(thread, REPORT, "../../résultats sanguins.pdf", "application/pdf")
        await desk.send(thread, "Oui, les voici : tout est normal.", documents=[ref])
        odd = await me.upload(thread, b"<b>hi</b>", "..\\..\\" + "x" * 300 + ".html", "")
        await me.send(thread, documents=[odd])  # no text, no type, a name too long to keep
        done = await export_conversations(me, tmp_path / "export")

    assert (done.conversations, done.messages, done.documents, done.unreadable) == (1, 3, 2, [])
    assert done.fhir_refused == []
    archive = tmp_path / "export"
    index = (archive / "index.html").read_text(encoding="utf-8")
    assert f'href="conversations/{thread}.html"' in index and "exam_results" in index
    page = (archive / "conversations" / f"{thread}.html").read_text(encoding="utf-8")
    assert "tout est normal" in page
    assert "&lt;script&gt;" in page and "<script>" not in page  # a message's words are text
    saved, odd_saved = sorted(
        (archive / "documents").iterdir(), key=lambda p: p.stat().st_size, reverse=True
    )
    assert saved.parent == odd_saved.parent == archive / "documents"  # no name leaves it
    assert saved.name.endswith("résultats sanguins.pdf") and saved.read_bytes() == REPORT
    assert odd_saved.name.endswith("x" * 120) and odd_saved.read_bytes() == b"<b>hi</b>"
    assert "download>" in page

    fhir = json.loads((archive / "fhir.json").read_text(encoding="utf-8"))
    Bundle.model_validate(fhir)
    kinds = [entry["resource"]["resourceType"] for entry in fhir["entry"]]
    assert sorted(kinds) == [
        "Communication",
        "Communication",
        "Communication",
        "DocumentReference",
        "DocumentReference",
        "Patient",
        "Practitioner",
    ]
    question, answer, _ = (
        e["resource"] for e in fhir["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    assert question["topic"]["coding"][0]["code"] == "exam_results"
    assert question["subject"] == {"reference": reference("Patient", patient.user_id)}
    assert answer["inResponseTo"] == [{"reference": reference("Communication", _id(question))}]
    assert answer["partOf"] == answer["inResponseTo"]  # the thread's first message
    attachment = answer["payload"][1]["contentAttachment"]
    assert (attachment["size"], attachment["url"]) == (len(REPORT), f"documents/{saved.name}")
    assert attachment["hash"] == _b64(hashlib.sha1(REPORT).digest())
    listed = json.loads((archive / "conversations.json").read_text(encoding="utf-8"))
    (notice, *spoken) = listed["conversations"][0]["messages"]
    assert notice["notice"] and "15 (SAMU)" in notice["text"]  # the emergency notice, worded
    assert [m["text"][:7] for m in spoken] == ["Bonjour", "Oui, le", ""]


def _id(communication: dict[str, object]) -> int:
    (identifier,) = communication["identifier"]  # type: ignore[misc]
    return int(identifier["value"])


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
