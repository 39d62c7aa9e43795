"""Encrypted documents through a real server: upload in chunks, resume,
limits, who may read, HTTP ranges, the sweeper, and the proof that nothing
readable of a patient's reaches the server's database, blobs or logs."""

from __future__ import annotations

import types
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select

from clients import CallError
from clients.e2e.crypto import digest
from clients.e2e.documents import encrypt_document
from protocol.errors import ErrorCode
from protocol.methods import (
    AttachmentBeginParams,
    AttachmentChunkParams,
    AttachmentFileParams,
    AttachmentReadParams,
)
from server.app import sweep_uploads
from server.clock import Clock
from server.settings import Settings
from storage import Store
from storage.blobs import FilesystemBlobs
from storage.files import FileRecord
from tests.support.server import RunningServer

REPORT = b"%PDF-1.7 blood test: glucose 5.1 mmol/L, HbA1c 5.4%, patient Camille Durand " * 2000


async def refused(call: object, code: ErrorCode) -> CallError:
    with pytest.raises(CallError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code == code, raised.value
    return raised.value


async def test_a_document_travels_encrypted_and_is_read_by_members_only(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    stranger = await server.user("patient")
    async with server.secure(doctor) as sender, server.secure(patient) as reader:
        ref = await sender.upload(thread, REPORT, "results.pdf", "application/pdf")
        await sender.send(thread, "Your results", documents=[ref])
        event = await reader.next_event("message.new")
        (got,) = (await reader.open(event.data)).body.documents
        assert (got.name, got.mime, got.size) == ("results.pdf", "application/pdf", len(REPORT))
        assert await reader.download(got) == REPORT
        assert await reader.download_http(server.base_url, got) == REPORT
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            auth = {"authorization": f"Bearer {patient.token}"}
            part = await http.get(f"/v1/files/{got.file}", headers=auth | {"range": "bytes=10-19"})
            assert part.status_code == 206
            whole = await http.get(f"/v1/files/{got.file}", headers=auth)
            assert part.headers["content-range"] == f"bytes 10-19/{len(whole.content)}"
            assert part.content == whole.content[10:20] and whole.content != REPORT
            assert (await http.get(f"/v1/files/{got.file}")).status_code == 401
            other = {"authorization": f"Bearer {stranger.token}"}
            assert (await http.get(f"/v1/files/{got.file}", headers=other)).status_code == 404
    async with server.client(stranger) as outsider:
        error = await refused(
            outsider.call("attachments.read", AttachmentReadParams(got.file)),
            ErrorCode.NOT_FOUND,
        )
        assert error.details == {"file": got.file}
        begin = AttachmentBeginParams(thread, 10, bytes(32))
        await refused(outsider.call("attachments.begin", begin), ErrorCode.FORBIDDEN)


async def test_an_upload_resumes_after_a_reconnect_and_checks_every_step(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    _, ciphertext = encrypt_document(REPORT)
    hashed = digest(ciphertext)
    async with server.client(patient) as client:
        began = await client.call(
            "attachments.begin", AttachmentBeginParams(thread, len(ciphertext), hashed)
        )
        first = ciphertext[: began.chunk_bytes]
        await client.call("attachments.chunk", AttachmentChunkParams(began.file, 0, first))
        with pytest.raises(CallError) as early:
            await client.call("attachments.read", AttachmentReadParams(began.file))
        assert early.value.code == ErrorCode.NOT_FOUND  # nothing half-written is served
    async with server.client(patient) as again:  # a new connection picks up where it was
        resumed = await again.call(
            "attachments.begin", AttachmentBeginParams(thread, len(ciphertext), hashed)
        )
        assert (resumed.file, resumed.received) == (began.file, len(first))
        error = await refused(
            again.call("attachments.chunk", AttachmentChunkParams(began.file, 0, first)),
            ErrorCode.CONFLICT,
        )
        assert error.details == {"received": len(first)}
        await refused(
            again.call("attachments.finish", AttachmentFileParams(began.file)), ErrorCode.CONFLICT
        )
        too_big = b"x" * (resumed.chunk_bytes + 1)
        await refused(
            again.call("attachments.chunk", AttachmentChunkParams(began.file, len(first), too_big)),
            ErrorCode.TOO_LARGE,
        )
        offset = len(first)
        while offset < len(ciphertext):
            piece = ciphertext[offset : offset + resumed.chunk_bytes]
            done = await again.call(
                "attachments.chunk", AttachmentChunkParams(began.file, offset, piece)
            )
            offset = done.received
        info = await again.call("attachments.finish", AttachmentFileParams(began.file))
        assert (info.size, info.hash, info.thread) == (len(ciphertext), hashed, thread)
        read = await again.call("attachments.read", AttachmentReadParams(began.file, 5, 100))
        assert (read.data, read.size) == (ciphertext[5:105], len(ciphertext))
    async with server.client(doctor) as other_member:
        await refused(  # only the uploader may add to an upload
            other_member.call("attachments.finish", AttachmentFileParams(began.file)),
            ErrorCode.NOT_FOUND,
        )


async def test_a_wrong_hash_is_refused_and_the_upload_dropped(server: RunningServer) -> None:
    _, patient, thread = await server.patient_thread()
    async with server.client(patient) as client:
        began = await client.call("attachments.begin", AttachmentBeginParams(thread, 4, bytes(32)))
        await client.call("attachments.chunk", AttachmentChunkParams(began.file, 0, b"abcd"))
        await refused(
            client.call("attachments.finish", AttachmentFileParams(began.file)), ErrorCode.CONFLICT
        )
        await refused(
            client.call("attachments.chunk", AttachmentChunkParams(began.file, 4, b"e")),
            ErrorCode.NOT_FOUND,
        )


async def test_file_size_and_quota_limits(make_server) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = make_server(max_file_bytes=1000, user_quota_bytes=1500)
    _, patient, thread = await server.patient_thread()
    async with server.client(patient) as client:
        error = await refused(
            client.call("attachments.begin", AttachmentBeginParams(thread, 1001, bytes(32))),
            ErrorCode.TOO_LARGE,
        )
        assert error.details == {"limit": 1000}
        await client.call("attachments.begin", AttachmentBeginParams(thread, 1000, bytes(32)))
        error = await refused(
            client.call("attachments.begin", AttachmentBeginParams(thread, 600, b"\1" * 32)),
            ErrorCode.QUOTA_EXCEEDED,
        )
        assert error.details == {"quota": 1500, "used": 1000}


async def test_abandoned_uploads_and_orphan_blobs_are_swept(
    database_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = Store(database_factory())
    await store.db.migrate()
    blobs = FilesystemBlobs(tmp_path / "blobs")
    settings = Settings(upload_ttl_seconds=60)
    clock = Clock()
    ctx = types.SimpleNamespace(store=store, blobs=blobs, settings=settings, clock=clock)
    try:
        owner = await store.accounts.create_user("sweep-owner", "Owner", "patient", "x", 0)
        async with store.write() as tx:
            thread = await tx.threads.create("group", owner.id, [owner.id], 0, None)
        now = clock.ms()
        for file_id, created in (("a" * 32, now - 120_000), ("b" * 32, now)):
            record = FileRecord(file_id, owner.id, thread, 10, bytes(32), 0, created, None)
            await store.files.create(record, quota_bytes=100, max_unfinished=2)
            await blobs.write(file_id, 0, b"partial")
        await blobs.write("c" * 32, 0, b"nobody knows me")
        assert await sweep_uploads(ctx) == 2  # type: ignore[arg-type]
        assert await blobs.ids() == {"b" * 32}
        assert await store.files.get("a" * 32) is None
        assert await store.files.get("b" * 32) is not None
    finally:
        await store.close()


async def test_no_plaintext_reaches_the_database_the_blobs_or_the_logs(
    make_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A whole conversation with documents, the server logging at debug; then
    every byte the server side holds is searched for the words and files."""
    server: RunningServer = make_server(blob_dir=tmp_path / "blobs", log_level="debug")
    doctor, patient, thread = await server.patient_thread()
    words = ["Camille has a persistent cough", "amoxicillin 500 mg three times daily"]
    scan = b"Dr Martin's handwritten note: chest X-ray shows no consolidation. " * 300
    async with server.secure(doctor) as doc, server.secure(patient) as pat:
        await pat.send(thread, words[0], subject="Cough", reason="question")
        ref = await doc.upload(thread, scan, "xray-report.pdf", "application/pdf")
        await doc.send(thread, words[1], documents=[ref])
        for text in words:
            event = await (doc if text == words[0] else pat).next_event("message.new")
            opened = await (doc if text == words[0] else pat).open(event.data)
            assert opened.body.text == text
        assert await pat.download(ref) == scan
    server.stop()
    secrets = [w.encode() for w in words] + [
        b"Cough",
        b"xray-report.pdf",
        scan[:64],
        scan[1000:1064],
    ]
    haystacks = {"log": server.log.read_bytes()}
    for path in (tmp_path / "blobs").rglob("*"):
        if path.is_file():
            haystacks[f"blob {path.name}"] = path.read_bytes()
    if server.db.startswith("sqlite"):
        database = Path(server.db.split("///", 1)[1])
        for path in database.parent.glob(database.name + "*"):  # the file, -wal, -shm
            haystacks[path.name] = path.read_bytes()
    haystacks["rows"] = await _every_row(server.db)
    # The scan sees what is stored in clear: routing metadata, ids, requests.
    assert any(name.startswith("blob") for name in haystacks)
    assert b"question" in haystacks["rows"] and ref.file.encode() in haystacks["rows"]
    assert b"GET /healthz" in haystacks["log"] or b"DEBUG" in haystacks["log"]
    for name, content in haystacks.items():
        for secret in secrets:
            assert secret not in content, f"{secret[:30]!r} found in {name}"


async def _every_row(url: str) -> bytes:
    """Every value of every table, as the database returns them (decompressed)."""
    store = Store(url)
    try:
        async with store.db.read() as conn:
            metadata = MetaData()
            await conn.run_sync(metadata.reflect)
            parts = []
            for table in metadata.sorted_tables:
                for row in await conn.execute(select(table)):
                    parts.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
            return b"\n".join(parts)
    finally:
        await store.close()
