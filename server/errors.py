"""The server's errors. Each maps to one wire ``ErrorCode`` at the socket
edge (and to an HTTP status at the HTTP edge).

There are two ways to refuse, one for each kind of refusal:

- a plain one: ``raise forbidden(...)``, ``invalid``, ``not_found``,
  ``conflict``, ``too_large``, ``over_quota``, ``stale_devices``,
  ``unauthorized``, ``busy`` or ``unavailable`` (below): the code, a sentence for
  developers, details;
- a reasoned one that a person reads (a rule, a closed thread, a slot
  taken): the policy functions (``server.policy``) return a ``Refusal``,
  and the caller raises ``refusal.error()``: the code, ``details.reason``,
  and the catalogue's words in the person's language.

Nothing else constructs a ``ServerError``. A socket that is refused before
its session opens is closed with a ``CloseCode`` (``protocol.session``), not
answered with an error.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode
from protocol.texts import has_text, render

__all__ = [
    "ServerError",
    "busy",
    "conflict",
    "forbidden",
    "invalid",
    "not_found",
    "over_quota",
    "stale_devices",
    "too_large",
    "unauthorized",
    "unavailable",
]


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


def conflict(message: str, **details: Any) -> ServerError:
    """Someone else got there first, or this was done already differently."""
    return ServerError(ErrorCode.CONFLICT, message, **details)


def too_large(message: str, **details: Any) -> ServerError:
    return ServerError(ErrorCode.TOO_LARGE, message, **details)


def over_quota(message: str, **details: Any) -> ServerError:
    """The caller's stored bytes or uploads are at their limit."""
    return ServerError(ErrorCode.QUOTA_EXCEEDED, message, **details)


def unauthorized(message: str, **details: Any) -> ServerError:
    """No valid credentials: log in (again)."""
    return ServerError(ErrorCode.UNAUTHORIZED, message, **details)


def busy(message: str, retry_after_ms: int) -> ServerError:
    """Too many requests now: try again after ``retry_after_ms``."""
    return ServerError(ErrorCode.RATE_LIMITED, message, retry_after_ms=retry_after_ms)


def stale_devices(message: str, **gaps: Any) -> ServerError:
    """An envelope sealed for other devices than the thread's: fetch keys
    and seal again (``gaps``: missing, unknown, no_keys)."""
    return ServerError(ErrorCode.STALE_DEVICES, message, **gaps)


def unavailable(message: str) -> ServerError:
    """A dependency (the store) is out of reach: try again later."""
    return ServerError(ErrorCode.UNAVAILABLE, message)
