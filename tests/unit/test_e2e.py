"""End-to-end encryption without a server: sealing, opening, and every
attack a relaying server (or a network) could try, each refused."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from clients.e2e import Body, DeviceKeys, Identity, Keystore, Outgoing, Trust
from clients.e2e.crypto import digest
from clients.e2e.devices import entry_for
from clients.e2e.documents import decrypt_document, encrypt_document
from clients.e2e.envelope import seal_envelope
from clients.e2e.safety import qr_payload, safety_number, verify_qr
from clients.errors import (
    BadCommitment,
    BadSignature,
    DecryptionFailed,
    DocumentTampered,
    IdentityChanged,
    NotDelegated,
    NotForThisDevice,
    Replay,
    Rollback,
    UnknownDevice,
    UntrustedDevices,
    WrongThread,
)
from protocol.e2e import (
    DOCUMENT_CHUNK,
    Delegate,
    DeviceEntry,
    Envelope,
    Header,
    Recipient,
    decode_envelope,
)
from tests.support.e2e_world import LATER, NOW, THREAD, Person, World


def reencode(data: bytes, **changes: object) -> bytes:
    """The envelope with some of its parts replaced (header fields or parts)."""
    envelope, header = decode_envelope(data)
    header_changes = {k: v for k, v in changes.items() if k in Header.__struct_fields__}
    parts = {k: v for k, v in changes.items() if k in Envelope.__struct_fields__}
    header_bytes = msgspec.msgpack.encode(msgspec.structs.replace(header, **header_changes))
    if header_changes:
        parts.setdefault("header", header_bytes)
    return msgspec.msgpack.encode(msgspec.structs.replace(envelope, **parts))


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def test_every_recipient_device_reads_the_same_message(world: World) -> None:
    sealed = world.seal("Could you renew my prescription?")
    for device in world.doctor.devices:
        opened = world.open(sealed, device=device)
        assert opened.body.text == "Could you renew my prescription?"
        assert opened.header.sender_user == world.patient.user
    assert world.open(sealed, device=world.patient.devices[0]).body.text.startswith("Could")
    assert b"prescription" not in sealed


def test_bodies_are_padded_so_lengths_tell_little(world: World) -> None:
    short, longer = world.seal("ok"), world.seal("x" * 200)
    assert len(decode_envelope(short)[0].body) == len(decode_envelope(longer)[0].body)


@pytest.mark.parametrize("part", ["header", "body", "sig"])
def test_a_flipped_bit_anywhere_is_refused(world: World, part: str) -> None:
    sealed = world.seal()
    envelope, _ = decode_envelope(sealed)
    original = getattr(envelope, part)
    for index in (0, len(original) // 2, len(original) - 1):
        tampered = msgspec.msgpack.encode(
            msgspec.structs.replace(envelope, **{part: flip(original, index)})
        )
        with pytest.raises((BadSignature, DecryptionFailed)):
            world.open(tampered)


@pytest.mark.parametrize("field_name", ["nonce", "commit", "ts", "kind", "thread", "v"])
def test_a_changed_header_field_breaks_the_signature(world: World, field_name: str) -> None:
    _, header = decode_envelope(world.seal())
    value = getattr(header, field_name)
    changed = (
        flip(value, 0)
        if isinstance(value, bytes)
        else (value + 1 if field_name != "kind" else "image")
    )
    with pytest.raises((BadSignature, DecryptionFailed)):
        world.open(reencode(world.seal(), **{field_name: changed}))


def wrapped_for(header: Header, device: int) -> bytes:
    return next(r.key for r in header.recipients if r.device == device)


def rewrapped(header: Header, device: int, key: bytes) -> list[Recipient]:
    """The header's recipients, with ``key`` in ``device``'s place."""
    return [Recipient(r.device, key if r.device == device else r.key) for r in header.recipients]


def test_a_flipped_wrapped_key_is_refused(world: World) -> None:
    sealed = world.seal()
    _, header = decode_envelope(sealed)
    me = world.doctor.devices[0].device
    recipients = rewrapped(header, me, flip(wrapped_for(header, me), 40))
    with pytest.raises(BadSignature):  # the header is signed
        world.open(reencode(sealed, recipients=recipients))


def test_a_wrapped_key_relabelled_to_another_device_is_refused(world: World) -> None:
    """Even a sender that signs it: the key was sealed to another device."""
    sealed = world.seal()
    _, header = decode_envelope(sealed)
    desk, phone = (keys.device for keys in world.doctor.devices)
    swapped = rewrapped(header, desk, wrapped_for(header, phone))
    resealed = _resign(world, sealed, recipients=swapped)
    with pytest.raises(DecryptionFailed):
        world.open(resealed, device=world.doctor.devices[0])


def _resign(world: World, sealed: bytes, **changes: object) -> bytes:
    """What a malicious *sender* could do: change the header and sign again."""
    from clients.e2e.crypto import sign
    from protocol.e2e import SIGNATURE_CONTEXT

    envelope, header = decode_envelope(sealed)
    header_bytes = msgspec.msgpack.encode(msgspec.structs.replace(header, **changes))
    signature = sign(
        world.patient.devices[0].sign, SIGNATURE_CONTEXT, header_bytes + digest(envelope.body)
    )
    return msgspec.msgpack.encode(Envelope(header_bytes, envelope.body, signature))


def test_different_content_keys_for_different_recipients_are_caught(world: World) -> None:
    """A sender wraps another key for one device: the commitment names one key."""
    from clients.e2e.crypto import seal

    sealed = world.seal()
    _, header = decode_envelope(sealed)
    phone = world.doctor.devices[1]
    other_key = bytes(range(32))
    recipients = rewrapped(header, phone.device, seal(other_key, bytes(phone.enc.public_key)))
    with pytest.raises(BadCommitment):
        world.open(_resign(world, sealed, recipients=recipients), device=phone)


def test_a_replayed_message_id_is_refused(world: World) -> None:
    seen: set[bytes] = set()
    sealed = world.seal()
    world.open(sealed, seen=seen)
    with pytest.raises(Replay):
        world.open(sealed, seen=seen)


def test_an_envelope_moved_to_another_thread_is_refused(world: World) -> None:
    with pytest.raises(WrongThread):
        world.open(world.seal(), thread=THREAD + 1)


def test_a_device_not_in_the_signed_list_is_refused(world: World) -> None:
    rogue = DeviceKeys.generate(99)
    message = Outgoing(THREAD, world.patient.user, Body(text="hi"), world.recipients)
    sealed = seal_envelope(message, rogue).data
    with pytest.raises(UnknownDevice):
        world.open(sealed, sender=(world.patient.user, 99))


def test_a_forged_sender_is_refused(world: World) -> None:
    """The doctor's device signs, the header claims the patient: either the
    server's sender disagrees, or the signature does not verify."""
    message = Outgoing(
        THREAD, world.patient.user, Body(text="stop your treatment"), world.recipients
    )
    doctor_device = world.doctor.devices[0]
    forged = seal_envelope(message, doctor_device).data
    with pytest.raises(BadSignature):
        world.open(forged, sender=(world.doctor.user, doctor_device.device))
    header_claims_patient = reencode(forged, sender_device=world.patient.devices[0].device)
    with pytest.raises(BadSignature):
        world.open(header_claims_patient)


def test_a_message_for_another_device_is_not_readable_here(world: World) -> None:
    stranger = DeviceKeys.generate(55)
    with pytest.raises(NotForThisDevice):
        world.open(world.seal(), device=stranger)


def test_acting_for_needs_a_delegation_in_the_signed_list(world: World) -> None:
    assistant = Person(3)
    device = assistant.add_device(31)
    world.trust.accept(3, assistant.signed_list())
    message = Outgoing(THREAD, 3, Body(text="for Dr"), world.recipients, acting_for=2)
    sealed = seal_envelope(message, device).data
    with pytest.raises(NotDelegated):
        world.open(sealed, sender=(3, 31), device=world.patient.devices[0])
    world.doctor.delegates = [Delegate(3, "read", LATER)]  # reading is not answering
    world.trust.accept(2, world.doctor.signed_list())
    with pytest.raises(NotDelegated):
        world.open(sealed, sender=(3, 31), device=world.patient.devices[0], seen=set())
    world.doctor.delegates = [Delegate(3, "read.reply", LATER)]
    world.trust.accept(2, world.doctor.signed_list())
    opened = world.open(sealed, sender=(3, 31), device=world.patient.devices[0], seen=set())
    assert (opened.header.acting_for, opened.body.text) == (2, "for Dr")
    world.doctor.delegates = [Delegate(3, "read.reply")]  # until revoked
    world.trust.accept(2, world.doctor.signed_list())
    world.open(sealed, sender=(3, 31), device=world.patient.devices[0], seen=set())
    world.doctor.delegates = [Delegate(3, "read.reply", NOW - 1)]  # expired
    world.trust.accept(2, world.doctor.signed_list())
    with pytest.raises(NotDelegated):
        world.open(sealed, sender=(3, 31), device=world.patient.devices[0], seen=set())


def test_a_device_list_rollback_is_refused(world: World) -> None:
    old = world.doctor.signed_list()
    newer = world.doctor.signed_list()
    trust = Trust()
    trust.accept(2, newer)
    with pytest.raises(Rollback):
        trust.accept(2, old)
    world.doctor.version -= 1  # the same version, different contents
    world.doctor.add_device(23)
    with pytest.raises(Rollback):
        trust.accept(2, world.doctor.signed_list())


def test_a_removed_device_gets_refused(world: World) -> None:
    removed = world.patient.devices[0]
    sealed = world.seal()
    world.patient.devices = [DeviceKeys.generate(12)]
    world.trust.accept(1, world.patient.signed_list())
    with pytest.raises(UnknownDevice):
        world.open(sealed, sender=(1, removed.device))


def test_an_expired_device_is_unknown(world: World) -> None:
    expired = [DeviceEntry(11, bytes(world.patient.devices[0].sign.verify_key), bytes(32), NOW)]
    world.trust.accept(1, world.patient.identity.sign_list(1, 9, NOW, expired))
    with pytest.raises(UnknownDevice):
        world.open(world.seal())


def test_an_identity_key_swapped_by_the_server_stops_everything_until_acknowledged(
    world: World,
) -> None:
    impostor = Identity.generate()
    entries = [entry_for(k.request(2), 2, LATER) for k in world.doctor.devices]
    swapped = impostor.sign_list(2, 99, NOW, entries)
    with pytest.raises(IdentityChanged) as raised:
        world.trust.accept(2, swapped)
    assert raised.value.user == 2
    with pytest.raises(IdentityChanged):
        world.trust.current(2)
    world.trust.acknowledge(2)  # the user compared safety numbers and accepted
    assert world.trust.current(2).identity_pk == impostor.public


def test_unsigned_or_misattributed_lists_are_refused(world: World) -> None:
    good = world.doctor.signed_list()
    with pytest.raises(UntrustedDevices):
        Trust().accept(1, good)  # user 2's list presented as user 1's
    signed = msgspec.msgpack.decode(good)
    signed[1] = bytes(64)
    with pytest.raises(UntrustedDevices):
        Trust().accept(2, msgspec.msgpack.encode(signed))
    with pytest.raises(UntrustedDevices):
        Trust().accept(2, b"not a list")


# --- documents --------------------------------------------------------------


def _chunks(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    from clients.e2e.documents import _ABYTES, _HEADER

    head, rest = ciphertext[:_HEADER], ciphertext[_HEADER:]
    step = DOCUMENT_CHUNK + _ABYTES
    return head, [rest[i : i + step] for i in range(0, len(rest), step)]


DOCUMENT = bytes(range(256)) * 1000  # 256,000 bytes: four chunks


@pytest.mark.parametrize(
    "size", [0, 1, DOCUMENT_CHUNK - 1, DOCUMENT_CHUNK, DOCUMENT_CHUNK + 1, len(DOCUMENT)]
)
def test_documents_of_every_size_round_trip(size: int) -> None:
    key, ciphertext = encrypt_document(DOCUMENT[:size])
    assert decrypt_document(ciphertext, key, digest(ciphertext)) == DOCUMENT[:size]


def _tampered_streams(ciphertext: bytes) -> dict[str, bytes]:
    head, chunks = _chunks(ciphertext)
    flipped = [chunks[0], flip(chunks[1], 10), *chunks[2:]]
    return {
        "bit flip": head + b"".join(flipped),
        "reordered": head + b"".join([chunks[1], chunks[0], *chunks[2:]]),
        "duplicated": head + b"".join([chunks[0], chunks[0], *chunks[1:]]),
        "dropped": head + b"".join([chunks[0], *chunks[2:]]),
        "truncated": head + b"".join(chunks[:-1]),
        "past the end": ciphertext + chunks[-1],
        "header flip": flip(head, 3) + b"".join(chunks),
    }


@pytest.mark.parametrize("attack", sorted(_tampered_streams(encrypt_document(DOCUMENT)[1])))
def test_a_tampered_document_is_refused_even_with_a_matching_hash(attack: str) -> None:
    key, ciphertext = encrypt_document(DOCUMENT)
    tampered = _tampered_streams(ciphertext)[attack]
    with pytest.raises(DocumentTampered):
        decrypt_document(tampered, key, digest(tampered))


def test_a_swapped_blob_is_refused_before_decrypting() -> None:
    key, ciphertext = encrypt_document(b"results: normal")
    _, other = encrypt_document(b"results: normal", key)  # same key, another stream
    with pytest.raises(DocumentTampered, match="not the ones"):
        decrypt_document(other, key, digest(ciphertext))


# --- verification and keystore ------------------------------------------------


def test_safety_numbers_match_on_both_sides_and_ignore_devices(world: World) -> None:
    a, b = world.patient.identity.public, world.doctor.identity.public
    number = safety_number(1, a, 2, b)
    assert len(number) == 60 and number.isdigit()
    assert safety_number(2, b, 1, a) == number
    world.doctor.add_device(23)  # a new device: same identity, same number
    assert safety_number(1, a, 2, world.doctor.identity.public) == number
    assert safety_number(1, a, 2, Identity.generate().public) != number
    shown = qr_payload(2, b, 1, a)
    assert verify_qr(shown, 1, a, 2, b)
    assert not verify_qr(shown, 1, a, 2, Identity.generate().public)
    assert not verify_qr(b"garbage", 1, a, 2, b)


def test_the_keystore_survives_a_restart_and_is_private(world: World, tmp_path: Path) -> None:
    keys = Keystore(1, world.patient.devices[0], world.patient.identity, world.trust)
    assert keys.first_time(b"m" * 16, 5)
    path = tmp_path / "keys"
    keys.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Keystore.load(path)
    assert again.trust.current(2) == world.trust.current(2)
    assert bytes(again.device.enc) == bytes(world.patient.devices[0].enc)
    assert again.identity is not None and again.identity.public == world.patient.identity.public
    assert again.first_time(b"m" * 16, 5) and not again.first_time(b"m" * 16, 6)
