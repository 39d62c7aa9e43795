"""A patient exports their conversations and documents from the web app:
decrypted in the browser, downloaded as one ZIP; what it holds is read back
here and its FHIR Bundle validated with fhir.resources, the references the
same as the Python SDK's."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from playwright.async_api import expect

from clients.fhir import reference
from tests.support.server import RunningServer
from tests.support.webapp import (
    axe_violations,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
    write,
)

SCAN = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16  # a document, byte for byte


async def test_a_patient_exports_their_conversations_from_the_app(
    app_server: RunningServer, person: Any, tmp_path: Path
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Sophie Lambert", patient_name="Hugo Bernard"
    )
    page = await person(patient.user_id)
    desk = await person(doctor.user_id)
    thread = await open_thread(app_server, patient, doctor, "exam_results")
    scan = tmp_path / "radio <thorax>.png"
    scan.write_bytes(SCAN)
    await open_conversation(desk, "Hugo Bernard")
    await desk.get_by_label("Joindre un document ou une photo").set_input_files(scan)
    await write(desk, "Voici votre radio : <b>rien d'anormal</b>.")
    await open_conversation(page, "Sophie Lambert")
    await expect(page.get_by_text("Voici votre radio")).to_be_visible()
    await write(page, "Merci docteur !")
    await expect(page.get_by_text("Merci docteur !")).to_be_visible()

    await page.get_by_role("link", name="Compte").click()
    mine = page.get_by_role("region", name="Mes données")
    async with page.expect_download() as downloading:
        await mine.get_by_role("button", name="Exporter mes conversations").click()
    download = await downloading.value
    archive = tmp_path / download.suggested_filename
    await download.save_as(archive)
    await expect(mine.get_by_role("status").first).to_contain_text(
        "1 conversation(s), 2 message(s), 1 document(s)"
    )
    await screenshot(page, "account-export")
    assert await axe_violations(page) == []

    assert archive.name.startswith("carehub-") and archive.suffix == ".zip"
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        index = opened.read("index.html").decode()
        talk = opened.read(f"conversations/{thread}.html").decode()
        (document_name,) = [n for n in names if n.startswith("documents/")]
        document = opened.read(document_name)
        fhir = json.loads(opened.read("fhir.json"))
    assert f'href="conversations/{thread}.html"' in index and "exam_results" in index
    assert "&#60;b&#62;rien d&#39;anormal&#60;/b&#62;" in talk  # a person's words are text
    assert "Merci docteur !" in talk
    assert document == SCAN and document_name.endswith("radio _thorax_.png")

    Bundle.model_validate(fhir)
    resources = {entry["fullUrl"]: entry["resource"] for entry in fhir["entry"]}
    assert resources[reference("Patient", patient.user_id)]["resourceType"] == "Patient"
    assert resources[reference("Practitioner", doctor.user_id)]["resourceType"] == "Practitioner"
    (scan,) = [r for r in resources.values() if r["resourceType"] == "DocumentReference"]
    attachment = scan["content"][0]["attachment"]
    assert base64.b64decode(attachment["hash"]) == hashlib.sha1(SCAN).digest()
    assert attachment["url"] == document_name and attachment["size"] == len(SCAN)
    spoken = [r for r in resources.values() if r["resourceType"] == "Communication"]
    answer = [c for c in spoken if "inResponseTo" in c]
    assert len(spoken) == 2 and len(answer) == 1
    assert answer[0]["payload"] == [{"contentString": "Merci docteur !"}]
