"""attachments.begin, .chunk, .finish, .read: encrypted documents in chunks.

The server stores ciphertext it cannot read. An upload is bound to one
thread at ``begin`` and served only to that thread's current members; it
counts against the uploader's quota from the start, grows chunk by chunk at
the offset the server reports (so a client resumes after a reconnect by
calling ``begin`` again), and becomes readable only once its size and
BLAKE2b-256 match what ``begin`` announced.
"""

from __future__ import annotations

import secrets

from protocol.e2e import Scope
from protocol.methods import (
    AttachmentBeginParams,
    AttachmentBeginResult,
    AttachmentChunkParams,
    AttachmentChunkResult,
    AttachmentFileParams,
    AttachmentReadParams,
    AttachmentReadResult,
    FileInfo,
)
from server.connection import Connection
from server.context import Services
from server.errors import conflict, invalid, not_found, over_quota, too_large
from server.ops.access import thread_of
from server.ops.files import readable_file
from storage.files import FileRecord

__all__ = ["begin", "chunk", "finish", "read"]


async def begin(ctx: Services, conn: Connection, p: AttachmentBeginParams) -> AttachmentBeginResult:
    await thread_of(ctx, conn, p.thread, Scope.REPLY)
    s = ctx.settings
    if p.size > s.max_file_bytes:
        raise too_large(
            f"documents are limited to {s.max_file_bytes} bytes", limit=s.max_file_bytes
        )
    found = await ctx.store.files.unfinished(conn.user_id, p.thread, p.hash)
    if found is not None and found.size == p.size:
        return AttachmentBeginResult(found.id, found.received, s.chunk_bytes)
    record = FileRecord(
        id=secrets.token_hex(16),
        owner_id=conn.user_id,
        thread_id=p.thread,
        size=p.size,
        hash=p.hash,
        received=0,
        created_at=ctx.clock.ms(),
        finished_at=None,
    )
    refused = await ctx.store.files.create(
        record, quota_bytes=s.user_quota_bytes, max_unfinished=s.max_unfinished_uploads
    )
    if refused is not None and refused.unfinished >= s.max_unfinished_uploads:
        raise over_quota(
            "finish your other uploads first (unfinished ones expire after a day)",
            unfinished=refused.unfinished,
            limit=s.max_unfinished_uploads,
        )
    if refused is not None:
        raise over_quota(
            "your documents would exceed your storage quota",
            quota=s.user_quota_bytes,
            used=refused.bytes,
        )
    return AttachmentBeginResult(record.id, 0, s.chunk_bytes)


async def chunk(ctx: Services, conn: Connection, p: AttachmentChunkParams) -> AttachmentChunkResult:
    record = await _upload(ctx, conn, p.file)
    if len(p.data) > ctx.settings.chunk_bytes:
        raise too_large(
            f"chunks are limited to {ctx.settings.chunk_bytes} bytes",
            limit=ctx.settings.chunk_bytes,
        )
    if p.offset != record.received:
        raise conflict("continue at the received offset", received=record.received)
    end = p.offset + len(p.data)
    if end > record.size:
        raise invalid("the chunk goes past the announced size", size=record.size)
    await ctx.blobs.write(record.id, p.offset, p.data)
    if not await ctx.store.files.advance(record.id, p.offset, end):
        raise conflict("another chunk was written at this offset")
    return AttachmentChunkResult(end)


async def finish(ctx: Services, conn: Connection, p: AttachmentFileParams) -> FileInfo:
    record = await ctx.store.files.get(p.file)
    if record is None or record.owner_id != conn.user_id:
        raise not_found("no such upload of yours", file=p.file)
    if not record.finished:
        if record.received != record.size:
            raise conflict("the upload is not complete", received=record.received)
        size, digest = await ctx.blobs.partial_hash(record.id)
        if (size, digest) != (record.size, record.hash):
            await ctx.store.files.delete([record.id])
            await ctx.blobs.delete(record.id)
            raise conflict("the stored bytes do not match the announced hash: upload again")
        await ctx.blobs.commit(record.id)
        await ctx.store.files.finish(record.id, ctx.clock.ms())
    return FileInfo(record.id, record.thread_id, record.size, record.hash)


async def read(ctx: Services, conn: Connection, p: AttachmentReadParams) -> AttachmentReadResult:
    record = await readable_file(ctx, conn.user_id, conn.grants, p.file)
    length = min(p.length, ctx.settings.chunk_bytes)
    data = await ctx.blobs.read(record.id, p.offset, length) if p.offset < record.size else b""
    return AttachmentReadResult(data, record.size)


async def _upload(ctx: Services, conn: Connection, file_id: str) -> FileRecord:
    record = await ctx.store.files.get(file_id)
    if record is None or record.owner_id != conn.user_id:
        raise not_found("no such upload of yours", file=file_id)
    if record.finished:
        raise conflict("this upload is already finished")
    return record
