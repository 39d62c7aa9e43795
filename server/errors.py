"""The server's errors. Each maps to one wire ``ErrorCode`` at the socket edge.

ServerError(code, message, details)
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode
from protocol.texts import has_text, render

__all__ = ["ServerError", "forbidden", "invalid", "not_found"]


class ServerError(Exception):
    """A refusal a client can show: a wire code, a sentence, and details."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)  # a plain str: subclasses (Refusal) do not encode
        self.details = details
        self.own_words = False  # the message is a person's own text, in no catalogue

    def worded(self, locale: str) -> str:
        """The message a person reads, in ``locale``: a refusal's from the
        catalogue (``refusal.<reason>`` with the details), unless it is
        someone's own words; otherwise the server's."""
        reason = self.details.get("reason")
        if isinstance(reason, str) and not self.own_words and has_text(f"refusal.{reason}"):
            return render(locale, f"refusal.{reason}", **self.details)
        return self.message


def forbidden(message: str, **details: Any) -> ServerError:
    return ServerError(ErrorCode.FORBIDDEN, message, **details)


def not_found(message: str, **details: Any) -> ServerError:
    return ServerError(ErrorCode.NOT_FOUND, message, **details)


def invalid(message: str, **details: Any) -> ServerError:
    return ServerError(ErrorCode.INVALID, message, **details)
