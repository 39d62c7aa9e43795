"""rules.list, rules.add, rules.update, rules.delete: a practitioner's
vacation and auto-reply rules. Every change goes to the practitioner's
devices as ``rules.updated`` (the whole ordered list), which also tells
every node to read them again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from protocol.codec import to_raw
from protocol.model import Empty, Role
from protocol.practice import Rule, RuleParams, RulesResult
from server.broker.control import PracticeChanged
from server.connection import Connection
from server.context import Context
from server.directory import decode_rule
from server.errors import invalid, not_found
from server.ops.admission import require_role
from server.policy import rule_problems
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["add_rule", "delete_rule", "list_rules", "update_rule"]

_encode = msgspec.msgpack.Encoder().encode
T = TypeVar("T")


async def list_rules(ctx: Context, conn: Connection, _: Empty) -> RulesResult:
    require_role(conn, Role.PRACTITIONER, "have rules")
    return RulesResult(list((await ctx.directory.practitioner(conn.user_id)).rules))


async def add_rule(ctx: Context, conn: Connection, rule: Rule) -> Rule:
    await _check(ctx, conn, rule)
    now = ctx.clock.ms()

    async def store(tx: WriteTx) -> int:
        return await tx.rules.add(conn.user_id, rule.position, _encode(_unsaved(rule)), now)

    rule.id = await _change(ctx, conn, store)
    return rule


async def update_rule(ctx: Context, conn: Connection, rule: Rule) -> Rule:
    await _check(ctx, conn, rule)
    now = ctx.clock.ms()

    async def store(tx: WriteTx) -> None:
        stored = _encode(_unsaved(rule))
        if not await tx.rules.replace(conn.user_id, rule.id, rule.position, stored, now):
            raise not_found("no such rule", rule=rule.id)

    await _change(ctx, conn, store)
    return rule


async def delete_rule(ctx: Context, conn: Connection, p: RuleParams) -> Empty:
    require_role(conn, Role.PRACTITIONER, "have rules")

    async def store(tx: WriteTx) -> None:
        if not await tx.rules.delete(conn.user_id, p.rule):
            raise not_found("no such rule", rule=p.rule)

    await _change(ctx, conn, store)
    return Empty()


async def _check(ctx: Context, conn: Connection, rule: Rule) -> None:
    require_role(conn, Role.PRACTITIONER, "have rules")
    problems = rule_problems(rule)
    if problems:
        raise invalid("; ".join(problems), problems=problems)
    colleague = rule.redirect_to
    if colleague is not None:
        if colleague == conn.user_id:
            raise invalid("point patients to a colleague, not to yourself")
        users = await ctx.store.accounts.users([colleague])
        found = users.get(colleague)
        if found is None or found.role != Role.PRACTITIONER:
            raise not_found("no such practitioner", redirect_to=colleague)


def _unsaved(rule: Rule) -> Rule:
    """The rule as stored: its id is the row's."""
    return msgspec.structs.replace(rule, id=0)


async def _change(ctx: Context, conn: Connection, change: Callable[[WriteTx], Awaitable[T]]) -> T:
    """Apply ``change`` and send the new list to the practitioner's devices,
    in one transaction."""

    async def store(tx: WriteTx, out: list[Outgoing]) -> T:
        result = await change(tx)
        stored = await tx.rules.of_in(conn.user_id)
        rules = [decode_rule(rule_id, data) for rule_id, data in stored]
        out.append(
            Outgoing(
                "rules.updated",
                to_raw(RulesResult(rules)),
                [conn.user_id],
                user_id=conn.user_id,
                control=PracticeChanged(conn.user_id),
            )
        )
        return result

    return await ctx.writer.run(store)
