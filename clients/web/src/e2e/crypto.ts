/**
 * The libsodium primitives the scheme uses, each behind one small function
 * that throws a typed error instead of returning `false` or a library error
 * (Python's `clients/e2e/crypto.py`, byte for byte).
 *
 * libsodium.js loads WebAssembly asynchronously: `await ready()` once before
 * anything else here; every function after that is synchronous.
 */
import sodium from "libsodium-wrappers";
import { concat } from "./bytes.js";
import { BadSignature, DecryptionFailed, DocumentTampered } from "./errors.js";
import { COMMIT_CONTEXT, MESSAGE_KEY_CONTEXT, PAD_BLOCK, SENDER_KEY_COMMIT_CONTEXT } from "./structures.js";

let loaded = false;

/** Load libsodium; safe to call (and await) any number of times. */
export async function ready(): Promise<void> {
  await sodium.ready;
  loaded = true;
}

function lib(): typeof sodium {
  if (!loaded) throw new Error("carehub e2e: await ready() before using the cryptography");
  return sodium;
}

const RANDOM_CHUNK = 65536; // the most getRandomValues gives in one call

/** Random bytes from the platform (`crypto.getRandomValues`, in Node and
 * browsers): libsodium.js's randombytes_buf is too slow for megabytes. */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += RANDOM_CHUNK)
    globalThis.crypto.getRandomValues(out.subarray(offset, offset + RANDOM_CHUNK));
  return out;
}

/** An Ed25519 key pair; `seed` (32 bytes) is what is kept. */
export interface SigningKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** libsodium's 64-byte form (seed || public key). */
  readonly secretKey: Uint8Array;
}

export function signingKey(seed: Uint8Array = randomBytes(32)): SigningKey {
  const pair = lib().crypto_sign_seed_keypair(seed);
  return { seed, publicKey: pair.publicKey, secretKey: pair.privateKey };
}

/** An X25519 key pair, generated on its own (never converted from Ed25519). */
export interface EncryptionKey {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function encryptionKey(secretKey: Uint8Array = randomBytes(32)): EncryptionKey {
  return { secretKey, publicKey: lib().crypto_scalarmult_base(secretKey) };
}

/** Ed25519 over `context || data`: each use has its own label. */
export function sign(key: SigningKey, context: Uint8Array, data: Uint8Array): Uint8Array {
  return lib().crypto_sign_detached(concat(context, data), key.secretKey);
}

export function verify(
  publicKey: Uint8Array,
  context: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): void {
  let valid: boolean;
  try {
    valid = lib().crypto_sign_verify_detached(signature, concat(context, data), publicKey);
  } catch {
    valid = false; // a key or signature of the wrong length
  }
  if (!valid) throw new BadSignature("the signature does not verify");
}

/** Wrap a content key for one device (anonymous sender: the envelope
 * signature is what authenticates). */
export function seal(contentKey: Uint8Array, encPk: Uint8Array): Uint8Array {
  return lib().crypto_box_seal(contentKey, encPk);
}

export function unseal(wrapped: Uint8Array, key: EncryptionKey): Uint8Array {
  try {
    return lib().crypto_box_seal_open(wrapped, key.publicKey, key.secretKey);
  } catch {
    throw new DecryptionFailed("the wrapped key does not open with this device's key");
  }
}

/** BLAKE2b-256 of `context || data` keyed with `key` (crypto_generichash with a key). */
export function keyedHash(key: Uint8Array, context: Uint8Array, data: Uint8Array): Uint8Array {
  return lib().crypto_generichash(32, concat(context, data), key);
}

/** Commits the envelope to one content key (Poly1305 alone does not). */
export function commitment(contentKey: Uint8Array, msgId: Uint8Array): Uint8Array {
  return keyedHash(contentKey, COMMIT_CONTEXT, msgId);
}

/** A version 2 envelope's content key, derived from the sender key. */
export function messageKey(senderKey: Uint8Array, msgId: Uint8Array): Uint8Array {
  return keyedHash(senderKey, MESSAGE_KEY_CONTEXT, msgId);
}

/** Commits a distributed sender key: every reader holds this very key. */
export function senderKeyCommitment(senderKey: Uint8Array, keyId: Uint8Array): Uint8Array {
  return keyedHash(senderKey, SENDER_KEY_COMMIT_CONTEXT, keyId);
}

/** BLAKE2b-256 (libsodium's crypto_generichash, Python's `blake2b(digest_size=32)`). */
export function digest(data: Uint8Array): Uint8Array {
  return lib().crypto_generichash(32, data, null);
}

/** BLAKE2b-256 over data that comes in pieces: the same value as `digest`
 * of the pieces joined. */
export class Digest {
  private readonly state = lib().crypto_generichash_init(null, 32);

  update(data: Uint8Array): void {
    lib().crypto_generichash_update(this.state, data);
  }

  /** The digest; the object cannot be used after. */
  final(): Uint8Array {
    return lib().crypto_generichash_final(this.state, 32);
  }
}

/** SHA-512 (libsodium.js's standard build has it as `crypto_hash`). */
export function sha512(data: Uint8Array): Uint8Array {
  return lib().crypto_hash(data);
}

export function aeadEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  return lib().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

export function aeadDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  try {
    return lib().crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    throw new DecryptionFailed("the body does not decrypt");
  }
}

/** ISO/IEC 7816-4 padding to a multiple of 256 (`sodium_pad`). */
export function pad(data: Uint8Array): Uint8Array {
  return lib().pad(data, PAD_BLOCK);
}

export function unpad(data: Uint8Array): Uint8Array {
  try {
    return lib().unpad(data, PAD_BLOCK);
  } catch {
    throw new DecryptionFailed("bad padding");
  }
}

// Documents: crypto_secretstream_xchacha20poly1305 (the tags and framing are
// in documents.ts; these only hide libsodium's state and failure style).

export const STREAM_HEADER_BYTES = 24;
/** Each ciphertext chunk is this much longer than its plaintext. */
export const STREAM_OVERHEAD = 17;

/** Encrypts chunks in order; `header` goes first in the ciphertext. */
export interface StreamPush {
  readonly header: Uint8Array;
  push(chunk: Uint8Array, ad: Uint8Array, final: boolean): Uint8Array;
}

export function streamPush(key: Uint8Array): StreamPush {
  const s = lib();
  const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(key);
  return {
    header,
    push: (chunk, ad, final) =>
      s.crypto_secretstream_xchacha20poly1305_push(
        state,
        chunk,
        ad,
        final
          ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL
          : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
      ),
  };
}

/** Decrypts chunks in order; throws `DocumentTampered` for any that does not
 * authenticate (altered, reordered, from another stream). */
export interface StreamPull {
  pull(chunk: Uint8Array, ad: Uint8Array): { message: Uint8Array; final: boolean };
}

export function streamPull(header: Uint8Array, key: Uint8Array): StreamPull {
  const s = lib();
  let state: ReturnType<typeof s.crypto_secretstream_xchacha20poly1305_init_pull>;
  try {
    state = s.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
  } catch (error) {
    throw new DocumentTampered(`bad stream header: ${error instanceof Error ? error.message : error}`);
  }
  return {
    pull(chunk, ad) {
      let pulled: { message: Uint8Array; tag: number } | false = false;
      try {
        pulled = s.crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad);
      } catch {
        // too short to be a chunk: refused below like any other
      }
      if (!pulled) throw new DocumentTampered("a chunk does not decrypt (altered, reordered or cut)");
      return {
        message: pulled.message,
        final: pulled.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
      };
    },
  };
}
