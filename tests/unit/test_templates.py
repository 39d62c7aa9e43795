"""Template variables and strict rendering: a table over protocol.templates."""

from __future__ import annotations

import pytest

from protocol.templates import TemplateError, render, variables_of

VALUES = {"patient_first_name": "Camille", "practitioner_name": "Dr Martin", "date": "12 May"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {patient_first_name},", "Hello Camille,"),
        ("{practitioner_name} on {date}", "Dr Martin on 12 May"),
        ("No variables at all.", "No variables at all."),
        ("Braces {{kept}} literally", "Braces {kept} literally"),
        ("{patient_first_name} {patient_first_name}", "Camille Camille"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert render(text, VALUES) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Hello {first}", "unknown variables: first"),
        ("Hello {patient_name}", "no value for: patient_name"),
        ("Unclosed {patient_first_name", "does not parse"),
        ("Stray } brace", "does not parse"),
        ("{0}", "not a variable name"),
        ("{date!r}", "without format or conversion"),
        ("{date:>10}", "without format or conversion"),
        ("{patient_first_name.upper}", "not a variable name"),
    ],
)
def test_render_refuses(text: str, error: str) -> None:
    with pytest.raises(TemplateError, match=error):
        render(text, VALUES)


def test_variables_of() -> None:
    assert variables_of("{date} at {time}, {{not}} {date}") == {"date", "time"}
    assert variables_of("plain") == set()
