/**
 * Safety numbers and a QR payload for verifying a contact in person
 * (Python's `clients/e2e/safety.py`).
 *
 * Signal's numeric fingerprint: for each side, SHA-512 iterated 5,200 times
 * over the identity key and the user's stable id, cut into six 5-digit
 * groups; the two 30-digit halves are sorted so both sides see the same 60
 * digits. Only identity keys go in, so adding or removing a device does not
 * change it.
 */
import { concat, equal, utf8 } from "./bytes.js";
import { sha512 } from "./crypto.js";
import { QR_VERSION, SAFETY_ITERATIONS, SAFETY_VERSION, StructureError, codecs } from "./structures.js";

/** 32 bytes that stand for one side's identity. */
export function fingerprint(user: number, identityPk: Uint8Array): Uint8Array {
  let hashed = sha512(concat(SAFETY_VERSION, identityPk, utf8(String(user))));
  for (let i = 0; i < SAFETY_ITERATIONS; i++) hashed = sha512(concat(hashed, identityPk));
  return hashed.slice(0, 32);
}

/** Six groups: bytes 5i..5i+4 as a big-endian number, modulo 100,000, in 5 digits. */
function digits(fp: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    const group = fp.subarray(i, i + 5).reduce((value, byte) => value * 256 + byte, 0); // < 2^40: exact
    out += String(group % 100_000).padStart(5, "0");
  }
  return out;
}

/** 60 digits, the same on both sides; show them as twelve groups of five. */
export function safetyNumber(userA: number, keyA: Uint8Array, userB: number, keyB: Uint8Array): string {
  return [digits(fingerprint(userA, keyA)), digits(fingerprint(userB, keyB))].sort().join("");
}

/** What one side shows; the other scans it with `verifyQr`. */
export function qrPayload(me: number, myKey: Uint8Array, them: number, theirKey: Uint8Array): Uint8Array {
  return codecs.qrPayload.encode({
    v: QR_VERSION,
    me,
    myFingerprint: fingerprint(me, myKey),
    them,
    theirFingerprint: fingerprint(them, theirKey),
  });
}

/** True when the scanned code shows the same two identities as ours: it
 * names us as `them` and the shown side as `me`. */
export function verifyQr(
  payload: Uint8Array,
  me: number,
  myKey: Uint8Array,
  them: number,
  theirKey: Uint8Array,
): boolean {
  let shown;
  try {
    shown = codecs.qrPayload.decode(payload);
  } catch (error) {
    if (error instanceof StructureError) return false;
    throw error;
  }
  if (shown.v !== QR_VERSION || shown.me !== them || shown.them !== me) return false;
  return (
    equal(shown.myFingerprint, fingerprint(them, theirKey)) &&
    equal(shown.theirFingerprint, fingerprint(me, myKey))
  );
}
