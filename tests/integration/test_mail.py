"""Emails through a real SMTP server on loopback (aiosmtpd): what arrives,
and what it does not say; a reminder's hour in its agenda's time zone,
from the database; STARTTLS against a certificate of the test's own CA, and
a login; implicit TLS; and what the gateway makes of the server's answers
(a temporary one is raised for the outbox to retry, a final refusal is
logged and dropped)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocol.booking import AgendaSettings
from protocol.push import NotifyPreferences
from server.auth import hash_token
from server.clock import Clock
from server.context import Context
from server.mail import EMAIL, PASSWORD_RESET, MailGateway, MailUnavailable, StoredRecipients
from server.reminders import REMINDER
from server.settings import Settings
from storage import Store
from tests.support.server import free_port

URL = "https://care.example.fr"
SENDER = "carehub <no-reply@care.example.fr>"
PASSWORD = "correct horse battery staple"
ALICE, BOB, NOBODY, BUSY, GONE = 11, 12, 13, 14, 15
PEOPLE = {
    ALICE: ("alice@example.org", "fr"),
    BOB: ("bob@example.org", "en"),
    NOBODY: (None, "fr"),
    BUSY: ("busy@example.org", "fr"),
    GONE: ("gone@example.org", "fr"),
}
# What must never reach a mailbox: a practitioner's name, a message's words.
PRACTITIONER = "Dr Sabine Marchand"
SECRET_WORDS = "résultats de la biopsie"


# A mail server on loopback.


@dataclass(frozen=True)
class Delivered:
    mail_from: str | None
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool

    @property
    def text(self) -> str:
        return str(self.message.get_content())


@dataclass
class Mailbox:
    """Keeps what it accepts; ``busy@`` is told to try later (451) and
    ``gone@`` that there is no such mailbox (550)."""

    port: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    arrivals: asyncio.Queue[Delivered] = field(default_factory=asyncio.Queue)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("busy@"):
            return "451 4.2.1 Mailbox busy, try again later"
        if address.startswith("gone@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        got = Delivered(envelope.mail_from, list(envelope.rcpt_tos), message, bool(session.ssl))
        self.delivered.append(got)
        self.arrivals.put_nowait(got)
        return "250 Message accepted"

    async def next(self, timeout: float = 10) -> Delivered:
        """The next email to arrive."""
        return await asyncio.wait_for(self.arrivals.get(), timeout)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((mechanism, login, password))
        return AuthResult(success=password == PASSWORD, handled=False)  # False: a 535


@contextlib.asynccontextmanager
async def mail_server(
    implicit_tls: ssl.SSLContext | None = None, **options: Any
) -> AsyncIterator[Mailbox]:
    """A server on a free loopback port, in this test's event loop."""
    mailbox = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            mailbox, hostname="mail.test", authenticator=mailbox.authenticate, loop=loop, **options
        ),
        "127.0.0.1",
        0,
        ssl=implicit_tls,
    )
    mailbox.port = server.sockets[0].getsockname()[1]
    async with server:
        yield mailbox


# Certificates: a CA of the test's own, and the server's certificate from it.


@dataclass(frozen=True)
class Certificates:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts the test's CA, and nothing else


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _certificate("carehub test CA", ca_key, "carehub test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        _certificate("127.0.0.1", key, "carehub test CA", ca_key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    chain, key_file = folder / "server.pem", folder / "server.key"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return Certificates(server, client)


# The gateway.


@dataclass
class People:
    """``Recipients`` from a table: every agenda is in ``zone``."""

    zone: str = "Europe/Paris"

    async def address(self, user_id: int) -> tuple[str | None, str]:
        return PEOPLE[user_id]

    async def time_zone(self, practitioner_id: int) -> str:
        return self.zone


def gateway(
    mailbox: Mailbox | int,
    security: str = "none",
    *,
    tls: ssl.SSLContext | None = None,
    **more: Any,
) -> MailGateway:
    port = mailbox if isinstance(mailbox, int) else mailbox.port
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,
        smtp_from=SENDER,
        public_url=URL,
        **more,
    )
    return MailGateway(settings, People(), tls_context=tls)


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def quiet_mail_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="server.mail"):
        yield caplog


# What arrives.


async def test_a_message_email_arrives_and_says_only_that_a_message_waits() -> None:
    async with mail_server() as mailbox:
        # An entry carrying more than it should still yields the fixed sentence only.
        body = {"kind": "message", "thread": 42, "text": SECRET_WORDS, "from": PRACTITIONER}
        await gateway(mailbox).deliver(7, ALICE, EMAIL, body)
    [got] = mailbox.delivered
    assert (got.mail_from, got.rcpt_tos) == ("no-reply@care.example.fr", ["alice@example.org"])
    message = got.message
    assert (message["From"], message["To"]) == (SENDER, "alice@example.org")
    assert message["Subject"] == "Nouveau message sur carehub / New message on carehub"
    assert message["Message-ID"] == "<notification-7.carehub@care.example.fr>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    text = got.text
    french = text.index("Vous avez un nouveau message de votre praticien sur carehub.")
    english = text.index("You have a new message from your practitioner on carehub.")
    assert french < text.index(f"Ouvrir carehub : {URL}") < english < text.index(URL, english)
    for secret in (SECRET_WORDS, "biopsie", PRACTITIONER, "Marchand", "42"):
        assert secret not in text and secret not in str(message["Subject"])


async def test_an_english_speaker_reads_english_first() -> None:
    async with mail_server() as mailbox:
        await gateway(mailbox).deliver(8, BOB, EMAIL, {"kind": "appointment"})
    [got] = mailbox.delivered
    assert got.message["Subject"] == (
        "Appointment changed on carehub / Rendez-vous modifié sur carehub"
    )
    english = got.text.index("One of your appointments was cancelled or moved.")
    assert english < got.text.index("Un de vos rendez-vous a été annulé ou déplacé.")


async def test_a_retried_email_is_recognisably_the_same() -> None:
    async with mail_server() as mailbox:
        mail = gateway(mailbox)
        await mail.deliver(9, ALICE, EMAIL, {"kind": "message"})
        await mail.deliver(9, ALICE, EMAIL, {"kind": "message"})
        await mail.deliver(10, ALICE, EMAIL, {"kind": "message"})
    ids = [got.message["Message-ID"] for got in mailbox.delivered]
    assert ids[0] == ids[1] != ids[2]


async def test_nothing_is_sent_without_an_address_nor_for_what_is_not_an_email(
    quiet_mail_logs: pytest.LogCaptureFixture,
) -> None:
    async with mail_server() as mailbox:
        mail = gateway(mailbox)
        await mail.deliver(11, NOBODY, EMAIL, {"kind": "message"})
        await mail.deliver(12, ALICE, "sms", {"kind": "message"})
        await mail.deliver(13, ALICE, EMAIL, {"kind": "invoice"})
    assert mailbox.delivered == []
    assert "user 13 gave no email address" in quiet_mail_logs.text
    assert "notification 12: sms is not an email's business" in quiet_mail_logs.text


@pytest.mark.parametrize(
    ("starts_at", "french", "english"),
    [
        # Paris on winter time (UTC+1), then, from 29 March 2026, on summer time (UTC+2).
        (datetime(2026, 3, 27, 8, 30, tzinfo=UTC), "le vendredi 27 mars 2026 à 9 h 30",
         "on Friday 27 March 2026 at 09:30"),
        (datetime(2026, 3, 30, 7, 30, tzinfo=UTC), "le lundi 30 mars 2026 à 9 h 30",
         "on Monday 30 March 2026 at 09:30"),
    ],
)  # fmt: skip
async def test_a_reminder_says_the_local_day_and_hour_across_summer_time(
    starts_at: datetime, french: str, english: str
) -> None:
    body = {"appointment": 5, "practitioner": 4, "starts_at": ms(starts_at), "minutes_before": 120}
    async with mail_server() as mailbox:
        await gateway(mailbox).deliver(14, ALICE, REMINDER, body)
    [got] = mailbox.delivered
    assert got.message["Subject"] == "Rappel de rendez-vous carehub / carehub appointment reminder"
    assert f"Rappel : vous avez un rendez-vous {french}." in got.text
    assert f"Reminder: you have an appointment {english}." in got.text


async def test_the_address_language_and_agenda_time_zone_come_from_the_database(
    database_factory: Any,
) -> None:
    store = Store(database_factory())
    await store.db.migrate()
    try:
        doctor = await store.accounts.create_user("smarchand", PRACTITIONER, "practitioner", "x", 0)
        patient = await store.accounts.create_user("bob", "Bob", "patient", "x", 0, locale="en")
        no_email = await store.accounts.create_user("carol", "Carol", "patient", "x", 0)
        preferences = NotifyPreferences(email="bob@example.org")
        await store.push.set_preferences(patient.id, msgspec.msgpack.encode(preferences), 0)
        agenda = AgendaSettings(time_zone="Indian/Reunion")  # UTC+4, all year
        await store.agendas.set_settings(doctor.id, msgspec.msgpack.encode(agenda), 0)
        starts_at = ms(datetime(2026, 6, 1, 6, 15, tzinfo=UTC))
        body = {"appointment": 5, "practitioner": doctor.id, "starts_at": starts_at}
        async with mail_server() as mailbox:
            settings = Settings(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none")
            mail = MailGateway(settings, StoredRecipients(store, Clock()))
            await mail.deliver(15, patient.id, REMINDER, body)
            await mail.deliver(16, no_email.id, REMINDER, body)
    finally:
        await store.close()
    [got] = mailbox.delivered
    assert got.rcpt_tos == ["bob@example.org"]
    text = got.text
    assert text.startswith("Reminder: you have an appointment on Monday 1 June 2026 at 10:15.")
    assert "le lundi 1er juin 2026 à 10 h 15." in text
    for secret in (PRACTITIONER, "Marchand", "smarchand"):
        assert secret not in text


async def test_a_reset_link_voided_before_its_email_went_is_not_sent(database_factory: Any) -> None:
    store = Store(database_factory())
    await store.db.migrate()
    try:
        ana = await store.accounts.create_user("ana", "Ana", "patient", "x", 0, email="a@b.fr")
        now = Clock().ms()
        for token in ("first-link", "second-link"):  # the second voids the first
            entry = (PASSWORD_RESET, json.dumps({"token": token, "minutes": 30}).encode())
            await store.password_resets.request(ana.id, hash_token(token), now, now + 60_000, entry)
        async with mail_server() as mailbox:
            settings = Settings(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none")
            mail = MailGateway(settings, StoredRecipients(store, Clock()))
            for n, token in enumerate(("first-link", "second-link")):
                await mail.deliver(n, ana.id, PASSWORD_RESET, {"token": token, "minutes": 30})
    finally:
        await store.close()
    [got] = mailbox.delivered
    assert "second-link" in got.text


# TLS and login.


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_starttls_with_the_deployments_ca_then_a_login(
    certificates: Certificates, mechanism: str
) -> None:
    others = {"PLAIN": ["LOGIN"], "LOGIN": ["PLAIN"]}[mechanism]
    async with mail_server(
        tls_context=certificates.server,
        require_starttls=True,
        auth_required=True,
        auth_exclude_mechanism=others,
    ) as mailbox:
        mail = gateway(
            mailbox,
            "starttls",
            tls=certificates.client,
            smtp_user="carehub",
            smtp_password=PASSWORD,
        )
        await mail.deliver(17, ALICE, EMAIL, {"kind": "message"})
    assert mailbox.logins == [(mechanism, "carehub", PASSWORD)]
    [got] = mailbox.delivered
    assert got.over_tls and got.rcpt_tos == ["alice@example.org"]


async def test_a_refused_login_is_tried_again_later(certificates: Certificates) -> None:
    async with mail_server(
        tls_context=certificates.server, require_starttls=True, auth_required=True
    ) as mailbox:
        mail = gateway(
            mailbox, "starttls", tls=certificates.client, smtp_user="carehub", smtp_password="no"
        )
        with pytest.raises(MailUnavailable, match="535"):
            await mail.deliver(18, ALICE, EMAIL, {"kind": "message"})
    assert mailbox.delivered == []


async def test_implicit_tls(certificates: Certificates) -> None:
    async with mail_server(implicit_tls=certificates.server) as mailbox:
        await gateway(mailbox, "tls", tls=certificates.client).deliver(
            19, ALICE, EMAIL, {"kind": "message"}
        )
    [got] = mailbox.delivered
    assert got.rcpt_tos == ["alice@example.org"]


async def test_a_certificate_the_system_does_not_trust_is_refused(
    certificates: Certificates,
) -> None:
    async with mail_server(tls_context=certificates.server, require_starttls=True) as mailbox:
        with pytest.raises(MailUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            await gateway(mailbox, "starttls").deliver(20, ALICE, EMAIL, {"kind": "message"})
    assert mailbox.delivered == []


async def test_no_email_goes_in_clear_when_starttls_is_not_offered() -> None:
    async with mail_server() as mailbox:
        mail = gateway(mailbox, "starttls", smtp_user="carehub", smtp_password=PASSWORD)
        with pytest.raises(MailUnavailable, match="STARTTLS"):
            await mail.deliver(21, ALICE, EMAIL, {"kind": "message"})
    assert mailbox.delivered == [] and mailbox.logins == []


# The server's answers.


async def test_a_busy_mailbox_is_tried_again_later() -> None:
    async with mail_server() as mailbox:
        with pytest.raises(MailUnavailable, match="451"):
            await gateway(mailbox).deliver(22, BUSY, EMAIL, {"kind": "message"})
    assert mailbox.delivered == []


async def test_a_mailbox_that_does_not_exist_is_logged_not_retried(
    quiet_mail_logs: pytest.LogCaptureFixture,
) -> None:
    async with mail_server() as mailbox:
        await gateway(mailbox).deliver(23, GONE, EMAIL, {"kind": "message"})
    assert mailbox.delivered == []
    [record] = [r for r in quiet_mail_logs.records if r.levelno == logging.WARNING]
    assert "notification 23 for user 15: refused for good" in record.getMessage()
    assert "550" in record.getMessage()


async def test_a_server_that_is_down_is_tried_again_later() -> None:
    with pytest.raises(MailUnavailable, match="connecting"):
        await gateway(free_port()).deliver(24, ALICE, EMAIL, {"kind": "message"})


# The deployment's gateway.


def test_a_deployment_without_an_smtp_host_has_no_mail_gateway() -> None:
    def context(settings: Settings) -> Context:
        return cast(Context, SimpleNamespace(settings=settings, store=None, clock=Clock()))

    assert MailGateway.from_settings(context(Settings())) is None
    made = MailGateway.from_settings(context(Settings(smtp_host="mail.example.fr")))
    assert isinstance(made, MailGateway)
