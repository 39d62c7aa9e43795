"""Write ``e2e.json``: known-answer vectors for every primitive the scheme
uses, a whole envelope and a whole document, from fixed keys and nonces.

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

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from clients.e2e import Body, DeviceKeys, Identity, Outgoing, seal_envelope
from clients.e2e.crypto import aead_encrypt, commitment, digest, pad, seal, sign
from clients.e2e.devices import entry_for
from clients.e2e.documents import encrypt_document
from protocol.e2e import DocumentRef

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
            "sender_list": identity.sign_list(1, 1, 1_800_000_000_000, entries).hex(),
            "reader_device": reader.device,
            "reader_enc_secret": fixed("reader-enc").hex(),
            "thread": 7,
            "sender_user": 1,
            "sender_device": sender.device,
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


if __name__ == "__main__":
    PATH.write_text(json.dumps(vectors(), indent=1) + "\n")
    print(f"wrote {PATH}")
