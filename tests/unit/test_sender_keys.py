"""Sender keys without a server: a version 2 envelope opens for every device
the key was sealed to, and nothing a relaying server (or a sender) could
change about the key or its distribution is accepted."""

from __future__ import annotations

import msgspec
import pytest
from msgspec.msgpack import encode

from clients.e2e import Body, DeviceKeys, Outgoing
from clients.e2e.crypto import message_key, random, seal, sign
from clients.e2e.envelope import seal_envelope
from clients.e2e.sender_keys import OwnSenderKey, new_sender_key, open_sender_key
from clients.errors import BadCommitment, BadSignature, NotForThisDevice, UnknownDevice, WrongThread
from protocol.e2e import (
    MAX_SENDER_KEY_DEVICES,
    SENDER_KEY_CONTEXT,
    GroupHeader,
    Recipient,
    SignedSenderKey,
    decode_envelope,
    decode_header,
    decode_sender_key,
)
from protocol.errors import DecodeError
from protocol.frames import Call
from protocol.methods import KeysDistributeParams
from server.rpc.keys import MAX_SENDER_KEY_BYTES
from server.settings import Settings
from tests.support.e2e_world import NOW, THREAD, World


def distributed(world: World, **fixed: bytes) -> tuple[OwnSenderKey, KeysDistributeParams]:
    """The patient's device's sender key for THREAD, sealed to every device."""
    sender = world.patient.devices[0]
    return new_sender_key(THREAD, world.patient.user, sender, world.recipients, NOW, **fixed)


def opened_key(
    world: World,
    own: OwnSenderKey,
    params: KeysDistributeParams,
    reader: DeviceKeys,
    **where: object,
) -> bytes:
    """What ``reader`` gets from ``keys.sender_key`` for ``own``, verified."""
    wrapped = next(r.key for r in params.recipients if r.device == reader.device)
    asked: dict[str, object] = {
        "thread": THREAD,
        "sender_user": world.patient.user,
        "sender_device": world.patient.devices[0].device,
        "key_id": own.key_id,
        "now": NOW,
    }
    return open_sender_key(
        params.key,
        wrapped,
        me=reader,
        trust=world.trust,
        **(asked | where),  # type: ignore[arg-type]
    )


def group_message(world: World, own: OwnSenderKey, text: str = "Réunion à 14 h") -> bytes:
    message = Outgoing(THREAD, world.patient.user, Body(text=text), {})
    return seal_envelope(message, world.patient.devices[0], own).data


def test_every_device_opens_the_key_and_the_messages_it_seals(world: World) -> None:
    own, params = distributed(world)
    first, second = group_message(world, own, "one"), group_message(world, own, "two")
    header = decode_envelope(first)[1]
    assert isinstance(header, GroupHeader) and header.sender_key == own.key_id
    assert len(first) < 512  # header, 272-byte body, signature: whatever the devices
    for reader in world.doctor.devices:
        key = opened_key(world, own, params, reader)
        assert key == own.key
        texts = [world.open(m, device=reader, sender_key=key).body.text for m in (first, second)]
        assert texts == ["one", "two"]


def test_each_message_has_its_own_content_key() -> None:
    key = random(32)
    assert message_key(key, b"a" * 16) != message_key(key, b"b" * 16)


def test_a_version_2_envelope_without_its_key_is_not_for_this_device(world: World) -> None:
    own, _ = distributed(world)
    with pytest.raises(NotForThisDevice):
        world.open(group_message(world, own))


def test_a_key_the_message_does_not_name_is_refused(world: World) -> None:
    own, params = distributed(world)
    other, _ = distributed(world)
    reader = world.doctor.devices[0]
    with pytest.raises(BadSignature):
        opened_key(world, own, params, reader, key_id=other.key_id)
    with pytest.raises(BadSignature):
        opened_key(world, own, params, reader, sender_device=99)
    with pytest.raises(WrongThread):
        opened_key(world, own, params, reader, thread=THREAD + 1)
    with pytest.raises(BadCommitment):  # the right key opens only the right envelope
        world.open(group_message(world, other), device=reader, sender_key=own.key)


def test_a_signature_by_anyone_else_is_refused(world: World) -> None:
    own, params = distributed(world)
    signed = msgspec.msgpack.decode(params.key, type=SignedSenderKey)
    forged = sign(world.doctor.devices[0].sign, SENDER_KEY_CONTEXT, signed.key)
    tampered = msgspec.structs.replace(
        params, key=msgspec.msgpack.encode(SignedSenderKey(signed.key, forged))
    )
    with pytest.raises(BadSignature):
        opened_key(world, own, tampered, world.doctor.devices[0])
    with pytest.raises(BadSignature):
        opened_key(
            world, own, msgspec.structs.replace(params, key=b"junk"), world.doctor.devices[0]
        )


def test_a_device_outside_the_senders_list_cannot_distribute(world: World) -> None:
    rogue = DeviceKeys.generate(99)
    own, params = new_sender_key(THREAD, world.patient.user, rogue, world.recipients, NOW)
    with pytest.raises(UnknownDevice):
        opened_key(world, own, params, world.doctor.devices[0], sender_device=99)


def test_another_key_sealed_to_one_device_is_caught_by_the_commitment(world: World) -> None:
    """A sender seals a different key to one reader, so that the same
    ciphertext would read differently there: the signed commitment names one key."""
    own, params = distributed(world)
    reader = world.doctor.devices[1]
    another = Recipient(reader.device, seal(random(32), bytes(reader.enc.public_key)))
    swapped = [another if r.device == reader.device else r for r in params.recipients]
    with pytest.raises(BadCommitment):
        opened_key(world, own, msgspec.structs.replace(params, recipients=swapped), reader)
    assert opened_key(world, own, params, world.doctor.devices[0]) == own.key


def test_the_largest_distribution_fits_in_one_default_frame() -> None:
    """A key sealed to MAX_SENDER_KEY_DEVICES devices, with the largest ids
    and the largest signed key the server takes, is one ``keys.distribute``
    call within the default frame limit."""
    biggest_id = 2**53 - 1
    recipients = [Recipient(biggest_id - n, bytes(80)) for n in range(MAX_SENDER_KEY_DEVICES)]
    params = KeysDistributeParams(biggest_id, bytes(MAX_SENDER_KEY_BYTES), recipients[::-1])
    frame = Call(id=2**31 - 1, method="keys.distribute", params=msgspec.Raw(encode(params)))
    assert len(encode(frame)) <= Settings().max_frame_bytes


def test_nothing_may_follow_the_last_element(world: World) -> None:
    """Readers in both languages refuse the same bytes: an extra element is
    refused, not skipped."""
    own, params = distributed(world)
    envelope = msgspec.msgpack.decode(group_message(world, own))
    header = msgspec.msgpack.decode(envelope[0])
    with pytest.raises(DecodeError, match="at most length 12"):
        decode_header(msgspec.msgpack.encode([*header, 0]))
    signed = msgspec.msgpack.decode(params.key)
    with pytest.raises(DecodeError):
        decode_sender_key(msgspec.msgpack.encode([*signed, 0]))
    with pytest.raises(DecodeError):
        body = msgspec.msgpack.decode(signed[0])
        decode_sender_key(msgspec.msgpack.encode([msgspec.msgpack.encode([*body, 0]), signed[1]]))
