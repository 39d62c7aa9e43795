"""templates.list, templates.create, templates.update, templates.delete

A template is a practitioner's own, or shared with a practice (kept by its
practitioners, listed to all its members); everyone on the care side also
has the built-in "Inappropriate request" reply, which closes the thread.
The server checks a template's variables; the sending client renders it.
"""

from __future__ import annotations

import msgspec

from protocol.model import Empty, Role
from protocol.practice import (
    INAPPROPRIATE_REQUEST,
    RefusalReason,
    Template,
    TemplateParams,
    TemplatesResult,
)
from protocol.templates import TemplateError, variables_of
from server.connection import Connection
from server.context import Context
from server.errors import invalid, not_found
from server.policy import Refusal
from storage.templates import StoredTemplate

__all__ = ["create_template", "delete_template", "list_templates", "update_template"]

CARE_SIDE = frozenset({Role.PRACTITIONER, Role.ASSISTANT, Role.BOT})
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Template).decode


async def list_templates(ctx: Context, conn: Connection, _: Empty) -> TemplatesResult:
    if conn.role not in CARE_SIDE:
        raise Refusal(RefusalReason.ROLE, "templates are for the care side").error()
    practices = [p.id for p in await ctx.store.practices.of_user(conn.user_id)]
    stored = await ctx.store.templates.visible(conn.user_id, practices)
    return TemplatesResult([INAPPROPRIATE_REQUEST, *(_template(t) for t in stored)])


async def create_template(ctx: Context, conn: Connection, template: Template) -> Template:
    await _may_keep(ctx, conn, template.practice)
    _check_text(template)
    owner = None if template.practice is not None else conn.user_id
    saved = _saved(template)
    saved.id = await ctx.store.templates.add(
        owner, template.practice, _encode(saved), ctx.clock.ms()
    )
    return saved


async def update_template(ctx: Context, conn: Connection, template: Template) -> Template:
    stored = await _kept(ctx, conn, template.id)
    if template.practice != stored.practice_id:
        raise invalid("a template cannot move between a practice and a practitioner")
    _check_text(template)
    saved = _saved(template)
    await ctx.store.templates.replace(template.id, _encode(saved), ctx.clock.ms())
    saved.id = template.id
    return saved


async def delete_template(ctx: Context, conn: Connection, p: TemplateParams) -> Empty:
    await _kept(ctx, conn, p.template)
    await ctx.store.templates.delete(p.template)
    return Empty()


async def _kept(ctx: Context, conn: Connection, template_id: int) -> StoredTemplate:
    """A stored template the caller may change."""
    stored = await ctx.store.templates.get(template_id) if template_id else None
    if stored is None or (stored.owner_id is not None and stored.owner_id != conn.user_id):
        raise not_found("no such template", template=template_id)
    await _may_keep(ctx, conn, stored.practice_id)
    return stored


async def _may_keep(ctx: Context, conn: Connection, practice_id: int | None) -> None:
    """Practitioners keep their own templates and their practices'."""
    if conn.role is not Role.PRACTITIONER:
        raise Refusal(RefusalReason.ROLE, "practitioners keep templates").error()
    if practice_id is not None and not await ctx.store.practices.member_of(
        practice_id, conn.user_id
    ):
        raise Refusal(RefusalReason.ROLE, "you are not a member of this practice").error()


def _check_text(template: Template) -> None:
    try:
        variables_of(template.text)
    except TemplateError as exc:
        raise invalid(str(exc)) from None


def _saved(template: Template) -> Template:
    return msgspec.structs.replace(template, id=0, builtin=False)


def _template(stored: StoredTemplate) -> Template:
    template = _decode(stored.template)
    template.id = stored.id
    return template
