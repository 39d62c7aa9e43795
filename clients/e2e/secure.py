"""The end-to-end layer of the SDK, over a ``Client``.

    keys = Keystore.create(creds.user_id, creds.device_id, with_identity=True)
    async with Client(url, creds) as client:
        secure = Secure(client, keys)
        await secure.setup()                      # publish this device
        await secure.send(thread, "Renewal please", reason="prescription_renewal")
        opened = await secure.open(event.data)     # a message.new event's data
        print(opened.body.text)

Every message body and document is encrypted on this device; the server
relays ciphertext, wrapped keys and the routing header only. Errors are the
typed ``E2EError`` family; plaintext is returned only after every check.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from clients.client import Client, ClientEvent
from clients.e2e.crypto import digest
from clients.e2e.devices import DEVICE_LIFETIME_MS, entry_for
from clients.e2e.documents import decrypt_document, encrypt_document
from clients.e2e.envelope import Opened, Outgoing, open_envelope, seal_envelope
from clients.e2e.keystore import Keystore
from clients.e2e.safety import safety_number
from clients.e2e.sender_keys import OwnSenderKey, new_sender_key, open_sender_key
from clients.errors import (
    CallError,
    IdentityChanged,
    NotAnEnvelope,
    UnknownDevice,
    UntrustedDevices,
)
from protocol.e2e import (
    SENDER_KEYS_ABOVE,
    AnyHeader,
    Body,
    Delegate,
    DeviceEntry,
    DeviceList,
    DocumentRef,
    GroupHeader,
    Scope,
    decode_envelope,
)
from protocol.errors import DecodeError, ErrorCode
from protocol.methods import (
    AttachmentBeginParams,
    AttachmentChunkParams,
    AttachmentFileParams,
    AttachmentReadParams,
    KeysFetchParams,
    KeysPublishParams,
    KeysSenderKeyParams,
    SendResult,
)
from protocol.model import MessageData
from protocol.practice import (
    BroadcastParams,
    BroadcastResult,
    Notice,
    Template,
    decode_notice,
)
from protocol.templates import render

__all__ = ["Secure"]


RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000  # renew this device's entry in its last month


def _now_ms() -> int:
    return int(time.time() * 1000)


class Secure:
    def __init__(
        self,
        client: Client,
        keys: Keystore,
        *,
        clock: Callable[[], int] = _now_ms,
        sender_keys_above: int = SENDER_KEYS_ABOVE,
    ) -> None:
        """``sender_keys_above``: threads with more devices than this get
        version 2 envelopes (one sender key distributed per thread and
        device, not a key sealed per device in every message)."""
        self.client = client
        self.keys = keys
        self._clock = clock
        self._members: dict[int, list[int]] = {}
        self._sender_keys_above = sender_keys_above
        self._own_keys: dict[int, OwnSenderKey] = {}  # thread -> this device's sender key
        self._sender_keys: dict[tuple[int, int, bytes], bytes] = {}  # verified, by who sent

    async def call(self, method: str, params: Any = None, *, timeout: float = 30.0) -> Any:
        """Any other call, on the same socket (``Client.call``)."""
        return await self.client.call(method, params, timeout=timeout)

    async def next_event(self, *types: str, timeout: float = 10.0) -> ClientEvent:
        return await self.client.next_event(*types, timeout=timeout)

    # -- devices -----------------------------------------------------------

    async def setup(self) -> None:
        """Trust our own published list; on a device holding the identity key,
        publish this device if the list does not have it yet."""
        me = self.keys.user
        mine = await self._fetch([me])
        fresh_until = self._clock() + RENEW_BEFORE_MS
        listed = me in mine and any(
            e.device == self.keys.device.device and e.expires > fresh_until
            for e in mine[me].devices
        )
        if not listed and self.keys.identity is not None:
            entry = entry_for(self.keys.device.request(me), me, self._clock() + DEVICE_LIFETIME_MS)
            await self._publish(add=[entry])

    async def approve(self, request: bytes) -> int:
        """Add a new device of ours, from the request it shows (a QR code)."""
        entry = entry_for(request, self.keys.user, self._clock() + DEVICE_LIFETIME_MS)
        return await self._publish(add=[entry])

    async def remove_device(self, device: int) -> int:
        """A new list without ``device``: it gets no key from now on."""
        return await self._publish(remove={device})

    async def delegate(self, user: int, scope: Iterable[Scope], expires: int | None = None) -> int:
        """Let an assistant of our practice act for us within ``scope``, until
        ``expires`` (ms) or until revoked. Replaces an earlier delegation to them."""
        text = ".".join(sorted(Scope(s).value for s in scope))
        return await self._publish(delegates=[Delegate(user, text, expires)])

    async def revoke_delegate(self, user: int) -> int:
        return await self._publish(drop_delegate=user)

    def acknowledge_identity(self, user: int) -> None:
        """The app showed ``user``'s new identity and the user accepted it."""
        self.keys.trust.acknowledge(user)

    def safety_number(self, user: int) -> str:
        mine = self.keys.trust.current(self.keys.user).identity_pk
        theirs = self.keys.trust.current(user).identity_pk
        return safety_number(self.keys.user, mine, user, theirs)

    async def refresh(self, users: Iterable[int]) -> None:
        """Fetch and verify ``users``' lists (after a ``keys.updated`` event)."""
        await self._fetch(users)

    # -- messages ----------------------------------------------------------

    async def send(
        self,
        thread: int,
        text: str = "",
        *,
        subject: str = "",
        documents: list[DocumentRef] | None = None,
        kind: str = "text",
        reason: str | None = None,
        reply_allowed: bool = True,
        close_thread: bool = False,
        acting_for: int | None = None,
    ) -> SendResult:
        body = Body(text=text, subject=subject, documents=documents or [])
        for attempt in range(2):
            try:
                recipients = await self._recipients(thread, fresh=attempt > 0)
                sealed = seal_envelope(
                    Outgoing(
                        thread=thread,
                        sender_user=self.keys.user,
                        body=body,
                        recipients=recipients,
                        kind=kind,
                        reason=reason,
                        acting_for=acting_for,
                        ts=self._clock(),
                    ),
                    self.keys.device,
                    await self._own_sender_key(thread, recipients, renew=attempt > 0),
                )
                return await self.client.send(
                    thread,
                    sealed.data,
                    kind=kind,
                    reason=reason,
                    reply_allowed=reply_allowed,
                    close_thread=close_thread,
                    client_msg_id=sealed.msg_id.hex(),
                )
            except CallError as refused:
                if refused.code != ErrorCode.STALE_DEVICES or attempt:
                    raise
        raise AssertionError("unreachable")

    async def send_template(
        self,
        thread: int,
        template: Template,
        values: Mapping[str, str],
        *,
        acting_for: int | None = None,
    ) -> SendResult:
        """Render ``template`` with ``values`` (every variable it names) and
        send it: one call, with the template's reply permission, and closing
        the thread if the template says so."""
        return await self.send(
            thread,
            render(template.text, values),
            reply_allowed=template.reply_allowed,
            close_thread=template.closes_thread,
            acting_for=acting_for,
        )

    async def broadcast(
        self, patients: list[int], text: str, *, reason: str | None = None
    ) -> BroadcastResult:
        """Send ``text`` to each of ``patients`` in a thread of its own that
        takes no reply (a practitioner's campaign). Returns the threads, and
        the patients skipped and why (not a patient, opted out)."""
        result: BroadcastResult = await self.call(
            "broadcasts.create", BroadcastParams(patients, reason)
        )
        for reached in result.threads:
            await self.send(reached.thread, text, reply_allowed=False)
        return result

    async def read(self, message: MessageData) -> Opened | Notice:
        """A person's message verified and decrypted, or a server notice
        (an auto-reply, a closing: ``kind`` "notice", never encrypted)."""
        if message.sender_device is None:
            return decode_notice(message.envelope)
        return await self.open(message)

    async def open(self, message: MessageData) -> Opened:
        """Verify and decrypt a stored or pushed message."""
        if message.sender_device is None:
            raise NotAnEnvelope("a server notice, not an envelope: use read()")
        header = None
        with contextlib.suppress(DecodeError):  # open_envelope reports it
            header = decode_envelope(message.envelope)[1]
        signers = {message.sender}
        if header is not None and header.acting_for is not None:
            signers.add(header.acting_for)
        unknown = [user for user in signers if user not in self.keys.trust.lists]
        if unknown:
            await self._fetch(unknown)
        for attempt in range(2):
            try:
                return self._open(message, await self._sender_key(message, header))
            except UnknownDevice:
                if attempt:
                    raise
                await self._fetch([message.sender])  # a device newer than our copy
        raise AssertionError("unreachable")

    def _open(self, message: MessageData, sender_key: bytes | None) -> Opened:
        assert message.sender_device is not None  # open() turned notices away
        return open_envelope(
            message.envelope,
            me=self.keys.device,
            trust=self.keys.trust,
            thread=message.thread,
            sender_user=message.sender,
            sender_device=message.sender_device,
            now=self._clock(),
            first_time=lambda msg_id: self.keys.first_time(msg_id, message.id),
            sender_key=sender_key,
        )

    # -- sender keys -------------------------------------------------------

    async def _own_sender_key(
        self, thread: int, recipients: Mapping[int, bytes], *, renew: bool
    ) -> OwnSenderKey | None:
        """The key this device seals ``thread``'s messages with, if the thread
        has more devices than a version 1 envelope should carry: the current
        one while it was sealed to exactly ``recipients`` (devices and their
        keys), else a new one, distributed first."""
        if len(recipients) <= self._sender_keys_above:
            return None
        current = self._own_keys.get(thread)
        if current is not None and not renew and current.devices == recipients:
            return current
        own, distribution = new_sender_key(
            thread, self.keys.user, self.keys.device, recipients, self._clock()
        )
        await self.client.call("keys.distribute", distribution, idempotent=True)
        self._own_keys[thread] = own
        return own

    async def _sender_key(self, message: MessageData, header: AnyHeader | None) -> bytes | None:
        """The verified sender key a version 2 envelope names, fetched once;
        None for a version 1 envelope or a key never sealed to this device."""
        if not isinstance(header, GroupHeader) or message.sender_device is None:
            return None
        held = (message.thread, message.sender_device, header.sender_key)
        if held not in self._sender_keys:
            params = KeysSenderKeyParams(*held)
            try:
                found = await self.client.call("keys.sender_key", params, idempotent=True)
            except CallError as refused:
                if refused.code != ErrorCode.NOT_FOUND:
                    raise
                return None
            self._sender_keys[held] = open_sender_key(
                found.key,
                found.wrapped,
                me=self.keys.device,
                trust=self.keys.trust,
                thread=message.thread,
                sender_user=message.sender,
                sender_device=message.sender_device,
                key_id=header.sender_key,
                now=self._clock(),
            )
        return self._sender_keys[held]

    # -- documents ---------------------------------------------------------

    async def upload(self, thread: int, data: bytes, name: str, mime: str) -> DocumentRef:
        """Encrypt and upload a document; put the result in ``send(documents=)``.
        Calling it again after a drop resumes where the server stopped."""
        key, ciphertext = encrypt_document(data)
        hashed = digest(ciphertext)
        began = await self.client.call(
            "attachments.begin", AttachmentBeginParams(thread, len(ciphertext), hashed)
        )
        offset = began.received
        while offset < len(ciphertext):
            piece = ciphertext[offset : offset + began.chunk_bytes]
            done = await self.client.call(
                "attachments.chunk", AttachmentChunkParams(began.file, offset, piece)
            )
            offset = done.received
        await self.client.call("attachments.finish", AttachmentFileParams(began.file))
        return DocumentRef(began.file, key, len(data), mime, name, hashed)

    async def download(self, ref: DocumentRef) -> bytes:
        """Fetch over the socket in chunks, check, decrypt."""
        parts: list[bytes] = []
        offset, size = 0, None
        while size is None or offset < size:
            got = await self.client.call(
                "attachments.read", AttachmentReadParams(ref.file, offset, 1 << 20), idempotent=True
            )
            size = got.size
            if not got.data:
                break
            parts.append(got.data)
            offset += len(got.data)
        return decrypt_document(b"".join(parts), ref.key, ref.hash)

    async def download_http(self, base_url: str, ref: DocumentRef) -> bytes:
        """The same over HTTP with the bearer token (large files, range-capable)."""
        headers = {"authorization": f"Bearer {self.client.credentials.token}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            response = await http.get(f"/v1/files/{ref.file}", headers=headers)
        if response.status_code != 200:
            raise CallError(ErrorCode.NOT_FOUND, f"download refused ({response.status_code})")
        return decrypt_document(response.content, ref.key, ref.hash)

    # -- internals ---------------------------------------------------------

    async def _fetch(self, users: Iterable[int]) -> dict[int, DeviceList]:
        wanted = sorted(set(users))
        found = await self.client.call("keys.fetch", KeysFetchParams(wanted), idempotent=True)
        accepted = {}
        for published in found.lists:
            accepted[published.user] = self.keys.trust.accept(published.user, published.list)
        return accepted

    async def _publish(
        self,
        *,
        add: list[DeviceEntry] | None = None,
        remove: set[int] | None = None,
        delegates: list[Delegate] | None = None,
        drop_delegate: int | None = None,
    ) -> int:
        identity = self.keys.identity
        if identity is None:
            raise UntrustedDevices("only a device holding the identity key can change the list")
        me = self.keys.user
        try:
            current: DeviceList | None = self.keys.trust.current(me)
        except UntrustedDevices:
            current = None
        devices = [
            e
            for e in (current.devices if current else [])
            if e.device not in (remove or set()) and all(e.device != a.device for a in add or [])
        ] + list(add or [])
        kept = [
            d
            for d in (current.delegates if current else [])
            if d.user != drop_delegate and all(d.user != n.user for n in delegates or [])
        ] + list(delegates or [])
        version = (current.version if current else 0) + 1
        signed = identity.sign_list(me, version, self._clock(), devices, kept)
        await self.client.call("keys.publish", KeysPublishParams(signed))
        self.keys.trust.accept(me, signed)
        return version

    async def _recipients(self, thread: int, *, fresh: bool) -> dict[int, bytes]:
        members = await self._thread_members(thread, fresh=fresh)
        trust = self.keys.trust
        unknown = [u for u in members if u not in trust.lists]
        if fresh or unknown:
            await self._fetch(members if fresh else unknown)
        now = self._clock()
        delegates = {
            d.user for u in members for d in trust.current(u).delegates if d.allows(Scope.READ, now)
        }
        missing = [u for u in delegates if u not in trust.lists or fresh]
        if missing:
            await self._fetch(missing)
        recipients: dict[int, bytes] = {}
        for user in (*members, *delegates):
            if user in trust.held:
                raise IdentityChanged(user)
            for entry in trust.current(user).devices:
                if entry.expires > now:
                    recipients[entry.device] = entry.enc_pk
        return recipients

    async def _thread_members(self, thread: int, *, fresh: bool) -> list[int]:
        if fresh or thread not in self._members:
            for info in (await self.client.call("threads.list", idempotent=True)).threads:
                self._members[info.id] = [m.user for m in info.members]
        if thread not in self._members:
            raise CallError(ErrorCode.FORBIDDEN, f"you are not a member of thread {thread}")
        return self._members[thread]
