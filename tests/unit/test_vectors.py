"""Known-answer vectors (tests/vectors/e2e.json): deterministic primitives
must reproduce them exactly, the random ones must open them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from clients.e2e import DeviceKeys, Identity, Trust, open_envelope
from clients.e2e.crypto import (
    aead_decrypt,
    aead_encrypt,
    commitment,
    digest,
    message_key,
    pad,
    sender_key_commitment,
    sign,
    unseal,
)
from clients.e2e.devices import entry_for
from clients.e2e.documents import decrypt_document
from clients.e2e.safety import fingerprint, safety_number
from clients.e2e.sender_keys import open_sender_key
from protocol.codec import Codec
from protocol.frames import Call, Hello
from protocol.schema import PAYLOADS
from tests.vectors.generate import hexed, raw_fields, server_message, vectors

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "e2e.json").read_text()
)


def hx(name: str, field: str) -> bytes:
    return bytes.fromhex(VECTORS[name][field])


def test_deterministic_vectors_are_reproduced_by_the_generator() -> None:
    fresh = vectors()
    for name in ("ed25519", "x25519", "xchacha20poly1305", "blake2b256", "commitment", "pad256"):
        assert fresh[name] == VECTORS[name], name
    assert fresh["device_list"]["signed"] == VECTORS["device_list"]["signed"]
    assert fresh["sender_key_hashes"] == VECTORS["sender_key_hashes"]
    for field in ("signed_sender_key", "envelope"):
        assert fresh["group_envelope"][field] == VECTORS["group_envelope"][field], field


def test_ed25519() -> None:
    key = SigningKey(hx("ed25519", "seed"))
    assert bytes(key.verify_key) == hx("ed25519", "public")
    context = VECTORS["ed25519"]["context"].encode()
    assert sign(key, context, hx("ed25519", "message")) == hx("ed25519", "signature")


def test_x25519_and_sealed_box() -> None:
    secret = PrivateKey(hx("x25519", "secret"))
    assert bytes(secret.public_key) == hx("x25519", "public")
    opened = unseal(
        hx("sealed_box", "ciphertext"), PrivateKey(hx("sealed_box", "recipient_secret"))
    )
    assert opened == hx("sealed_box", "plaintext")


def test_xchacha20poly1305() -> None:
    v = {k: hx("xchacha20poly1305", k) for k in ("key", "nonce", "ad", "plaintext", "ciphertext")}
    assert aead_encrypt(v["key"], v["nonce"], v["plaintext"], v["ad"]) == v["ciphertext"]
    assert aead_decrypt(v["key"], v["nonce"], v["ciphertext"], v["ad"]) == v["plaintext"]


def test_blake2b_commitment_and_padding() -> None:
    assert digest(hx("blake2b256", "input")) == hx("blake2b256", "digest")
    assert commitment(hx("commitment", "content_key"), hx("commitment", "msg_id")) == hx(
        "commitment", "commit"
    )
    assert pad(hx("pad256", "input")) == hx("pad256", "padded")


def test_device_list() -> None:
    v = VECTORS["device_list"]
    device = DeviceKeys(
        11,
        SigningKey(hx("device_list", "device_sign_seed")),
        PrivateKey(hx("device_list", "device_enc_secret")),
    )
    entry = entry_for(device.request(v["user"]), v["user"], 1_900_000_000_000)
    identity = Identity(SigningKey(hx("device_list", "identity_seed")))
    assert identity.sign_list(v["user"], v["version"], v["time"], [entry]) == hx(
        "device_list", "signed"
    )
    assert Trust().accept(v["user"], hx("device_list", "signed")).devices == [entry]


def reader_of(name: str) -> tuple[Trust, DeviceKeys]:
    """The reading device of vector ``name``, trusting its sender's list."""
    v = VECTORS[name]
    trust = Trust()
    trust.accept(v["sender_user"], hx(name, "sender_list"))
    secret = PrivateKey(hx(name, "reader_enc_secret"))
    return trust, DeviceKeys(v["reader_device"], SigningKey.generate(), secret)


def test_golden_envelope_and_document() -> None:
    v = VECTORS["envelope"]
    trust, reader = reader_of("envelope")
    opened = open_envelope(
        hx("envelope", "envelope"),
        me=reader,
        trust=trust,
        thread=v["thread"],
        sender_user=v["sender_user"],
        sender_device=v["sender_device"],
        now=1_800_000_000_000,
        first_time=lambda _: True,
    )
    assert opened.body.text == v["text"]
    (ref,) = opened.body.documents
    assert (ref.key, ref.size) == (hx("document", "key"), VECTORS["document"]["size"])
    plaintext = decrypt_document(hx("document", "ciphertext"), ref.key, ref.hash)
    assert digest(plaintext) == hx("document", "plaintext_blake2b256")


def test_sender_key_hashes() -> None:
    v = {k: hx("sender_key_hashes", k) for k in VECTORS["sender_key_hashes"]}
    assert sender_key_commitment(v["sender_key"], v["key_id"]) == v["key_commit"]
    assert message_key(v["sender_key"], v["msg_id"]) == v["message_key"]


def test_golden_group_envelope() -> None:
    v = VECTORS["group_envelope"]
    trust, reader = reader_of("group_envelope")
    where = {
        "thread": v["thread"],
        "sender_user": v["sender_user"],
        "sender_device": v["sender_device"],
        "now": 1_800_000_000_000,
    }
    key = open_sender_key(
        hx("group_envelope", "signed_sender_key"),
        hx("group_envelope", "wrapped"),
        me=reader,
        trust=trust,
        key_id=hx("sender_key_hashes", "key_id"),
        **where,
    )
    assert key == hx("sender_key_hashes", "sender_key")
    opened = open_envelope(
        hx("group_envelope", "envelope"),
        me=reader,
        trust=trust,
        first_time=lambda _: True,
        sender_key=key,
        **where,
    )
    assert (opened.body.text, opened.body.subject) == (v["text"], v["subject"])


STRUCTURES: dict[str, Any] = {
    name: value
    for name, value in VECTORS["structures"].items()
    if "msgpack" in value and value["type"] != "ServerMessage"
}
TYPES: dict[str, type[msgspec.Struct]] = {t.__name__: t for t in (*PAYLOADS.values(), Hello, Call)}


@pytest.mark.parametrize("name", STRUCTURES)
def test_every_structure_decodes_to_its_fields_and_encodes_to_its_bytes(name: str) -> None:
    shown = STRUCTURES[name]
    data = bytes.fromhex(shown["msgpack"])
    value = msgspec.msgpack.decode(data, type=TYPES[shown["type"]])
    fields = msgspec.to_builtins(value, builtin_types=(bytes,), enc_hook=raw_fields)
    assert hexed(fields) == shown["fields"]
    assert msgspec.msgpack.encode(value) == data


def test_a_message_of_frames_reads_back_as_its_frames() -> None:
    shown = VECTORS["structures"]["server_message"]
    frames = Codec(65_536).decode_server(bytes.fromhex(shown["msgpack"]))
    assert [msgspec.to_builtins(frame, enc_hook=raw_fields) for frame in frames] == shown["fields"]
    assert server_message() == shown  # the generator packs the same bytes


def test_the_safety_number_vector() -> None:
    v = VECTORS["structures"]["safety_number"]
    key_a, key_b = bytes.fromhex(v["identity_a"]), bytes.fromhex(v["identity_b"])
    assert fingerprint(v["user_a"], key_a).hex() == v["fingerprint_a"]
    assert safety_number(v["user_a"], key_a, v["user_b"], key_b) == v["digits"]
    assert safety_number(v["user_b"], key_b, v["user_a"], key_a) == v["digits"]
