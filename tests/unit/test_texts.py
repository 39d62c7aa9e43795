"""The catalogues: French and English say the same things with the same
parameters, every code the wire can carry has words, counts pick a form."""

from __future__ import annotations

import pytest

from protocol.account import AccountRefusal
from protocol.booking import BookingRefusal
from protocol.errors import ErrorCode
from protocol.practice import INAPPROPRIATE_REQUEST, NoticeKind, RefusalReason, builtin_template
from protocol.texts import CATALOGUES, Locale, locale_of, placeholders, render


def test_both_languages_have_the_same_codes_and_parameters() -> None:
    french, english = CATALOGUES[Locale.FR], CATALOGUES[Locale.EN]
    assert french.keys() == english.keys()
    differ = [code for code in french if placeholders(french[code]) != placeholders(english[code])]
    assert differ == []


@pytest.mark.parametrize(
    "code",
    [
        *(
            f"refusal.{reason.value}"
            for reason in (*RefusalReason, *BookingRefusal, *AccountRefusal)
        ),
        *(f"error.{code.value}" for code in ErrorCode),
        *(f"notice.{kind.value}" for kind in NoticeKind),
    ],
)
def test_every_code_on_the_wire_has_words(code: str) -> None:
    for locale in Locale:
        assert render(locale, code).strip()


def test_counts_pick_their_form_and_missing_parameters_stay_visible() -> None:
    assert render("fr", "delay.days", count=1) == "1 jour"
    assert render("fr", "delay.days", count=3) == "3 jours"
    assert render("en", "delay.hours", count=1) == "1 hour"
    assert "{limit}" in render("en", "refusal.open_threads")  # a client's bug shows, not crashes
    assert "3" in render("fr", "refusal.open_threads", limit=3)


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("fr", Locale.FR),
        ("en-GB", Locale.EN),
        ("EN", Locale.EN),
        ("de", Locale.FR),
        (None, Locale.FR),
    ],
)
def test_a_locale_falls_back_to_french(asked: str | None, found: Locale) -> None:
    assert locale_of(asked) is found


def test_the_builtin_template_is_worded_in_each_language() -> None:
    french, english = (builtin_template(INAPPROPRIATE_REQUEST, locale) for locale in Locale)
    assert french.name == "Demande inappropriée" and english.name == "Inappropriate request"
    assert french.code == english.code == INAPPROPRIATE_REQUEST
    assert french.closes_thread and not french.reply_allowed and french.builtin
