"""The methods callable over the socket, by name."""

from __future__ import annotations

from server.rpc import (
    attachments,
    keys,
    members,
    messages,
    practice,
    presence,
    receipts,
    rules,
    templates,
    threads,
    trace,
)
from server.rpc.base import Handler

__all__ = ["HANDLERS", "Handler"]

HANDLERS: dict[str, Handler] = {
    "threads.open": threads.open_thread,
    "threads.list": threads.list_threads,
    "threads.close": threads.close_thread,
    "threads.reopen": threads.reopen_thread,
    "threads.add_member": members.add_member,
    "threads.remove_member": members.remove_member,
    "messages.send": messages.send,
    "messages.history": messages.history,
    "receipts.delivered": receipts.delivered,
    "receipts.read": receipts.read,
    "presence.set": presence.set_presence,
    "presence.list": presence.list_presence,
    "typing": presence.typing,
    "keys.publish": keys.publish,
    "keys.fetch": keys.fetch,
    "attachments.begin": attachments.begin,
    "attachments.chunk": attachments.chunk,
    "attachments.finish": attachments.finish,
    "attachments.read": attachments.read,
    "admin.verify": practice.verify,
    "practices.create": practice.create_practice,
    "practices.list": practice.list_practices,
    "practices.add_member": practice.add_member,
    "practices.remove_member": practice.remove_member,
    "practitioners.search": practice.search_practitioners,
    "practitioners.get": practice.get_practitioner,
    "patients.add": practice.add_patient,
    "patients.list": practice.list_patients,
    "inbox.get": practice.get_inbox,
    "inbox.set": practice.set_inbox,
    "rules.list": rules.list_rules,
    "rules.add": rules.add_rule,
    "rules.update": rules.update_rule,
    "rules.delete": rules.delete_rule,
    "templates.list": templates.list_templates,
    "templates.create": templates.create_template,
    "templates.update": templates.update_template,
    "templates.delete": templates.delete_template,
    "audit.list": trace.list_audit,
    "messages.retract": trace.retract,
}
