"""Encrypted documents: which a caller may read (a member of a thread the
document was shared in)."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.e2e import Delegate, Scope
from server.context import Services
from server.errors import ServerError, not_found
from server.ops.access import reach
from storage.files import FileRecord

__all__ = ["readable_file"]


async def readable_file(
    ctx: Services, user_id: int, grants: Mapping[int, Delegate], file_id: str
) -> FileRecord:
    """A finished document of a thread the user reaches (``reach``, reading)."""
    record = await ctx.store.files.get(file_id)
    if record is None or not record.finished:
        raise not_found("no such document", file=file_id)
    try:
        await reach(ctx, user_id, grants, record.thread_id, Scope.READ)
    except ServerError:
        raise not_found("no such document", file=file_id) from None  # not even its existence
    return record
