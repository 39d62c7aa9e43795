"""A practitioner's vacation and auto-reply rules, changed: each change is
planned (checked and encoded), then stored with ``rules.updated`` (the
whole ordered list) for the practitioner's devices, which also tells every
node to read them again."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from protocol.codec import to_raw
from protocol.model import Role
from protocol.practice import Rule, RulesResult
from server.broker.control import PracticeChanged
from server.connection import Connection
from server.context import Services
from server.directory import decode_rule
from server.errors import invalid, not_found
from server.ops.admission import require_role
from server.policy import rule_problems
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = [
    "RulePlan",
    "plan_rule",
    "require_rule_keeper",
    "store_deletion",
    "store_new_rule",
    "store_replaced_rule",
]

_encode = msgspec.msgpack.Encoder().encode


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A checked rule of ``practitioner``'s, encoded as stored (its id is the row's)."""

    practitioner: int
    rule_id: int  # the rule it replaces (0 for a new one)
    position: int
    encoded: bytes
    now: int


def require_rule_keeper(conn: Connection) -> None:
    require_role(conn, Role.PRACTITIONER, "have rules")


async def plan_rule(ctx: Services, conn: Connection, rule: Rule) -> RulePlan:
    require_rule_keeper(conn)
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
    encoded = _encode(msgspec.structs.replace(rule, id=0))
    return RulePlan(conn.user_id, rule.id, rule.position, encoded, ctx.clock.ms())


async def store_new_rule(plan: RulePlan, tx: WriteTx, out: list[Outgoing]) -> int:
    """The new rule's id."""
    rule_id = await tx.rules.add(plan.practitioner, plan.position, plan.encoded, plan.now)
    await _tell(tx, out, plan.practitioner)
    return rule_id


async def store_replaced_rule(plan: RulePlan, tx: WriteTx, out: list[Outgoing]) -> None:
    practitioner = plan.practitioner
    if not await tx.rules.replace(
        practitioner, plan.rule_id, plan.position, plan.encoded, plan.now
    ):
        raise not_found("no such rule", rule=plan.rule_id)
    await _tell(tx, out, practitioner)


async def store_deletion(practitioner: int, rule_id: int, tx: WriteTx, out: list[Outgoing]) -> None:
    if not await tx.rules.delete(practitioner, rule_id):
        raise not_found("no such rule", rule=rule_id)
    await _tell(tx, out, practitioner)


async def _tell(tx: WriteTx, out: list[Outgoing], practitioner: int) -> None:
    """The practitioner's rules as they now are, to their devices and every node."""
    stored = await tx.rules.of_in(practitioner)
    rules = [decode_rule(rule_id, data) for rule_id, data in stored]
    out.append(
        Outgoing(
            "rules.updated",
            to_raw(RulesResult(rules)),
            [practitioner],
            user_id=practitioner,
            control=PracticeChanged(practitioner),
        )
    )
