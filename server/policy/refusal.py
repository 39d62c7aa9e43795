"""A refusal by the practice's or the agenda's rules: a reason code and
words to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from protocol.errors import ErrorCode
from server.errors import ServerError

__all__ = ["Refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: StrEnum  # protocol.practice.RefusalReason, protocol.booking.BookingRefusal
    text: str
    details: dict[str, Any] = field(default_factory=dict)
    code: ErrorCode = ErrorCode.FORBIDDEN  # CONFLICT when someone else got there first
    own_words: bool = False  # ``text`` is a person's (a rule's): shown as written

    def error(self) -> ServerError:
        """The error a client receives, ``details.reason`` set."""
        error = ServerError(self.code, self.text, reason=self.reason.value, **self.details)
        error.own_words = self.own_words
        return error
