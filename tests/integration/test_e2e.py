"""End-to-end encryption through a real server: the key directory, the
coverage check on every send, device changes, identity changes."""

from __future__ import annotations

import msgspec
import pytest

from clients import CallError, Credentials
from clients.e2e import Body, Identity, Outgoing, seal_envelope
from clients.e2e.devices import entry_for
from clients.errors import IdentityChanged, UntrustedDevices
from protocol.e2e import DeviceEntry, Scope
from protocol.errors import ErrorCode
from protocol.methods import KeysFetchParams, KeysPublishParams, SendParams, ThreadsOpenParams
from protocol.model import ThreadKind
from tests.support.server import RunningServer

LATER = 4_000_000_000_000


def raw_send(
    server: RunningServer,
    sender: Credentials,
    thread: int,
    recipients: dict[int, bytes],
    **changes: object,
) -> SendParams:
    sealed = seal_envelope(
        Outgoing(thread, sender.user_id, Body(text="hello"), recipients),
        server.keys[sender.device_id].device,
    )
    params = SendParams(thread, sealed.msg_id.hex(), sealed.data)
    return msgspec.structs.replace(params, **changes)


def devices_of(server: RunningServer, *users: Credentials) -> dict[int, bytes]:
    ids = {u.user_id for u in users}
    return {
        keys.device.device: bytes(keys.device.enc.public_key)
        for keys in server.keys.values()
        if keys.user in ids
    }


async def refused(call: object, code: ErrorCode) -> CallError:
    with pytest.raises(CallError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code == code, raised.value
    return raised.value


async def test_publishing_checks_owner_signature_devices_and_version(server: RunningServer) -> None:
    me = await server.user("patient", publish_keys=False)
    other = await server.user("patient")
    keys = server.keys[me.device_id]
    identity = keys.identity
    assert identity is not None
    mine = entry_for(keys.device.request(me.user_id), me.user_id, LATER)
    async with server.secure(me) as secure:
        not_mine = identity.sign_list(other.user_id, 1, 0, [mine])
        await refused(secure.call("keys.publish", KeysPublishParams(not_mine)), ErrorCode.FORBIDDEN)
        theirs = DeviceEntry(other.device_id, bytes(32), bytes(32), LATER)
        claims_theirs = identity.sign_list(me.user_id, 1, 0, [mine, theirs])
        error = await refused(
            secure.call("keys.publish", KeysPublishParams(claims_theirs)), ErrorCode.FORBIDDEN
        )
        assert error.details == {"devices": [other.device_id]}
        unsigned = msgspec.msgpack.decode(identity.sign_list(me.user_id, 1, 0, [mine]))
        unsigned[1] = bytes(64)
        await refused(
            secure.call("keys.publish", KeysPublishParams(msgspec.msgpack.encode(unsigned))),
            ErrorCode.INVALID,
        )
        await refused(secure.call("keys.publish", KeysPublishParams(b"junk")), ErrorCode.INVALID)
        await secure.setup()  # version 1
        again = identity.sign_list(me.user_id, 1, 0, [mine])
        await refused(secure.call("keys.publish", KeysPublishParams(again)), ErrorCode.CONFLICT)
        fetched = await secure.call("keys.fetch", KeysFetchParams([me.user_id]))
        assert [found.user for found in fetched.lists] == [me.user_id]


async def test_keys_are_fetched_only_among_people_who_share_a_thread(
    server: RunningServer,
) -> None:
    doctor, patient, _ = await server.patient_thread()
    stranger = await server.user("patient")
    async with server.secure(patient) as secure:
        asked = [doctor.user_id, stranger.user_id, patient.user_id]
        found = await secure.call("keys.fetch", KeysFetchParams(asked))
        users = [published.user for published in found.lists]
        assert users == sorted([doctor.user_id, patient.user_id])  # not the stranger


async def test_a_send_must_cover_exactly_the_threads_devices(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    stranger = await server.user("patient")
    everyone = devices_of(server, doctor, patient)
    async with server.client(patient) as client:
        left_out = {d: k for d, k in everyone.items() if d != doctor.device_id}
        error = await refused(
            client.call("messages.send", raw_send(server, patient, thread, left_out)),
            ErrorCode.STALE_DEVICES,
        )
        assert error.details == {"missing": [doctor.device_id]}
        extra = everyone | devices_of(server, stranger)
        error = await refused(
            client.call("messages.send", raw_send(server, patient, thread, extra)),
            ErrorCode.STALE_DEVICES,
        )
        assert error.details == {"unknown": [stranger.device_id]}
        bad = raw_send(server, patient, thread, everyone, envelope=b"plaintext!")
        await refused(client.call("messages.send", bad), ErrorCode.INVALID)
        wrong_id = raw_send(server, patient, thread, everyone, client_msg_id="not-the-header")
        error = await refused(client.call("messages.send", wrong_id), ErrorCode.INVALID)
        assert error.details == {"fields": ["msg_id"]}
        ok = await client.call("messages.send", raw_send(server, patient, thread, everyone))
        assert ok.thread_seq == 2  # after the emergency notice


async def test_a_member_without_keys_blocks_sends_with_a_clear_error(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    newcomer = await server.user("patient", publish_keys=False)
    await server.add_patient(doctor, newcomer)
    async with server.secure(doctor) as secure:
        thread = await secure.call(
            "threads.open", ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [newcomer.user_id])
        )
        with pytest.raises(UntrustedDevices, match=f"user {newcomer.user_id}"):
            await secure.send(thread.id, "hello")  # the SDK knows before sending
        unsealed = raw_send(server, doctor, thread.id, devices_of(server, doctor))
        error = await refused(secure.call("messages.send", unsealed), ErrorCode.STALE_DEVICES)
        assert error.details == {"no_keys": [newcomer.user_id]}


async def test_a_sender_cannot_speak_for_another_device_or_user(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    everyone = devices_of(server, doctor, patient)
    async with server.client(patient) as client:
        as_doctor = seal_envelope(
            Outgoing(thread, doctor.user_id, Body(text="x"), everyone),
            server.keys[doctor.device_id].device,
        )
        params = SendParams(thread, as_doctor.msg_id.hex(), as_doctor.data)
        await refused(client.call("messages.send", params), ErrorCode.FORBIDDEN)
        acting = raw_send(server, patient, thread, everyone)
        sealed = seal_envelope(
            Outgoing(thread, patient.user_id, Body(text="x"), everyone, acting_for=doctor.user_id),
            server.keys[patient.device_id].device,
        )
        acting = SendParams(thread, sealed.msg_id.hex(), sealed.data)
        error = await refused(client.call("messages.send", acting), ErrorCode.FORBIDDEN)
        assert error.details == {"reason": "not_delegated", "acting_for": doctor.user_id}


async def test_a_new_device_receives_after_approval_and_senders_catch_up(
    server: RunningServer,
) -> None:
    """The patient's app knows the doctor's old list; the doctor approves a
    phone; the next send is refused as stale, refetched, sealed again."""
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as sender:
        await sender.send(thread, "first")
        phone = await server.other_device(doctor)
        updated = await sender.next_event("keys.updated")
        assert updated.data.user == doctor.user_id and updated.data.version == 2
        sent = await sender.send(thread, "second")
        async with server.secure(phone) as reader:
            page = await reader.call("messages.history", {"thread": thread})
            newest = next(m for m in page.messages if m.id == sent.message_id)
            assert (await reader.open(newest)).body.text == "second"
            older = next(m for m in page.messages if m.id != sent.message_id)
            with pytest.raises(Exception, match="no key was sealed"):
                await reader.open(older)  # sent before the phone existed


async def test_a_removed_device_gets_no_new_keys(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    phone = await server.other_device(doctor)
    async with server.secure(doctor) as desk:
        await desk.refresh([doctor.user_id])
        await desk.remove_device(phone.device_id)
    async with server.secure(patient) as sender:
        sent = await sender.send(thread, "after removal")
    async with server.secure(phone) as removed:
        page = await removed.call("messages.history", {"thread": thread})
        (message,) = [m for m in page.messages if m.id == sent.message_id]
        envelope_devices = msgspec.msgpack.decode(msgspec.msgpack.decode(message.envelope)[0])[8]
        assert phone.device_id not in envelope_devices


async def test_an_identity_change_stops_sending_until_acknowledged(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as sender:
        await sender.send(thread, "before")
        # The doctor reinstalls: a new identity key signs a new list.
        keys = server.keys[doctor.device_id]
        keys.identity = Identity.generate()
        async with server.secure(doctor) as reinstalled:
            entry = entry_for(keys.device.request(doctor.user_id), doctor.user_id, LATER)
            signed = keys.identity.sign_list(doctor.user_id, 2, 0, [entry])
            await reinstalled.call("keys.publish", KeysPublishParams(signed))
        event = await sender.next_event("keys.updated")
        assert event.data.identity_changed is True
        with pytest.raises(IdentityChanged):
            await sender.refresh([doctor.user_id])
        with pytest.raises(IdentityChanged):
            await sender.send(thread, "blocked")
        number_before = sender.safety_number  # compared at the practice, then accepted
        sender.acknowledge_identity(doctor.user_id)
        assert len(number_before(doctor.user_id)) == 60
        assert (await sender.send(thread, "after")).thread_seq == 3  # 1: the notice


async def test_a_delegate_answers_for_the_practitioner_and_readers_verify_it(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    colleague = await server.assistant_of(doctor)  # a member of the group, and a delegate
    patient = await server.user("patient")
    await server.add_patient(doctor, patient)
    async with server.secure(doctor) as desk:
        thread = await desk.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id, patient.user_id]),
        )
    await server.delegate(doctor, colleague, [Scope.READ, Scope.REPLY], LATER)
    async with server.secure(colleague) as helper, server.secure(patient) as reader:
        await helper.send(thread.id, "Dr Martin asked me to confirm", acting_for=doctor.user_id)
        event = await reader.next_event("message.new")
        opened = await reader.open(event.data)
        assert (opened.header.acting_for, opened.header.sender_user) == (
            doctor.user_id,
            colleague.user_id,
        )
        assert opened.body.text == "Dr Martin asked me to confirm"
    async with server.secure(doctor) as desk:
        await desk.refresh([doctor.user_id])
        await desk.revoke_delegate(colleague.user_id)
    async with server.secure(colleague) as helper:
        with pytest.raises(CallError) as refused_now:
            await helper.send(thread.id, "still here?", acting_for=doctor.user_id)
        assert refused_now.value.code == ErrorCode.FORBIDDEN
