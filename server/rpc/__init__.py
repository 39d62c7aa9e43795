"""The route table: each method callable over the socket, bound to its
handler and to the rate-limit buckets a call of it spends.

``ROUTES`` is checked against ``protocol.methods.METHODS`` at import: a
method without a route, or a route without a method, stops the server from
starting with a message that names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from protocol.methods import METHODS
from server.rpc import (
    account,
    agenda,
    attachments,
    booking,
    broadcasts,
    care,
    delegations,
    keys,
    members,
    messages,
    practice,
    presence,
    push,
    receipts,
    records,
    relatives,
    rules,
    templates,
    threads,
    trace,
    users,
)
from server.rpc.base import Handler

__all__ = [
    "CALLING",
    "ROUTES",
    "SENDING",
    "Bucket",
    "Handler",
    "Route",
    "RouteMismatch",
    "check_routes",
]


class Bucket(StrEnum):
    """A rate-limit bucket of the device (``Limits`` in ``welcome``)."""

    CALLS = "calls"  # every frame spends from it, readable or not
    SENDS = "sends"  # messages sent


CALLING = (Bucket.CALLS,)  # what any frame spends
SENDING = (Bucket.CALLS, Bucket.SENDS)


@dataclass(frozen=True, slots=True)
class Route:
    """``pipelined``: the call queues its writes in the writer, and nothing
    it reads before then depends on an earlier pipelined call's commit
    (what could, its store step reads again in the transaction): its
    connection reads the next frame while it waits for the commit
    (``server.calls``)."""

    handler: Handler
    charges: tuple[Bucket, ...] = CALLING
    pipelined: bool = False


class RouteMismatch(Exception):
    """The route table and the protocol's method table disagree."""


def check_routes(routes: Mapping[str, Route], methods: Iterable[str]) -> None:
    """Raise ``RouteMismatch`` unless ``routes`` has one route per method."""
    unrouted = sorted(set(methods) - routes.keys())
    unknown = sorted(routes.keys() - set(methods))
    if unrouted or unknown:
        raise RouteMismatch(
            f"methods without a route: {unrouted or 'none'}; "
            f"routes to no method of protocol.methods.METHODS: {unknown or 'none'}"
        )


ROUTES: dict[str, Route] = {
    "threads.open": Route(threads.open_thread),
    "threads.list": Route(threads.list_threads),
    "threads.close": Route(threads.close_thread),
    "threads.reopen": Route(threads.reopen_thread),
    "threads.add_member": Route(members.add_member),
    "threads.remove_member": Route(members.remove_member),
    "messages.send": Route(messages.send, charges=SENDING, pipelined=True),
    "messages.history": Route(messages.history),
    "receipts.delivered": Route(receipts.delivered, pipelined=True),
    "receipts.read": Route(receipts.read, pipelined=True),
    "presence.set": Route(presence.set_presence),
    "presence.list": Route(presence.list_presence),
    "typing": Route(presence.typing),
    "keys.publish": Route(keys.publish),
    "keys.fetch": Route(keys.fetch),
    "keys.distribute": Route(keys.distribute, charges=SENDING),  # up to 88 KB stored
    "keys.sender_key": Route(keys.sender_key),
    "attachments.begin": Route(attachments.begin),
    "attachments.chunk": Route(attachments.chunk),
    "attachments.finish": Route(attachments.finish),
    "attachments.read": Route(attachments.read),
    "admin.verify": Route(practice.verify),
    "admin.professionals": Route(practice.professionals),
    "practices.create": Route(practice.create_practice),
    "practices.list": Route(practice.list_practices),
    "practices.invite": Route(practice.invite),
    "practices.accept": Route(practice.accept),
    "practices.decline": Route(practice.decline),
    "practices.leave": Route(practice.leave),
    "practices.remove_member": Route(practice.remove_member),
    "practitioners.search": Route(practice.search_practitioners),
    "practitioners.get": Route(practice.get_practitioner),
    "patients.add": Route(care.add_patient),
    "patients.list": Route(care.list_patients),
    "patients.find": Route(care.find_patients),
    "care.invitations": Route(care.invitations),
    "care.accept": Route(care.accept),
    "care.decline": Route(care.decline),
    "inbox.get": Route(practice.get_inbox),
    "inbox.set": Route(practice.set_inbox),
    "rules.list": Route(rules.list_rules),
    "rules.add": Route(rules.add_rule),
    "rules.update": Route(rules.update_rule),
    "rules.delete": Route(rules.delete_rule),
    "templates.list": Route(templates.list_templates),
    "templates.create": Route(templates.create_template),
    "templates.update": Route(templates.update_template),
    "templates.delete": Route(templates.delete_template),
    "audit.list": Route(trace.list_audit),
    "records.filed": Route(records.filed),
    "records.filings": Route(records.filings),
    "messages.retract": Route(trace.retract),
    "broadcasts.create": Route(broadcasts.create_broadcast),
    "broadcasts.opt_out": Route(broadcasts.opt_out),
    "broadcasts.opt_in": Route(broadcasts.opt_in),
    "relatives.add": Route(relatives.add_relative),
    "relatives.list": Route(relatives.list_relatives),
    "relatives.withdraw": Route(relatives.withdraw_relative),
    "delegations.list": Route(delegations.list_delegations),
    "users.get": Route(users.get_users),
    "account.get": Route(users.get_account),
    "account.set": Route(users.set_account),
    "account.sessions": Route(account.list_sessions),
    "account.end_session": Route(account.end_session),
    "account.end_other_sessions": Route(account.end_other_sessions),
    "account.password": Route(account.set_password),
    "account.email": Route(account.set_email),
    "account.security": Route(account.security),
    "account.audit": Route(account.audit),
    "account.delete": Route(account.delete_account),
    "admin.users": Route(account.list_users),
    "admin.deactivate": Route(account.deactivate),
    "admin.reactivate": Route(account.reactivate),
    "admin.reset_second_factor": Route(account.reset_second_factor),
    "agenda.get": Route(agenda.get_agenda),
    "agenda.set": Route(agenda.set_agenda),
    "agenda.add_exception": Route(agenda.add_exception),
    "agenda.remove_exception": Route(agenda.remove_exception),
    "agenda.slots": Route(agenda.slots),
    "agenda.day": Route(agenda.agenda_day),
    "agenda.week": Route(agenda.agenda_week),
    "booking.hold": Route(booking.hold),
    "booking.confirm": Route(booking.confirm),
    "booking.cancel": Route(booking.cancel),
    "booking.reschedule": Route(booking.reschedule),
    "booking.no_show": Route(booking.no_show),
    "booking.list": Route(booking.list_appointments),
    "push.key": Route(push.push_key),
    "push.subscribe": Route(push.subscribe),
    "push.register": Route(push.register),
    "push.unsubscribe": Route(push.unsubscribe),
    "notify.get": Route(push.get_preferences),
    "notify.set": Route(push.set_preferences),
    "threads.mute": Route(push.mute),
}
check_routes(ROUTES, METHODS)
