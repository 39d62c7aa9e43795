"""The bot framework of the SDK (``clients.bots.bot``) and an example bot
(``clients.bots.renewal``)."""

from clients.bots.bot import Bot, Conversation, Handler, saved_cursor

__all__ = ["Bot", "Conversation", "Handler", "saved_cursor"]
