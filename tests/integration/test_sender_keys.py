"""Sender keys through a real server: a big group's messages name one key
per sending device instead of sealing a key per device; the key reaches
exactly the thread's devices, rotates when they change, and only the
devices it was sealed to can fetch it."""

from __future__ import annotations

import msgspec
import pytest

from clients import CallError, Credentials
from clients.e2e import Body, Keystore, Outgoing, Secure, seal_envelope
from clients.e2e.sender_keys import OwnSenderKey, new_sender_key
from clients.errors import NotForThisDevice
from protocol.e2e import SENDER_KEYS_ABOVE, GroupHeader, Scope, decode_envelope
from protocol.errors import ErrorCode
from protocol.methods import (
    KeysDistributeParams,
    KeysSenderKeyParams,
    SendParams,
    ThreadMemberParams,
    ThreadsOpenParams,
)
from protocol.model import MessageData, ThreadKind
from tests.integration.test_e2e import LATER, devices_of, refused
from tests.support.server import RunningServer


async def care_group(
    server: RunningServer, patients: int
) -> tuple[Credentials, list[Credentials], int]:
    """A practitioner's group thread with ``patients`` of their patients."""
    doctor = await server.user("practitioner")
    members = [await server.user("patient") for _ in range(patients)]
    for patient in members:
        await server.add_patient(doctor, patient)
    async with server.client(doctor) as desk:
        thread = await desk.call(
            "threads.open", ThreadsOpenParams(ThreadKind.GROUP, [p.user_id for p in members])
        )
    return doctor, members, thread.id


async def people_messages(secure: Secure, thread: int) -> list[MessageData]:
    """The thread's messages from people (not notices), oldest first."""
    page = await secure.call("messages.history", {"thread": thread})
    sent = [m for m in page.messages if m.sender_device is not None]
    return sorted(sent, key=lambda m: m.thread_seq)


def group_header(message: MessageData) -> GroupHeader:
    header = decode_envelope(message.envelope)[1]
    assert isinstance(header, GroupHeader), "a version 2 envelope"
    return header


async def test_a_big_group_gets_one_key_per_sender_and_every_member_reads(
    server: RunningServer,
) -> None:
    doctor, patients, thread = await care_group(server, SENDER_KEYS_ABOVE)  # one device more
    async with server.secure(doctor) as desk:
        await desk.send(thread, "Atelier diabète jeudi")
        await desk.send(thread, "Salle 2")
    reader = patients[-1]
    async with server.secure(reader) as secure:
        sent = await people_messages(secure, thread)
        assert len({group_header(m).sender_key for m in sent}) == 1  # distributed once
        assert all(len(m.envelope) < 512 for m in sent)  # not 80 bytes per device
        assert [(await secure.open(m)).body.text for m in sent] == [
            "Atelier diabète jeudi",
            "Salle 2",
        ]


async def test_a_new_member_makes_the_key_rotate_and_cannot_fetch_the_old_one(
    server: RunningServer,
) -> None:
    doctor, (first, newcomer), thread = await care_group(server, 2)
    async with server.secure(doctor) as desk:
        await desk.call("threads.remove_member", ThreadMemberParams(thread, newcomer.user_id))
    async with server.secure(doctor, sender_keys_above=0) as desk:
        await desk.send(thread, "before")
        await desk.call("threads.add_member", ThreadMemberParams(thread, newcomer.user_id))
        await desk.send(thread, "after")  # refused as stale once, then a new key
    async with server.secure(first) as reader:
        before, after = await people_messages(reader, thread)
        assert group_header(before).sender_key != group_header(after).sender_key
        assert [(await reader.open(m)).body.text for m in (before, after)] == ["before", "after"]
    async with server.secure(newcomer) as joined:
        assert (await joined.open(after)).body.text == "after"
        old = KeysSenderKeyParams(thread, doctor.device_id, group_header(before).sender_key)
        error = await refused(joined.call("keys.sender_key", old), ErrorCode.NOT_FOUND)
        assert error.details == {}
        with pytest.raises(NotForThisDevice):
            await joined.open(before)


async def test_a_removed_member_fetches_no_key(server: RunningServer) -> None:
    doctor, (staying, leaving), thread = await care_group(server, 2)
    async with server.secure(doctor, sender_keys_above=0) as desk:
        await desk.send(thread, "to both")
        await desk.call("threads.remove_member", ThreadMemberParams(thread, leaving.user_id))
        await desk.send(thread, "to one")
    async with server.secure(staying) as reader:
        sent = await people_messages(reader, thread)
        assert [(await reader.open(m)).body.text for m in sent] == ["to both", "to one"]
    async with server.client(leaving) as left:
        for message in sent:
            asked = KeysSenderKeyParams(thread, doctor.device_id, group_header(message).sender_key)
            await refused(left.call("keys.sender_key", asked), ErrorCode.FORBIDDEN)


async def test_a_device_approved_since_the_key_was_sent_rotates_it(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient, sender_keys_above=0) as sender:
        await sender.send(thread, "first")
        phone = await server.other_device(doctor)
        sent = await sender.send(thread, "second")  # its key missed the phone: a new one
    async with server.secure(phone) as reader:
        page = await reader.call("messages.history", {"thread": thread})
        newest = next(m for m in page.messages if m.id == sent.message_id)
        assert (await reader.open(newest)).body.text == "second"


def distribution(
    server: RunningServer,
    sender: Credentials,
    thread: int,
    devices: dict[int, bytes],
    **fixed: bytes,
) -> tuple[OwnSenderKey, KeysDistributeParams]:
    keys = server.keys[sender.device_id]
    return new_sender_key(thread, sender.user_id, keys.device, devices, 0, **fixed)


def group_send(
    server: RunningServer, sender: Credentials, thread: int, own: OwnSenderKey
) -> SendParams:
    message = Outgoing(thread, sender.user_id, Body(text="hello"), {})
    sealed = seal_envelope(message, server.keys[sender.device_id].device, own)
    return SendParams(thread, sealed.msg_id.hex(), sealed.data)


async def test_distributing_and_sending_refuse_what_does_not_fit(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    _, _, elsewhere = await server.patient_thread()
    stranger = await server.user("patient")
    everyone = devices_of(server, doctor, patient)
    async with server.client(patient) as client:
        own, params = distribution(server, patient, thread, everyone)

        async def distribute(changed: KeysDistributeParams, code: ErrorCode) -> CallError:
            return await refused(client.call("keys.distribute", changed), code)

        only_doctor = {doctor.device_id: everyone[doctor.device_id]}
        error = await distribute(
            distribution(server, patient, thread, only_doctor)[1], ErrorCode.STALE_DEVICES
        )
        assert error.details == {"missing": [patient.device_id]}
        extra = distribution(server, patient, thread, everyone | devices_of(server, stranger))[1]
        error = await distribute(extra, ErrorCode.STALE_DEVICES)
        assert error.details == {"unknown": [stranger.device_id]}
        await distribute(msgspec.structs.replace(params, thread=elsewhere), ErrorCode.INVALID)
        await distribute(
            distribution(server, doctor, thread, everyone)[1], ErrorCode.FORBIDDEN
        )  # signed as the doctor's device
        await distribute(msgspec.structs.replace(params, key=b"junk"), ErrorCode.INVALID)
        await distribute(msgspec.structs.replace(params, key=bytes(600)), ErrorCode.TOO_LARGE)
        reversed_order = msgspec.structs.replace(params, recipients=params.recipients[::-1])
        await distribute(reversed_order, ErrorCode.INVALID)
        unsent = client.call("messages.send", group_send(server, patient, thread, own))
        error = await refused(unsent, ErrorCode.STALE_DEVICES)
        assert error.details == {"missing": sorted(everyone)}  # not distributed yet
        assert not (await client.call("keys.distribute", params)).duplicate
        assert (await client.call("keys.distribute", params)).duplicate  # a retried call
        clash = distribution(server, patient, thread, everyone, key_id=own.key_id)[1]
        await distribute(clash, ErrorCode.CONFLICT)  # the same id for another key
        sent = await client.call("messages.send", group_send(server, patient, thread, own))
        assert sent.thread_seq == 2
    async with server.client(stranger) as outsider:
        theirs = distribution(server, stranger, thread, everyone)[1]
        await refused(outsider.call("keys.distribute", theirs), ErrorCode.FORBIDDEN)
        asked = KeysSenderKeyParams(thread, patient.device_id, own.key_id)
        await refused(outsider.call("keys.sender_key", asked), ErrorCode.FORBIDDEN)


async def test_a_reading_delegate_gets_the_key_and_loses_it_with_the_delegation(
    server: RunningServer,
) -> None:
    """An assistant who reads for the doctor is one of the thread's readers:
    the patient's sender key is sealed to their device too, until the
    doctor revokes them; the next key leaves them out."""
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.READ], LATER)
    async with server.secure(patient, sender_keys_above=0) as sender:
        await sender.send(thread, "for the doctor and the desk")
        async with server.secure(assistant) as desk:
            (first,) = await people_messages(desk, thread)
            assert (await desk.open(first)).body.text == "for the doctor and the desk"
        async with server.secure(doctor) as owner:
            await owner.refresh([doctor.user_id])
            await owner.revoke_delegate(assistant.user_id)
        await sender.send(thread, "for the doctor only")  # refused as stale once: a new key
    async with server.secure(doctor) as owner:
        _, second = await people_messages(owner, thread)
        assert (await owner.open(second)).body.text == "for the doctor only"
    assert group_header(first).sender_key != group_header(second).sender_key
    async with server.client(assistant) as revoked:
        asked = KeysSenderKeyParams(thread, patient.device_id, group_header(second).sender_key)
        await refused(revoked.call("keys.sender_key", asked), ErrorCode.FORBIDDEN)


async def test_a_device_with_a_new_key_under_the_same_id_gets_a_new_sender_key(
    server: RunningServer,
) -> None:
    """A device id whose encryption key changed (a browser that lost its
    keyring, approved again) is a change of the thread's devices: the next
    message is sealed with a new sender key, which opens with the new key."""
    doctor, patient, thread = await server.patient_thread()
    phone = await server.other_device(doctor)
    async with server.secure(patient, sender_keys_above=0) as sender:
        await sender.send(thread, "before")
        rekeyed = Keystore.create(phone.user_id, phone.device_id, with_identity=False)
        server.keys[phone.device_id] = rekeyed
        async with server.secure(doctor) as desk:
            await desk.refresh([doctor.user_id])
            await desk.approve(rekeyed.device.request(phone.user_id))
        await sender.next_event("keys.updated")
        await sender.refresh([doctor.user_id])
        await sender.send(thread, "after")
    async with server.secure(phone) as reader:
        before, after = await people_messages(reader, thread)
        assert group_header(before).sender_key != group_header(after).sender_key
        assert (await reader.open(after)).body.text == "after"


async def test_a_key_distributed_before_a_member_left_is_refused_after(
    server: RunningServer,
) -> None:
    """The server's side of rotation, call by call: the key reached the
    member who left, so sending with it again is stale."""
    doctor, (staying, leaving), thread = await care_group(server, 2)
    async with server.client(doctor) as desk:
        before = devices_of(server, doctor, staying, leaving)
        own, params = distribution(server, doctor, thread, before)
        await desk.call("keys.distribute", params)
        await desk.call("messages.send", group_send(server, doctor, thread, own))
        await desk.call("threads.remove_member", ThreadMemberParams(thread, leaving.user_id))
        unsent = desk.call("messages.send", group_send(server, doctor, thread, own))
        error = await refused(unsent, ErrorCode.STALE_DEVICES)
        assert error.details == {"unknown": [leaving.device_id]}
        renewed, params = distribution(server, doctor, thread, devices_of(server, doctor, staying))
        await desk.call("keys.distribute", params)
        await desk.call("messages.send", group_send(server, doctor, thread, renewed))
