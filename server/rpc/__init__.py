"""The methods callable over the socket, by name."""

from __future__ import annotations

from server.rpc import attachments, keys, messages, presence, receipts, threads
from server.rpc.base import Handler

__all__ = ["HANDLERS", "Handler"]

HANDLERS: dict[str, Handler] = {
    "threads.open": threads.open_thread,
    "threads.list": threads.list_threads,
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
}
