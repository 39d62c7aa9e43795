"""Email to people without the app (``docs/push.md``), through the
notification outbox: that a message from their practitioner waits, that an
appointment was cancelled or moved, or a reminder of an appointment; and,
to the account's own address (``docs/accounts.md``), a password reset link
or the news that its password or second factor changed.

An email crosses mail servers nobody here runs, in clear, and sits in a
mailbox others may read: it names no one and quotes nothing (no
practitioner, no word of a message, no reason for a visit). A reminder says
only the day and the hour. The text is in the person's language first, the
other one beside it.

The outbox hands each entry over at least once; an email keeps a Message-ID
made from the entry's id, so a retried one is recognisably the same email.
A temporary failure (the server unreachable, a ``4yz`` reply, a refused
login) raises ``MailUnavailable`` and the outbox tries again later; a
``5yz`` refusal of the recipient or of the email itself is logged and
dropped, since trying again will not change the answer (RFC 5321 §4.2.1).
"""

from __future__ import annotations

import enum
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiosmtplib

from protocol.texts import DEFAULT_LOCALE, Locale, locale_of
from server.auth import hash_token
from server.clock import Clock
from server.context import Context
from server.ops.agenda import decode_settings
from server.policy.zones import find_zone
from server.preferences import load_preferences
from server.reminders import REMINDER
from server.settings import Settings, SettingsError
from storage import Store
from storage.account_audit import ALERTED, SECURITY
from storage.erasure import DELETED

__all__ = [
    "EMAIL",
    "PASSWORD_RESET",
    "About",
    "Letter",
    "MailGateway",
    "MailUnavailable",
    "Recipients",
    "Security",
    "StoredRecipients",
    "Topic",
    "about",
    "compose",
    "letter",
    "refused_for_good",
]

log = logging.getLogger(__name__)
EMAIL = "email"  # the outbox kind of "a message waits" and "an appointment changed"
PASSWORD_RESET = "password_reset"  # the outbox kind of a reset link
DEFAULT_ZONE = "Europe/Paris"  # an agenda's, until its practitioner sets one
PARIS = ZoneInfo(DEFAULT_ZONE)
TIMEOUT_S = 30


class MailUnavailable(Exception):
    """The mail server could not take the email now: the outbox tries again."""


class Security(enum.StrEnum):
    STARTTLS = "starttls"  # required: no STARTTLS offered, no email (nor password) sent
    TLS = "tls"  # implicit TLS from the first byte (port 465)
    NONE = "none"  # a relay on the same host or network only


class Topic(enum.Enum):
    MESSAGE = "message"
    APPOINTMENT = "appointment"  # cancelled or moved: which, and when, the app tells
    REMINDER = "reminder"
    PASSWORD_RESET = "password_reset"
    SECURITY = "security"  # a password or a second factor changed


@dataclass(frozen=True, slots=True)
class About:
    """What an outbox entry asks an email to say."""

    topic: Topic
    starts_at: int = 0  # a reminder's appointment, ms UTC
    practitioner: int = 0  # whose agenda's time zone tells the hour
    reset_token: str = ""  # a reset link's secret
    valid_minutes: int = 0  # how long the link works
    change: str = ""  # what changed in the account (``storage.account_audit.ALERTED``)
    to: str = ""  # the address the entry carries (an account deleted has none left)


@dataclass(frozen=True, slots=True)
class Letter:
    subject: str
    text: str


class Recipients(Protocol):
    async def address(self, user_id: int) -> tuple[str | None, str]:
        """A person's email address (None: they gave none) and language."""

    async def recovery_address(self, user_id: int) -> tuple[str | None, str]:
        """Where a password reset link goes (None: nowhere), and the language."""

    async def reset_usable(self, token: str) -> bool:
        """Whether a reset link still opens anything (not spent, replaced,
        voided by a new password or a deactivation, nor expired)."""

    async def time_zone(self, practitioner_id: int) -> str:
        """The time zone of a practitioner's agenda (their appointments' hours)."""


class StoredRecipients:
    """``Recipients`` from the database: notification preferences, the
    account's language, the agenda's settings."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def address(self, user_id: int) -> tuple[str | None, str]:
        preferences = await load_preferences(self.store, user_id)
        locale = await self.store.accounts.locale(user_id)
        return preferences.email, locale or DEFAULT_LOCALE

    async def recovery_address(self, user_id: int) -> tuple[str | None, str]:
        email = await self.store.accounts.email(user_id)
        return email, await self.store.accounts.locale(user_id) or DEFAULT_LOCALE

    async def reset_usable(self, token: str) -> bool:
        return await self.store.password_resets.valid(hash_token(token), self.clock.ms())

    async def time_zone(self, practitioner_id: int) -> str:
        blob = await self.store.agendas.settings(practitioner_id)
        return DEFAULT_ZONE if blob is None else decode_settings(blob).time_zone


# Composition: pure.


def about(kind: str, body: Mapping[str, Any]) -> About | None:
    """What the outbox entry ``kind``/``body`` asks an email to say; None
    for an entry that is no email's business (or not one we can word)."""
    if kind == EMAIL:
        topic = body.get("kind")
        if topic in (Topic.MESSAGE.value, Topic.APPOINTMENT.value):
            return About(Topic(topic))
        return None
    if kind == PASSWORD_RESET:
        token, minutes = body.get("token"), body.get("minutes")
        if isinstance(token, str) and isinstance(minutes, int):
            return About(Topic.PASSWORD_RESET, reset_token=token, valid_minutes=minutes)
        return None
    if kind == SECURITY:
        change, to = body.get("action"), body.get("to")
        if change == DELETED and isinstance(to, str):
            return About(Topic.SECURITY, change=change, to=to)
        return About(Topic.SECURITY, change=change) if change in ALERTED else None
    if kind == REMINDER:
        starts_at, practitioner = body.get("starts_at"), body.get("practitioner")
        if isinstance(starts_at, int) and isinstance(practitioner, int):
            return About(Topic.REMINDER, starts_at, practitioner)
    return None


_TEXTS: dict[Locale, dict[str, str]] = {
    Locale.FR: {
        "subject.message": "Nouveau message sur carehub",
        "subject.appointment": "Rendez-vous modifié sur carehub",
        "subject.reminder": "Rappel de rendez-vous carehub",
        "subject.password_reset": "Réinitialisation de votre mot de passe carehub",
        "password_reset": (
            "Pour choisir un nouveau mot de passe, ouvrez ce lien dans les {minutes} minutes."
            " Il ne sert qu'une fois. Si vous n'avez rien demandé, ignorez cet e-mail :"
            " votre mot de passe ne change pas."
        ),
        "reset_link": "Nouveau mot de passe : {url}/#reset={token}",
        "reset_code": "Votre code de réinitialisation : {token}",
        "subject.security": "Sécurité de votre compte carehub",
        "security.password_changed": "Le mot de passe de votre compte carehub vient d'être changé.",
        "security.password_reset": (
            "Le mot de passe de votre compte carehub vient d'être réinitialisé par un lien"
            " envoyé à cette adresse."
        ),
        "security.totp_enabled": (
            "La double authentification vient d'être activée sur votre compte carehub."
        ),
        "security.totp_disabled": (
            "La double authentification vient d'être désactivée sur votre compte carehub."
        ),
        "security.totp_reset": (
            "Un administrateur vient de retirer la double authentification de votre compte carehub."
        ),
        "security.not_you": (
            "Si ce n'est pas vous, réinitialisez votre mot de passe dès maintenant et prévenez"
            " l'administrateur de votre service."
        ),
        "security.deleted": (
            "Votre compte carehub vient d'être supprimé : vos appareils et vos réglages sont"
            " effacés. Vos soignants gardent les conversations que vous avez eues avec eux,"
            " comme le veut leur dossier médical."
        ),
        "security.not_you_deleted": (
            "Si ce n'est pas vous, prévenez dès maintenant l'administrateur de votre service."
        ),
        "message": "Vous avez un nouveau message de votre praticien sur carehub.",
        "appointment": "Un de vos rendez-vous a été annulé ou déplacé.",
        "reminder": "Rappel : vous avez un rendez-vous le {date} à {time}.",
        "open": "Ouvrir carehub : {url}",
        "footer": (
            "Cet e-mail est envoyé automatiquement, n'y répondez pas. Pour ne plus en"
            " recevoir, retirez votre adresse des réglages de notification de carehub."
        ),
    },
    Locale.EN: {
        "subject.message": "New message on carehub",
        "subject.appointment": "Appointment changed on carehub",
        "subject.reminder": "carehub appointment reminder",
        "subject.password_reset": "Reset your carehub password",
        "password_reset": (
            "To choose a new password, open this link within {minutes} minutes."
            " It works once. If you did not ask for it, ignore this email:"
            " your password does not change."
        ),
        "reset_link": "New password: {url}/#reset={token}",
        "reset_code": "Your reset code: {token}",
        "subject.security": "Your carehub account's security",
        "security.password_changed": "Your carehub account's password was just changed.",
        "security.password_reset": (
            "Your carehub account's password was just reset by a link sent to this address."
        ),
        "security.totp_enabled": "Two-factor authentication was just turned on for your account.",
        "security.totp_disabled": (
            "Two-factor authentication was just turned off for your carehub account."
        ),
        "security.totp_reset": (
            "An administrator just removed two-factor authentication from your carehub account."
        ),
        "security.not_you": (
            "If this was not you, reset your password now and tell your service's administrator."
        ),
        "security.deleted": (
            "Your carehub account was just deleted: your devices and settings are erased. Your"
            " practitioners keep the conversations you had with them, as their medical record"
            " requires."
        ),
        "security.not_you_deleted": "If this was not you, tell your service's administrator now.",
        "message": "You have a new message from your practitioner on carehub.",
        "appointment": "One of your appointments was cancelled or moved.",
        "reminder": "Reminder: you have an appointment on {date} at {time}.",
        "open": "Open carehub: {url}",
        "footer": (
            "This email was sent automatically; please do not reply. To stop these"
            " emails, remove your address from carehub's notification settings."
        ),
    },
}
_DAYS = {
    Locale.FR: ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    Locale.EN: ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    Locale.FR: (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    Locale.EN: (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def letter(what: About, locale: str, url: str, zone: ZoneInfo = PARIS) -> Letter:
    """The email's words, in ``locale``'s language first, the other after;
    a reminder's hour in ``zone`` (its agenda's), ``url`` to open the app."""
    first = locale_of(locale)
    order = (first, *(other for other in Locale if other is not first))
    subject = " / ".join(_TEXTS[language][f"subject.{what.topic.value}"] for language in order)
    text = "\n\n\n".join(_paragraphs(what, language, url, zone) for language in order)
    return Letter(subject, text + "\n")


def _paragraphs(what: About, language: Locale, url: str, zone: ZoneInfo) -> str:
    texts = _TEXTS[language]
    if what.topic is Topic.PASSWORD_RESET:
        return _reset(what, texts, url)
    if what.topic is Topic.SECURITY:  # no footer: it cannot be turned off but with the address
        not_you = texts[
            "security.not_you" if what.change != DELETED else "security.not_you_deleted"
        ]
        return f"{texts[f'security.{what.change}']}\n{not_you}"
    said = texts[what.topic.value]
    if what.topic is Topic.REMINDER:
        when = datetime.fromtimestamp(what.starts_at / 1000, zone)
        said = said.format(date=_date(when, language), time=_time(when, language))
    if url:
        said += "\n" + texts["open"].format(url=url)
    return f"{said}\n\n{texts['footer']}"


def _reset(what: About, texts: dict[str, str], url: str) -> str:
    """The link, in a fragment (``#reset=``): a browser sends no fragment to
    any server, so the secret stays out of access logs and ``Referer``.
    Without a public URL, the code alone, for the app to take."""
    said = texts["password_reset"].format(minutes=what.valid_minutes)
    where = texts["reset_link"] if url else texts["reset_code"]
    return f"{said}\n{where.format(url=url.rstrip('/'), token=what.reset_token)}"


def _date(when: datetime, language: Locale) -> str:
    """``mardi 31 mars 2026`` (``1er`` of a first), ``Tuesday 31 March 2026``."""
    weekday, month = _DAYS[language][when.weekday()], _MONTHS[language][when.month - 1]
    day = "1er" if language is Locale.FR and when.day == 1 else str(when.day)
    return f"{weekday} {day} {month} {when.year}"


def _time(when: datetime, language: Locale) -> str:
    return f"{when.hour} h {when.minute:02d}" if language is Locale.FR else f"{when:%H:%M}"


def compose(
    words: Letter, *, sender: str, to: str, notification_id: int, now: datetime
) -> EmailMessage:
    """One plain-text UTF-8 email, with the headers an automatic email carries."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = words.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = _message_id(notification_id, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no automatic replies to it
    message["Content-Language"] = "fr, en"  # RFC 3282
    message.set_content(words.text)
    return message


def _message_id(notification_id: int, sender: str) -> str:
    """The same for every attempt at one outbox entry (RFC 5322 §3.6.4)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification_id}.carehub@{domain}>"


# Sending.


class MailGateway:
    """The outbox's gateway for emails, over SMTP (the ``smtp_*`` settings).

    One connection per email: a person gets few, and nothing is held open
    between them for a server to time out.
    """

    def __init__(
        self,
        settings: Settings,
        recipients: Recipients,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tls_context``: the CAs a server's certificate is checked
        against; by default the system's."""
        self.settings = settings
        self.recipients = recipients
        self.security = _security(settings.smtp_security)
        self.tls_context = tls_context
        self.sender = parseaddr(settings.smtp_from)[1]

    @classmethod
    def from_settings(cls, ctx: Context) -> MailGateway | None:
        """The deployment's gateway; None when no SMTP host is set."""
        if not ctx.settings.smtp_host:
            return None
        return cls(ctx.settings, StoredRecipients(ctx.store, ctx.clock))

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        what = about(kind, body)
        if what is None:
            log.warning("notification %d: %s is not an email's business", notification_id, kind)
            return
        own = what.topic in (Topic.PASSWORD_RESET, Topic.SECURITY)  # to the account's address
        recipients = self.recipients
        if what.topic is Topic.PASSWORD_RESET and not await recipients.reset_usable(
            what.reset_token
        ):
            log.info("notification %d: a reset link voided before it was sent", notification_id)
            return
        to, locale = await (recipients.recovery_address if own else recipients.address)(user_id)
        to = what.to or to
        if to is None:
            log.info("notification %d: user %d gave no email address", notification_id, user_id)
            return
        zone = await self._zone(what.practitioner) if what.topic is Topic.REMINDER else PARIS
        words = letter(what, locale, self.settings.public_url, zone)
        sender, now = self.settings.smtp_from, datetime.now(UTC)
        message = compose(words, sender=sender, to=to, notification_id=notification_id, now=now)
        await self._send(message, to, (notification_id, user_id))

    async def close(self) -> None:
        """Nothing to release: no connection outlives its email."""

    async def _zone(self, practitioner_id: int) -> ZoneInfo:
        return find_zone(await self.recipients.time_zone(practitioner_id)) or PARIS

    async def _send(self, message: EmailMessage, to: str, who: tuple[int, int]) -> None:
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                sender=self.sender,
                recipients=[to],
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user or None,
                password=settings.smtp_password if settings.smtp_user else None,
                use_tls=self.security is Security.TLS,
                start_tls=self.security is Security.STARTTLS,
                tls_context=self.tls_context,
                timeout=TIMEOUT_S,
            )
        except aiosmtplib.SMTPException as error:
            if refused_for_good(error):
                log.warning("notification %d for user %d: refused for good: %s", *who, error)
                return
            raise MailUnavailable(str(error)) from error
        except OSError as error:  # a TLS handshake or a socket that failed
            raise MailUnavailable(repr(error)) from error


def refused_for_good(error: aiosmtplib.SMTPException) -> bool:
    """A ``5yz`` reply to RCPT (no such mailbox) or to DATA (the email
    itself refused); anything else may pass later, or once an operator fixed
    the settings (a refused login or sender)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in error.recipients)
    refusals = (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)
    return isinstance(error, refusals) and error.code >= 500


def _security(value: str) -> Security:
    try:
        return Security(value)
    except ValueError:
        choices = ", ".join(repr(s.value) for s in Security)
        raise SettingsError(f"smtp_security must be one of {choices}, got {value!r}") from None
