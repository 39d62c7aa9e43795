"""Encrypted documents: crypto_secretstream in 64 KiB chunks.

A fresh key per file; every chunk is authenticated in order, with the label
``DOCUMENT_CONTEXT`` as associated data (the key is fresh per file, so a chunk
cannot move between files); the last one carries the FINAL tag, and a stream
that ends without it is refused (a truncated file would otherwise decrypt
cleanly). The ciphertext's BLAKE2b-256 travels in the encrypted message body
and is checked before anything is decrypted.
"""

from __future__ import annotations

from nacl import bindings
from nacl.exceptions import CryptoError

from clients.e2e.crypto import digest, random
from clients.errors import DocumentTampered
from protocol.e2e import DOCUMENT_CHUNK, DOCUMENT_CONTEXT

__all__ = ["decrypt_document", "encrypt_document"]

_ABYTES = bindings.crypto_secretstream_xchacha20poly1305_ABYTES
_HEADER = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE


def encrypt_document(plaintext: bytes, key: bytes | None = None) -> tuple[bytes, bytes]:
    """Return ``(key, ciphertext)``: the stream header, then each chunk."""
    key = key or random(32)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    parts = [bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)]
    offsets = range(0, max(len(plaintext), 1), DOCUMENT_CHUNK)
    for offset in offsets:
        last = offset + DOCUMENT_CHUNK >= len(plaintext)
        parts.append(
            bindings.crypto_secretstream_xchacha20poly1305_push(
                state,
                plaintext[offset : offset + DOCUMENT_CHUNK],
                DOCUMENT_CONTEXT,
                _FINAL if last else _MESSAGE,
            )
        )
    return key, b"".join(parts)


def decrypt_document(ciphertext: bytes, key: bytes, expected_hash: bytes) -> bytes:
    if digest(ciphertext) != expected_hash:
        raise DocumentTampered("the document's bytes are not the ones that were sent")
    if len(ciphertext) < _HEADER + _ABYTES:
        raise DocumentTampered("the document is truncated")
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    try:
        bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, ciphertext[:_HEADER], key)
    except (CryptoError, ValueError) as exc:
        raise DocumentTampered(f"bad stream header: {exc}") from None
    out = []
    position = _HEADER
    tag = _MESSAGE
    while position < len(ciphertext):
        if tag == _FINAL:
            raise DocumentTampered("bytes after the final chunk")
        chunk = ciphertext[position : position + DOCUMENT_CHUNK + _ABYTES]
        position += len(chunk)
        try:
            plain, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(
                state, chunk, DOCUMENT_CONTEXT
            )
        except (CryptoError, ValueError):
            raise DocumentTampered("a chunk does not decrypt (altered, reordered or cut)") from None
        out.append(plain)
    if tag != _FINAL:
        raise DocumentTampered("the document ends before its final chunk")
    return b"".join(out)
