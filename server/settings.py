"""Settings: defaults, overridden by ``CAREHUB_*`` environment variables,
overridden by CLI flags. Validated at start; a bad value names its key."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    pass


OFF_AT_ZERO = frozenset({"chat_retention_days"})  # 0 turns it off; else positive


@dataclass(frozen=True)
class Settings:
    db: str = "sqlite+aiosqlite:///carehub.db"
    host: str = "127.0.0.1"
    port: int = 8000
    migrate: bool = True  # bring the schema up to date at start
    # Limits, announced in ``welcome``.
    max_frame_bytes: int = 96 * 1024
    max_envelope_bytes: int = 64 * 1024
    ws_max_bytes: int = 1024 * 1024  # transport cap: above it the socket closes with 1009
    calls_per_second: float = 20.0
    call_burst: int = 60
    sends_per_second: float = 5.0
    send_burst: int = 30
    history_page: int = 200
    # Connections.
    heartbeat_seconds: float = 25.0
    hello_timeout_seconds: float = 10.0
    drain_seconds: float = 10.0  # SIGTERM: how long open sockets get to finish their call
    send_queue_bytes: int = 4 * 1024 * 1024  # a slower consumer is closed (4000)
    sockets_per_device: int = 8  # per node; a newer socket closes the oldest (4104)
    # Accounts and retention.
    token_ttl_seconds: int = 30 * 24 * 3600
    event_retention_seconds: int = 30 * 24 * 3600
    # Chat copies (messages' ciphertext, documents) older than this are
    # emptied, once filed where a thread has been filed by a records device
    # (docs/accounts.md, "Retention of chat copies": a thread never filed is
    # not held back); 0 keeps them. The record's retention is the practice's.
    chat_retention_days: int = 0
    open_registration: bool = True  # patients and practitioners may self-register
    password_hashes_at_once: int = 2  # argon2id: 64 MiB and a core each; more wait in line
    # A practitioner logs in with a TOTP code too (docs/accounts.md); one
    # without a second factor is asked to enrol one before any session opens.
    practitioners_need_totp: bool = False
    # An admin verifies a practitioner against the imported directory of
    # health professionals only (admin.verify with an RPPS number).
    practitioners_need_rpps: bool = False
    password_reset_ttl_seconds: int = 30 * 60  # a reset link works once, this long
    # Per client address (behind a proxy: uvicorn's --forwarded-allow-ips).
    logins_per_source_per_minute: float = 30.0  # a burst of as many, then this rate
    logins_per_username_per_minute: float = 10.0  # any check of a password (docs/accounts.md)
    registrations_per_source_per_hour: float = 20.0
    # Group commit: at most this many writes share one transaction.
    max_batch: int = 256
    # A receipt waits at most this long to join another write's transaction
    # before it is stored in one of its own (docs/architecture.md).
    receipts_wait_seconds: float = 0.02
    # Encrypted documents.
    blob_dir: str = "carehub-blobs"
    web_dir: str = ""  # the built web app served at /; empty: clients/web/dist
    # Web Push (docs/push.md): the VAPID key (made on first start; every node
    # must read the same file), who push services may contact about this
    # deployment, and the push services' origins a subscription may name
    # (a "*." host matches its subdomains; nothing else is ever called).
    push_key_file: str = "carehub-vapid.pem"
    push_poll_seconds: float = 0.1  # how often new messages are looked at for pushes
    push_contact: str = "mailto:admin@localhost"
    push_services: str = (
        "https://fcm.googleapis.com,https://updates.push.services.mozilla.com,"
        "https://web.push.apple.com,https://*.notify.windows.com"
    )
    # Mobile apps' pushes (docs/push.md): empty disables a platform.
    fcm_credentials_file: str = ""  # a Firebase service account's JSON key
    fcm_url: str = "https://fcm.googleapis.com"
    apns_key_file: str = ""  # the .p8 signing key of an APNs auth key
    apns_key_id: str = ""
    apns_team_id: str = ""
    apns_topic: str = ""  # the iOS app's bundle id
    apns_url: str = "https://api.push.apple.com"  # sandbox: https://api.sandbox.push.apple.com
    # Email (docs/push.md): empty host: emails are only logged.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # "starttls", "tls" (implicit, port 465) or "none"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "carehub <no-reply@localhost>"
    public_url: str = ""  # where people open the web app: the link in emails
    max_file_bytes: int = 25 * 1024 * 1024
    user_quota_bytes: int = 1024 * 1024 * 1024  # every document a user uploaded
    chunk_bytes: int = 64 * 1024  # the largest attachments.chunk / .read
    upload_ttl_seconds: int = 24 * 3600  # unfinished uploads are swept after this
    max_unfinished_uploads: int = 20  # per user: past it, attachments.begin is refused
    reminder_poll_seconds: float = 30.0  # how often due appointment reminders are sent
    # How long one node has to hand a notification (a push, an email) to its
    # service before another node may try it: longer than the slowest attempt
    # (a push times out after 10 s, an email after 30 s), and how late a node
    # that died holding one makes it.
    notification_claim_seconds: float = 60.0
    redis: str = ""  # a Redis URL: nodes sharing it (and one database) serve as one
    node_id: str = ""  # this node's name in Redis; default host-port
    node_timeout_seconds: float = 15.0  # a node silent this long is dead: its users go offline
    # Several nodes: each reads the event stream when woken, and at least this often.
    stream_poll_seconds: float = 0.25

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in OFF_AT_ZERO and value == 0:
                continue
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and not 0 < value < math.inf
            ):
                raise SettingsError(f"{field.name} must be positive and finite, got {value!r}")
        if self.max_envelope_bytes >= self.max_frame_bytes:
            raise SettingsError("max_envelope_bytes must be below max_frame_bytes")
        if self.chunk_bytes + 1024 > self.max_frame_bytes:
            raise SettingsError("chunk_bytes must leave 1 KiB of max_frame_bytes for the frame")
        if self.smtp_security not in {"starttls", "tls", "none"}:
            raise SettingsError("smtp_security must be starttls, tls or none")
        if self.max_frame_bytes > self.ws_max_bytes:
            raise SettingsError("max_frame_bytes must not exceed ws_max_bytes")

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults < ``CAREHUB_<NAME>`` variables < ``overrides`` (None values ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"CAREHUB_{field.name.upper()}")
            if raw is not None:
                values[field.name] = _parse(field, raw)
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(field: dataclasses.Field[Any], raw: str) -> Any:
    kind = type(field.default)
    try:
        if kind is bool:
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        return kind(raw)  # type: ignore[misc]
    except ValueError:
        raise SettingsError(
            f"CAREHUB_{field.name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from None
