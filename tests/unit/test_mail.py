"""What an email says (pure): which outbox entries are an email's business,
the words in the person's language first, a reminder's hour in its agenda's
time zone (across a change of summer time), the headers of an automatic
email, and which SMTP refusals are final."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest

from server.mail import (
    EMAIL,
    About,
    Letter,
    MailGateway,
    Topic,
    about,
    compose,
    letter,
    refused_for_good,
)
from server.reminders import REMINDER
from server.settings import Settings, SettingsError

URL = "https://care.example.fr"
SENDER = "Cabinet carehub <no-reply@care.example.fr>"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        (EMAIL, {"kind": "message"}, About(Topic.MESSAGE)),
        (EMAIL, {"kind": "appointment"}, About(Topic.APPOINTMENT)),
        (EMAIL, {"kind": "invoice"}, None),
        (EMAIL, {}, None),
        (REMINDER, {"appointment": 9, "practitioner": 4, "starts_at": 1_000, "minutes_before": 120},
         About(Topic.REMINDER, 1_000, 4)),
        (REMINDER, {"appointment": 9, "practitioner": 4}, None),
        (REMINDER, {"practitioner": "4", "starts_at": 1_000}, None),
        ("push", {"device": 1, "thread": 2, "count": 1, "kind": "message"}, None),
        ("sms", {"kind": "message"}, None),
    ],
)  # fmt: skip
def test_which_entries_are_an_emails_business(
    kind: str, body: dict[str, object], expected: About | None
) -> None:
    assert about(kind, body) == expected


def test_a_message_email_says_french_first_then_english_and_links_to_the_app() -> None:
    words = letter(About(Topic.MESSAGE), "fr", URL)
    assert words.subject == "Nouveau message sur carehub / New message on carehub"
    french = words.text.index("Vous avez un nouveau message de votre praticien sur carehub.")
    english = words.text.index("You have a new message from your practitioner on carehub.")
    assert french < words.text.index(f"Ouvrir carehub : {URL}") < english
    assert english < words.text.index(f"Open carehub: {URL}")


@pytest.mark.parametrize("locale", ["en", "en-GB", "EN"])
def test_an_english_speaker_reads_english_first(locale: str) -> None:
    words = letter(About(Topic.APPOINTMENT), locale, URL)
    assert words.subject == ("Appointment changed on carehub / Rendez-vous modifié sur carehub")
    english = words.text.index("One of your appointments was cancelled or moved.")
    assert english < words.text.index("Un de vos rendez-vous a été annulé ou déplacé.")


def test_an_unknown_language_reads_french_first() -> None:
    words = letter(About(Topic.MESSAGE), "de", URL)
    assert words.subject.startswith("Nouveau message")


def test_without_a_public_url_there_is_no_link() -> None:
    text = letter(About(Topic.MESSAGE), "fr", "").text
    assert "Ouvrir carehub" not in text and "Open carehub" not in text
    assert "http" not in text


@pytest.mark.parametrize(
    ("starts_at", "french", "english"),
    [
        # Paris on winter time (UTC+1), then on summer time (UTC+2) from 29 March 2026.
        (datetime(2026, 3, 27, 8, 0, tzinfo=UTC), "le vendredi 27 mars 2026 à 9 h 00",
         "on Friday 27 March 2026 at 09:00"),
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), "le lundi 30 mars 2026 à 9 h 00",
         "on Monday 30 March 2026 at 09:00"),
        (datetime(2026, 10, 25, 13, 45, tzinfo=UTC), "le dimanche 25 octobre 2026 à 14 h 45",
         "on Sunday 25 October 2026 at 14:45"),
        # Midnight in Paris is the day before in UTC.
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "le vendredi 1er janvier 2027 à 0 h 30",
         "on Friday 1 January 2027 at 00:30"),
    ],
)  # fmt: skip
def test_a_reminder_says_the_day_and_hour_in_paris(
    starts_at: datetime, french: str, english: str
) -> None:
    words = letter(About(Topic.REMINDER, ms(starts_at), 4), "fr", URL)
    assert words.subject == "Rappel de rendez-vous carehub / carehub appointment reminder"
    assert f"Rappel : vous avez un rendez-vous {french}." in words.text
    assert f"Reminder: you have an appointment {english}." in words.text


def test_a_reminder_says_the_hour_in_its_agendas_time_zone() -> None:
    starts_at = ms(datetime(2026, 7, 1, 14, 0, tzinfo=UTC))
    words = letter(About(Topic.REMINDER, starts_at, 4), "en", URL, ZoneInfo("America/Montreal"))
    assert "on Wednesday 1 July 2026 at 10:00." in words.text
    assert "le mercredi 1er juillet 2026 à 10 h 00." in words.text


def test_the_email_is_plain_utf8_text_with_the_headers_of_an_automatic_email() -> None:
    words = letter(About(Topic.APPOINTMENT), "fr", URL)
    now = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    sent = compose(words, sender=SENDER, to="alice@example.org", notification_id=42, now=now)
    got = message_from_bytes(sent.as_bytes(), policy=policy.default)
    assert isinstance(got, EmailMessage)
    assert (got["From"], got["To"]) == (SENDER, "alice@example.org")
    assert got["Subject"] == words.subject  # non-ASCII, encoded (RFC 2047) and back
    assert parsedate_to_datetime(got["Date"]) == now
    assert got["Message-ID"] == "<notification-42.carehub@care.example.fr>"
    assert got["Auto-Submitted"] == "auto-generated"
    assert (got.get_content_type(), got.get_content_charset()) == ("text/plain", "utf-8")
    assert got.get_content() == words.text


def test_a_retried_email_keeps_its_message_id_and_another_gets_its_own() -> None:
    def sent(notification_id: int, day: int) -> EmailMessage:
        now = datetime(2026, 1, day, tzinfo=UTC)
        words = Letter("s", "t")
        return compose(words, sender=SENDER, to="a@b.fr", notification_id=notification_id, now=now)

    assert sent(7, 1)["Message-ID"] == sent(7, 2)["Message-ID"] != sent(8, 1)["Message-ID"]


def refused(code: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(code, "no", "a@b.fr")])


@pytest.mark.parametrize(
    ("error", "final"),
    [
        (refused(550), True),  # no such mailbox
        (refused(553), True),
        (refused(451), False),  # greylisting, a busy mailbox
        (refused(452), False),
        (aiosmtplib.SMTPDataError(554, "spam"), True),
        (aiosmtplib.SMTPDataError(451, "later"), False),
        (aiosmtplib.SMTPSenderRefused(550, "who?", "no-reply@x.fr"), False),  # fix the settings
        (aiosmtplib.SMTPAuthenticationError(535, "bad password"), False),
        (aiosmtplib.SMTPConnectError("refused"), False),
        (aiosmtplib.SMTPServerDisconnected("gone"), False),
        (aiosmtplib.SMTPResponseException(421, "closing"), False),
    ],
)
def test_only_a_5yz_refusal_of_the_recipient_or_the_email_is_final(
    error: aiosmtplib.SMTPException, final: bool
) -> None:
    assert refused_for_good(error) is final


class NoOne:
    async def address(self, user_id: int) -> tuple[str | None, str]:
        raise AssertionError("not called")

    async def time_zone(self, practitioner_id: int) -> str:
        raise AssertionError("not called")


def test_an_unknown_smtp_security_fails_at_start_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="smtp_security"):
        MailGateway(Settings(smtp_host="mail.example", smtp_security="ssl"), NoOne())
