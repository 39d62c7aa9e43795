"""Reply templates: ``{variable}`` placeholders the sending client fills in.

The server stores templates and checks their variables; it never renders
one (the rendered text is end-to-end encrypted like any message). Rendering
is strict: a variable the template names but the caller does not give is an
error, never an empty gap in a message to a patient.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from protocol.errors import DecodeError

__all__ = ["VARIABLES", "TemplateError", "render", "variables_of"]

VARIABLES = frozenset(
    {
        "patient_first_name",
        "patient_name",
        "practitioner_name",
        "practice_name",
        "date",
        "time",
        "response_delay",
    }
)

_FORMATTER = string.Formatter()


class TemplateError(DecodeError):
    """A template that does not parse, names an unknown variable, or lacks a value."""


def variables_of(text: str) -> set[str]:
    """The variables ``text`` names; ``{{`` and ``}}`` are literal braces."""
    try:
        parsed = [(field, spec, conv) for _, field, spec, conv in _FORMATTER.parse(text)]
    except ValueError as exc:
        raise TemplateError(f"template does not parse: {exc}") from None
    fields = set()
    for field, spec, conv in parsed:
        if field is None:  # literal text after the last variable
            continue
        if spec or conv:
            raise TemplateError("a variable is written {name}, without format or conversion")
        if not field.isidentifier():
            raise TemplateError(f"not a variable name: {field!r}")
        fields.add(field)
    unknown = sorted(fields - VARIABLES)
    if unknown:
        raise TemplateError(f"unknown variables: {', '.join(unknown)}")
    return fields


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each variable replaced by its value."""
    missing = sorted(variables_of(text) - values.keys())
    if missing:
        raise TemplateError(f"no value for: {', '.join(missing)}")
    return text.format_map(values)
