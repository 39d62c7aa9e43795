"""templates.list, templates.create, templates.update, templates.delete

A template is a practitioner's own, or shared with a practice (kept by its
practitioners, listed to all its members); everyone on the care side also
has the built-in "Inappropriate request" reply, which closes the thread.
An assistant lists the own templates of the practitioners they answer for
(``reply`` or ``templates`` scope) and keeps them with ``templates``.
The server checks a template's variables; the sending client renders it.
"""

from __future__ import annotations

import msgspec

from protocol.e2e import Scope
from protocol.model import Empty, Role
from protocol.practice import (
    INAPPROPRIATE_REQUEST,
    RefusalReason,
    Template,
    TemplateParams,
    TemplatesResult,
    builtin_template,
)
from protocol.templates import TemplateError, variables_of
from server.connection import Connection
from server.context import Services
from server.errors import ServerError, invalid, not_found
from server.ops.access import delegated
from server.policy import Refusal
from storage.templates import StoredTemplate

__all__ = ["create_template", "delete_template", "list_templates", "update_template"]

CARE_SIDE = frozenset({Role.PRACTITIONER, Role.ASSISTANT, Role.BOT})
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Template).decode


async def list_templates(ctx: Services, conn: Connection, _: Empty) -> TemplatesResult:
    if conn.role not in CARE_SIDE:
        raise Refusal(RefusalReason.ROLE, "templates are for the care side").error()
    practices = [p.id for p in await ctx.store.practices.of_user(conn.user_id)]
    now = ctx.clock.ms()
    owners = [conn.user_id] + [
        principal
        for principal, grant in conn.grants.items()
        if grant.allows(Scope.REPLY, now) or grant.allows(Scope.TEMPLATES, now)
    ]
    stored = await ctx.store.templates.visible(owners, practices)
    builtin = builtin_template(INAPPROPRIATE_REQUEST, conn.locale)
    return TemplatesResult([builtin, *(_template(t) for t in stored)])


async def create_template(ctx: Services, conn: Connection, template: Template) -> Template:
    owner = None
    if template.practice is None:
        owner = template.owner or conn.user_id
        _may_keep_own(ctx, conn, owner)
    else:
        await _may_keep(ctx, conn, template.practice)
    _check_text(template)
    saved = _saved(template, owner)
    saved.id = await ctx.store.templates.add(
        owner, template.practice, _encode(saved), ctx.clock.ms()
    )
    return saved


async def update_template(ctx: Services, conn: Connection, template: Template) -> Template:
    stored = await _kept(ctx, conn, template.id)
    if template.practice != stored.practice_id:
        raise invalid("a template cannot move between a practice and a practitioner")
    _check_text(template)
    saved = _saved(template, stored.owner_id)
    await ctx.store.templates.replace(template.id, _encode(saved), ctx.clock.ms())
    saved.id = template.id
    return saved


async def delete_template(ctx: Services, conn: Connection, p: TemplateParams) -> Empty:
    await _kept(ctx, conn, p.template)
    await ctx.store.templates.delete(p.template)
    return Empty()


async def _kept(ctx: Services, conn: Connection, template_id: int) -> StoredTemplate:
    """A stored template the caller may change."""
    stored = await ctx.store.templates.get(template_id) if template_id else None
    if stored is None:
        raise not_found("no such template", template=template_id)
    if stored.owner_id is None:
        assert stored.practice_id is not None  # a template has an owner or a practice
        await _may_keep(ctx, conn, stored.practice_id)
    else:
        try:
            _may_keep_own(ctx, conn, stored.owner_id)
        except ServerError:
            raise not_found("no such template", template=template_id) from None
    return stored


def _may_keep_own(ctx: Services, conn: Connection, owner: int) -> None:
    """A practitioner keeps their own templates; an assistant those of the
    practitioners who delegated ``templates`` to them."""
    if owner != conn.user_id:
        if not delegated(ctx, conn, owner, Scope.TEMPLATES):
            raise Refusal(
                RefusalReason.NOT_DELEGATED,
                "you do not keep this practitioner's templates",
                {"owner": owner},
            ).error()
    elif conn.role is not Role.PRACTITIONER:
        raise Refusal(RefusalReason.ROLE, "practitioners keep templates").error()


async def _may_keep(ctx: Services, conn: Connection, practice_id: int) -> None:
    """A practice's templates are kept by its practitioners."""
    if conn.role is not Role.PRACTITIONER:
        raise Refusal(RefusalReason.ROLE, "practitioners keep templates").error()
    if not await ctx.store.practices.member_of(practice_id, conn.user_id):
        raise Refusal(RefusalReason.ROLE, "you are not a member of this practice").error()


def _check_text(template: Template) -> None:
    try:
        variables_of(template.text)
    except TemplateError as exc:
        raise invalid(str(exc)) from None


def _saved(template: Template, owner: int | None) -> Template:
    return msgspec.structs.replace(template, id=0, builtin=False, code=None, owner=owner)


def _template(stored: StoredTemplate) -> Template:
    template = _decode(stored.template)
    template.id, template.owner = stored.id, stored.owner_id
    return template
