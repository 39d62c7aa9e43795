"""Write ``e2e.json``: known-answer vectors for every primitive the scheme
uses, a whole envelope of each version, a sender key and a whole document,
from fixed keys and nonces.

    python -m tests.vectors.generate

Deterministic primitives (Ed25519, XChaCha20-Poly1305, BLAKE2b, padding, a
signed device list) come out the same on every run; sealed boxes and
secretstream headers are random by design, so their vectors are fixed
ciphertexts that must open to the given plaintext. A browser client checks
the same file to prove it agrees byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from clients.e2e import Body, DeviceKeys, Identity, Outgoing, seal_envelope
from clients.e2e.crypto import (
    aead_encrypt,
    commitment,
    digest,
    message_key,
    pad,
    seal,
    sender_key_commitment,
    sign,
)
from clients.e2e.devices import entry_for
from clients.e2e.documents import encrypt_document
from clients.e2e.safety import fingerprint, qr_payload, safety_number
from clients.e2e.sender_keys import new_sender_key
from protocol.codec import messages
from protocol.e2e import (
    Delegate,
    DeviceList,
    DeviceRequest,
    DocumentRef,
    QrPayload,
    SenderKey,
    SignedDeviceList,
    SignedSenderKey,
    decode_envelope,
)
from protocol.frames import Call, Event, Hello, Ping
from protocol.methods import ReceiptParams, SendParams
from protocol.practice import Notice, NoticeKind

PATH = Path(__file__).with_name("e2e.json")


def fixed(name: str, size: int = 32) -> bytes:
    return hashlib.blake2b(f"carehub-vector-{name}".encode(), digest_size=size).digest()


def vectors() -> dict[str, Any]:
    identity = Identity(SigningKey(fixed("identity")))
    sender = DeviceKeys(11, SigningKey(fixed("sender-sign")), PrivateKey(fixed("sender-enc")))
    reader = DeviceKeys(21, SigningKey(fixed("reader-sign")), PrivateKey(fixed("reader-enc")))
    content_key, nonce, msg_id = fixed("cek"), fixed("nonce", 24), fixed("msg-id", 16)
    message = b"carehub known answer"
    ad = b"carehub-env1" + b"header"
    entries = [entry_for(k.request(1), 1, 1_900_000_000_000) for k in (sender,)]
    document = b"".join(bytes([i % 251]) for i in range(70_000))
    doc_key, doc_cipher = encrypt_document(document, fixed("document-key"))
    envelope = seal_envelope(
        Outgoing(
            thread=7,
            sender_user=1,
            body=Body(
                text="Prescription renewed.",
                documents=[
                    DocumentRef(
                        "f" * 32,
                        doc_key,
                        len(document),
                        "application/pdf",
                        "rx.pdf",
                        digest(doc_cipher),
                    )
                ],
            ),
            recipients={reader.device: bytes(reader.enc.public_key)},
            reason="prescription_renewal",
            ts=1_800_000_000_000,
            msg_id=msg_id,
            content_key=content_key,
            nonce=nonce,
        ),
        sender,
    )
    return {
        "structures": structures(),
        **group_vectors(identity, sender, reader),
        "ed25519": {
            "seed": fixed("identity").hex(),
            "public": identity.public.hex(),
            "context": "carehub-sig1",
            "message": message.hex(),
            "signature": sign(identity.key, b"carehub-sig1", message).hex(),
        },
        "x25519": {
            "secret": fixed("reader-enc").hex(),
            "public": bytes(reader.enc.public_key).hex(),
        },
        "sealed_box": {
            "recipient_secret": fixed("reader-enc").hex(),
            "plaintext": content_key.hex(),
            "ciphertext": seal(content_key, bytes(reader.enc.public_key)).hex(),
        },
        "xchacha20poly1305": {
            "key": content_key.hex(),
            "nonce": nonce.hex(),
            "ad": ad.hex(),
            "plaintext": message.hex(),
            "ciphertext": aead_encrypt(content_key, nonce, message, ad).hex(),
        },
        "blake2b256": {"input": message.hex(), "digest": digest(message).hex()},
        "commitment": {
            "content_key": content_key.hex(),
            "msg_id": msg_id.hex(),
            "commit": commitment(content_key, msg_id).hex(),
        },
        "pad256": {"input": message.hex(), "padded": pad(message).hex()},
        "device_list": {
            "identity_seed": fixed("identity").hex(),
            "device_sign_seed": fixed("sender-sign").hex(),
            "device_enc_secret": fixed("sender-enc").hex(),
            "user": 1,
            "version": 1,
            "time": 1_800_000_000_000,
            "signed": identity.sign_list(1, 1, 1_800_000_000_000, entries).hex(),
        },
        "envelope": {
            **reading(identity, sender, reader),
            "envelope": envelope.data.hex(),
            "text": "Prescription renewed.",
        },
        "document": {
            "key": doc_key.hex(),
            "plaintext_blake2b256": digest(document).hex(),
            "size": len(document),
            "ciphertext": doc_cipher.hex(),
        },
    }


def reading(identity: Identity, sender: DeviceKeys, reader: DeviceKeys) -> dict[str, Any]:
    """What a reader needs to open an envelope vector: the sender's signed
    list, its own device and secret, and who the server says sent it where."""
    entries = [entry_for(sender.request(1), 1, 1_900_000_000_000)]
    return {
        "sender_list": identity.sign_list(1, 1, 1_800_000_000_000, entries).hex(),
        "reader_device": reader.device,
        "reader_enc_secret": fixed("reader-enc").hex(),
        "thread": 7,
        "sender_user": 1,
        "sender_device": sender.device,
    }


def group_vectors(identity: Identity, sender: DeviceKeys, reader: DeviceKeys) -> dict[str, Any]:
    """A sender key, the keys derived from it, and a version 2 envelope.
    Everything here is deterministic but the sealed copy of the key."""
    key, key_id, msg_id = fixed("sender-key"), fixed("key-id", 16), fixed("msg-id-3", 16)
    own, distribution = new_sender_key(
        7,
        1,
        sender,
        {reader.device: bytes(reader.enc.public_key)},
        1_800_000_000_000,
        key=key,
        key_id=key_id,
    )
    body = Body(text="Vos résultats sont disponibles.", subject="Bilan")
    envelope = seal_envelope(
        Outgoing(
            thread=7,
            sender_user=1,
            body=body,
            recipients={},
            ts=1_800_000_000_002,
            msg_id=msg_id,
            nonce=fixed("nonce-3", 24),
        ),
        sender,
        own,
    )
    return {
        "sender_key_hashes": {
            "sender_key": key.hex(),
            "key_id": key_id.hex(),
            "key_commit": sender_key_commitment(key, key_id).hex(),
            "msg_id": msg_id.hex(),
            "message_key": message_key(key, msg_id).hex(),
        },
        "group_envelope": {
            **reading(identity, sender, reader),
            "signed_sender_key": distribution.key.hex(),
            "wrapped": distribution.recipients[0].key.hex(),
            "envelope": envelope.data.hex(),
            "text": body.text,
            "subject": body.subject,
        },
    }


def hexed(value: Any) -> Any:
    """A structure's fields as JSON: arrays stay arrays, bytes become hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [hexed(item) for item in value]
    if isinstance(value, dict):
        return {key: hexed(item) for key, item in value.items()}
    return value


def shown(structure: msgspec.Struct) -> dict[str, Any]:
    """The exact MessagePack of a structure, and what it holds."""
    return {
        "type": type(structure).__name__,
        "msgpack": msgspec.msgpack.encode(structure).hex(),
        "fields": hexed(
            msgspec.to_builtins(structure, builtin_types=(bytes,), enc_hook=raw_fields)
        ),
    }


def server_message() -> dict[str, Any]:
    """A version 2 message of 17 frames (an array of 16 or more: the 0xdc
    head), as the server packs them, and the frames it holds."""
    frames = [Ping(ts=n, cursor=40 + n) for n in range(16)]
    frames.append(Event("receipt", msgspec.Raw(msgspec.msgpack.encode({"thread": 7})), 41))
    [(message, _)] = messages([msgspec.msgpack.encode(frame) for frame in frames], 65_536)
    return {
        "type": "ServerMessage",
        "msgpack": message.hex(),
        "fields": [msgspec.to_builtins(frame, enc_hook=raw_fields) for frame in frames],
    }


def raw_fields(value: Any) -> Any:
    """A frame's ``params`` (MessagePack already encoded), shown as what it holds."""
    if isinstance(value, msgspec.Raw):
        return msgspec.msgpack.decode(value)
    raise TypeError(f"cannot show {type(value)}")


def structures() -> dict[str, Any]:
    """Every structure a client produces or parses, as bytes and fields: a
    second implementation checks its encoder and decoder against these."""
    identity = Identity(SigningKey(fixed("identity")))
    sender = DeviceKeys(11, SigningKey(fixed("sender-sign")), PrivateKey(fixed("sender-enc")))
    reader = DeviceKeys(21, SigningKey(fixed("reader-sign")), PrivateKey(fixed("reader-enc")))
    desk = DeviceKeys(22, SigningKey(fixed("desk-sign")), PrivateKey(fixed("desk-enc")))
    entries = [entry_for(k.request(1), 1, 1_900_000_000_000) for k in (sender,)]
    signed_list = identity.sign_list(
        1, 2, 1_800_000_000_000, entries, [Delegate(5, "read.reply", 1_850_000_000_000)]
    )
    for_dr = seal_envelope(
        Outgoing(
            thread=7,
            sender_user=5,
            body=Body(subject="Résultats"),
            recipients={d.device: bytes(d.enc.public_key) for d in (desk, reader)},
            acting_for=1,
            ts=1_800_000_000_001,
            msg_id=fixed("msg-id-2", 16),
            content_key=fixed("cek-2"),
            nonce=fixed("nonce-2", 24),
        ),
        sender,
    )
    envelope, header = decode_envelope(for_dr.data)
    ref = DocumentRef(
        "f" * 32, fixed("document-key"), 70_000, "application/pdf", "rx.pdf", fixed("h")
    )
    them = Identity(SigningKey(fixed("other-identity")))
    group = group_vectors(identity, sender, reader)["group_envelope"]
    signed_key = msgspec.msgpack.decode(
        bytes.fromhex(group["signed_sender_key"]), type=SignedSenderKey
    )
    examples: dict[str, msgspec.Struct] = {
        "envelope": envelope,
        "header_acting_for": header,
        "group_header": decode_envelope(bytes.fromhex(group["envelope"]))[1],
        "signed_sender_key": signed_key,
        "sender_key": msgspec.msgpack.decode(signed_key.key, type=SenderKey),
        "body_text_and_document": Body(text="Prescription renewed.", documents=[ref]),
        "body_subject_only": Body(subject="Résultats"),
        "body_empty": Body(),
        "document_ref": ref,
        "signed_device_list": msgspec.msgpack.decode(signed_list, type=SignedDeviceList),
        "device_list": msgspec.msgpack.decode(
            msgspec.msgpack.decode(signed_list, type=SignedDeviceList).body, type=DeviceList
        ),
        "device_request": msgspec.msgpack.decode(reader.request(3), type=DeviceRequest),
        "qr_payload": msgspec.msgpack.decode(
            qr_payload(1, identity.public, 3, them.public), type=QrPayload
        ),
        "notice_emergency": Notice(NoticeKind.EMERGENCY),
        "notice_auto_reply": Notice(NoticeKind.AUTO_REPLY, "Absent until Monday.", rule=3),
        "notice_member_added": Notice(NoticeKind.MEMBER_ADDED, by=1, user=9, acting_for=2),
        "hello": Hello(versions=[1, 2], token="chb_token", device=11, resume_from=40),
        "call_send": Call(
            id=3,
            method="messages.send",
            params=msgspec.Raw(
                msgspec.msgpack.encode(SendParams(7, for_dr.msg_id.hex(), for_dr.data))
            ),
        ),
        "call_receipt": Call(
            id=4,
            method="receipts.read",
            params=msgspec.Raw(msgspec.msgpack.encode(ReceiptParams(7, 3))),
        ),
    }
    found = {name: shown(value) for name, value in examples.items()}
    found["server_message"] = server_message()
    found["safety_number"] = {
        "user_a": 1,
        "identity_a": identity.public.hex(),
        "fingerprint_a": fingerprint(1, identity.public).hex(),
        "user_b": 3,
        "identity_b": them.public.hex(),
        "fingerprint_b": fingerprint(3, them.public).hex(),
        "digits": safety_number(1, identity.public, 3, them.public),
    }
    return found


if __name__ == "__main__":
    PATH.write_text(json.dumps(vectors(), indent=1) + "\n")
    print(f"wrote {PATH}")
