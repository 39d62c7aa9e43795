"""A refusal by the practice's rules: a reason code and words to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.practice import RefusalReason
from server.errors import ServerError, forbidden

__all__ = ["Refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RefusalReason
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def error(self) -> ServerError:
        """The ``forbidden`` error a client receives, ``details.reason`` set."""
        return forbidden(self.text, reason=self.reason.value, **self.details)
