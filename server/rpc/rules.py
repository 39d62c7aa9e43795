"""rules.list, rules.add, rules.update, rules.delete: a practitioner's
vacation and auto-reply rules, changed by ``server.ops.rules``. Every
change goes to the practitioner's devices as ``rules.updated`` (the whole
ordered list), which also tells every node to read them again."""

from __future__ import annotations

from functools import partial

from protocol.model import Empty
from protocol.practice import Rule, RuleParams, RulesResult
from server.connection import Connection
from server.context import Services
from server.ops.rules import (
    plan_rule,
    require_rule_keeper,
    store_deletion,
    store_new_rule,
    store_replaced_rule,
)

__all__ = ["add_rule", "delete_rule", "list_rules", "update_rule"]


async def list_rules(ctx: Services, conn: Connection, _: Empty) -> RulesResult:
    require_rule_keeper(conn)
    return RulesResult(list((await ctx.directory.practitioner(conn.user_id)).rules))


async def add_rule(ctx: Services, conn: Connection, rule: Rule) -> Rule:
    plan = await plan_rule(ctx, conn, rule)
    rule.id = await ctx.writer.run(partial(store_new_rule, plan))
    return rule


async def update_rule(ctx: Services, conn: Connection, rule: Rule) -> Rule:
    plan = await plan_rule(ctx, conn, rule)
    await ctx.writer.run(partial(store_replaced_rule, plan))
    return rule


async def delete_rule(ctx: Services, conn: Connection, p: RuleParams) -> Empty:
    require_rule_keeper(conn)
    await ctx.writer.run(partial(store_deletion, conn.user_id, p.rule))
    return Empty()
