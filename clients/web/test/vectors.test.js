// The TypeScript end-to-end encryption (src/e2e/) against the Python side's
// known answers (tests/vectors/e2e.json, written by tests/vectors/generate.py):
// every primitive, the signed device list, the envelope of each version, the
// sender key and the document, each structure's exact bytes; then every
// refusal of tests/unit/test_e2e.py and tests/unit/test_sender_keys.py, each
// as its typed E2EError, round trips, documents in pieces, the keystores.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import sodium from "libsodium-wrappers";
import { CarehubError } from "../build/src/errors.js";
import * as e2e from "../build/src/e2e/index.js";

const V = JSON.parse(readFileSync(new URL("../../../tests/vectors/e2e.json", import.meta.url), "utf8"));
const S = V.structures;

const fromHex = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");
const ascii = (text) => new TextEncoder().encode(text);
const joined = (parts) => new Uint8Array(Buffer.concat(parts));

await e2e.ready();

/** generate.py's `fixed()`: the keys, nonces and ids the vectors were made from. */
const fixed = (name, size = 32) => sodium.crypto_generichash(size, ascii(`carehub-vector-${name}`), null);
const deviceFrom = (device, name) =>
  new e2e.DeviceKeys(device, e2e.signingKey(fixed(`${name}-sign`)), e2e.encryptionKey(fixed(`${name}-enc`)));

/** For assert.throws and assert.rejects: one of `types`, an E2EError (and so a CarehubError). */
const refusal =
  (...types) =>
  (error) => {
    assert.ok(error instanceof e2e.E2EError && error instanceof CarehubError, `${error}`);
    assert.ok(
      types.some((type) => error instanceof type),
      `${error.name}: ${error.message}`,
    );
    return true;
  };
const refuses = (fn, ...types) => assert.throws(fn, refusal(...types));
const refusesAsync = (promise, ...types) => assert.rejects(promise, refusal(...types));

function flip(bytes, index) {
  const changed = bytes.slice();
  changed[index] ^= 0x01;
  return changed;
}

/** A structure's fields as the vectors show them: bytes in hex. */
function hexed(value) {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(hexed);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hexed(v)]));
  return value;
}

async function collect(chunks) {
  const parts = [];
  for await (const part of chunks) parts.push(part);
  return joined(parts);
}

/** `bytes` as an async iterable of `size`-byte pieces (a download). */
async function* inPieces(bytes, size) {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.slice(offset, offset + size);
}

describe("primitives reproduce the known answers", () => {
  test("Ed25519 with a context label", () => {
    const v = V.ed25519;
    const key = e2e.signingKey(fromHex(v.seed));
    assert.equal(toHex(key.publicKey), v.public);
    const signature = e2e.sign(key, ascii(v.context), fromHex(v.message));
    assert.equal(toHex(signature), v.signature);
    e2e.verify(key.publicKey, ascii(v.context), fromHex(v.message), signature);
    refuses(
      () => e2e.verify(key.publicKey, ascii(v.context), fromHex(v.message), flip(signature, 10)),
      e2e.BadSignature,
    );
    refuses(
      () => e2e.verify(key.publicKey, ascii("carehub-devices1"), fromHex(v.message), signature),
      e2e.BadSignature,
    );
    refuses(
      () => e2e.verify(key.publicKey, ascii(v.context), fromHex(v.message), signature.subarray(1)),
      e2e.BadSignature,
    );
  });

  test("X25519 public key from its secret", () => {
    assert.equal(toHex(e2e.encryptionKey(fromHex(V.x25519.secret)).publicKey), V.x25519.public);
  });

  test("a sealed box from Python opens; one sealed here opens too", () => {
    const v = V.sealed_box;
    const key = e2e.encryptionKey(fromHex(v.recipient_secret));
    assert.equal(toHex(e2e.unseal(fromHex(v.ciphertext), key)), v.plaintext);
    const sealed = e2e.seal(fromHex(v.plaintext), key.publicKey);
    assert.equal(sealed.length, 80);
    assert.equal(toHex(e2e.unseal(sealed, key)), v.plaintext);
    refuses(() => e2e.unseal(flip(fromHex(v.ciphertext), 40), key), e2e.DecryptionFailed);
    refuses(() => e2e.unseal(fromHex(v.ciphertext), e2e.encryptionKey()), e2e.DecryptionFailed);
  });

  test("XChaCha20-Poly1305 with associated data", () => {
    const v = Object.fromEntries(Object.entries(V.xchacha20poly1305).map(([k, x]) => [k, fromHex(x)]));
    assert.equal(toHex(e2e.aeadEncrypt(v.key, v.nonce, v.plaintext, v.ad)), V.xchacha20poly1305.ciphertext);
    assert.equal(toHex(e2e.aeadDecrypt(v.key, v.nonce, v.ciphertext, v.ad)), V.xchacha20poly1305.plaintext);
    refuses(() => e2e.aeadDecrypt(v.key, v.nonce, flip(v.ciphertext, 3), v.ad), e2e.DecryptionFailed);
    refuses(() => e2e.aeadDecrypt(v.key, v.nonce, v.ciphertext, flip(v.ad, 0)), e2e.DecryptionFailed);
  });

  test("BLAKE2b-256, whole or in pieces", () => {
    const input = fromHex(V.blake2b256.input);
    assert.equal(toHex(e2e.digest(input)), V.blake2b256.digest);
    const pieces = new e2e.Digest();
    for (let i = 0; i < input.length; i += 7) pieces.update(input.subarray(i, i + 7));
    assert.equal(toHex(pieces.final()), V.blake2b256.digest);
  });

  test("the content-key commitment", () => {
    const v = V.commitment;
    assert.equal(toHex(e2e.commitment(fromHex(v.content_key), fromHex(v.msg_id))), v.commit);
  });

  test("a sender key's commitment and a message key derived from it", () => {
    const v = Object.fromEntries(Object.entries(V.sender_key_hashes).map(([k, x]) => [k, fromHex(x)]));
    assert.equal(toHex(e2e.senderKeyCommitment(v.sender_key, v.key_id)), V.sender_key_hashes.key_commit);
    assert.equal(toHex(e2e.messageKey(v.sender_key, v.msg_id)), V.sender_key_hashes.message_key);
  });

  test("padding to 256, and refusing bad padding", () => {
    const input = fromHex(V.pad256.input);
    assert.equal(toHex(e2e.pad(input)), V.pad256.padded);
    assert.equal(toHex(e2e.unpad(fromHex(V.pad256.padded))), V.pad256.input);
    assert.equal(e2e.pad(new Uint8Array(256)).length, 512); // a full block gains a whole block
    refuses(() => e2e.unpad(new Uint8Array(256)), e2e.DecryptionFailed);
  });

  test("the labels are the documented ASCII strings", () => {
    const labels = {
      DEVICE_LIST_CONTEXT: "carehub-devices1",
      SIGNATURE_CONTEXT: "carehub-sig1",
      AD_CONTEXT: "carehub-env1",
      COMMIT_CONTEXT: "carehub-commit1",
      SENDER_KEY_CONTEXT: "carehub-skey1",
      SENDER_KEY_COMMIT_CONTEXT: "carehub-skcommit1",
      MESSAGE_KEY_CONTEXT: "carehub-mkey1",
      DOCUMENT_CONTEXT: "carehub-doc1",
    };
    for (const [name, text] of Object.entries(labels)) assert.deepEqual(e2e[name], ascii(text), name);
  });

  test("random bytes come in any amount, beyond one getRandomValues call", () => {
    const bytes = e2e.randomBytes(200_000);
    assert.equal(bytes.length, 200_000);
    assert.ok(bytes.subarray(150_000).some((byte) => byte !== 0));
  });
});

describe("the signed device list", () => {
  const sender = () => deviceFrom(11, "sender");
  const identity = () => new e2e.Identity(e2e.signingKey(fixed("identity")));

  test("is signed to exactly the vector's bytes, and verifies", () => {
    const v = V.device_list;
    const device = new e2e.DeviceKeys(
      11,
      e2e.signingKey(fromHex(v.device_sign_seed)),
      e2e.encryptionKey(fromHex(v.device_enc_secret)),
    );
    const entry = e2e.entryFor(device.request(v.user), v.user, 1_900_000_000_000);
    const signer = new e2e.Identity(e2e.signingKey(fromHex(v.identity_seed)));
    assert.equal(toHex(signer.signList(v.user, v.version, v.time, [entry])), v.signed);
    const accepted = new e2e.Trust().accept(v.user, fromHex(v.signed));
    assert.deepEqual(accepted.devices, [entry]);
    assert.equal(toHex(accepted.identityPk), V.ed25519.public);
  });

  test("with a delegate: structures.signed_device_list and .device_list byte for byte", () => {
    const entry = e2e.entryFor(sender().request(1), 1, 1_900_000_000_000);
    const delegate = e2e.delegation(5, [e2e.Scope.REPLY, e2e.Scope.READ], 1_850_000_000_000);
    assert.equal(delegate.scope, "read.reply");
    const signed = identity().signList(1, 2, 1_800_000_000_000, [entry], [delegate]);
    assert.equal(toHex(signed), S.signed_device_list.msgpack);
    const { signed: outer, list } = e2e.decodeDeviceList(signed);
    assert.equal(toHex(outer.body), S.device_list.msgpack);
    assert.equal(toHex(e2e.codecs.deviceList.encode(list)), S.device_list.msgpack);
    assert.deepEqual(list.delegates, [delegate]);
  });

  test("a device request: structures.device_request byte for byte", () => {
    assert.equal(toHex(deviceFrom(21, "reader").request(3)), S.device_request.msgpack);
    refuses(() => e2e.entryFor(fromHex(S.device_request.msgpack), 1, 1), e2e.UntrustedDevices); // it is user 3's
    refuses(() => e2e.entryFor(ascii("not a request"), 3, 1), e2e.UntrustedDevices);
  });

  test("safety numbers and the QR payload: structures.safety_number and .qr_payload", () => {
    const v = S.safety_number;
    const [a, b] = [fromHex(v.identity_a), fromHex(v.identity_b)];
    assert.equal(toHex(identity().public), v.identity_a);
    assert.equal(toHex(e2e.fingerprint(v.user_a, a)), v.fingerprint_a);
    assert.equal(toHex(e2e.fingerprint(v.user_b, b)), v.fingerprint_b);
    assert.equal(e2e.safetyNumber(v.user_a, a, v.user_b, b), v.digits);
    assert.equal(e2e.safetyNumber(v.user_b, b, v.user_a, a), v.digits);
    const shown = e2e.qrPayload(1, a, 3, b);
    assert.equal(toHex(shown), S.qr_payload.msgpack);
    assert.ok(e2e.verifyQr(shown, 3, b, 1, a)); // scanned by user 3
    assert.ok(!e2e.verifyQr(shown, 1, a, 3, b)); // a code naming someone else as the scanner
    assert.ok(!e2e.verifyQr(shown, 3, e2e.Identity.generate().public, 1, a));
    assert.ok(!e2e.verifyQr(ascii("garbage"), 3, b, 1, a));
  });
});

/** An envelope made here step by step (docs/e2e.md, "Messages"): the sender
 * device of the vectors signs, with the vectors' fixed content key and nonce. */
function envelopeFrom(header, body, contentKey, nonce) {
  const headerBytes = e2e.codecs.header.encode(header);
  const padded = e2e.pad(e2e.codecs.body.encode(body));
  const ciphertext = e2e.aeadEncrypt(contentKey, nonce, padded, joined([e2e.AD_CONTEXT, headerBytes]));
  const signed = joined([headerBytes, e2e.digest(ciphertext)]);
  const sig = e2e.sign(deviceFrom(11, "sender").sign, e2e.SIGNATURE_CONTEXT, signed);
  return e2e.codecs.envelope.encode({ header: headerBytes, body: ciphertext, sig });
}

describe("the envelope", () => {
  const v = V.envelope;
  const reader = () =>
    new e2e.DeviceKeys(v.reader_device, e2e.signingKey(), e2e.encryptionKey(fromHex(v.reader_enc_secret)));
  const trusting = (...lists) => {
    const trust = new e2e.Trust();
    for (const [user, signed] of lists) trust.accept(user, signed);
    return trust;
  };
  const golden = {
    thread: v.thread,
    senderUser: v.sender_user,
    senderDevice: v.sender_device,
    now: 1_800_000_000_000,
  };

  test("Python's envelope opens for the reader, and its document decrypts", async () => {
    const opened = e2e.openEnvelope(fromHex(v.envelope), {
      ...golden,
      me: reader(),
      trust: trusting([v.sender_user, fromHex(v.sender_list)]),
      firstTime: () => true,
    });
    assert.equal(opened.body.text, v.text);
    assert.equal(opened.body.subject, "");
    assert.deepEqual(
      [opened.header.kind, opened.header.reason, opened.header.ts, opened.header.actingFor],
      ["text", "prescription_renewal", 1_800_000_000_000, null],
    );
    const [ref] = opened.body.documents;
    assert.deepEqual(
      [toHex(ref.key), ref.size, ref.mime, ref.name],
      [V.document.key, V.document.size, "application/pdf", "rx.pdf"],
    );
    const plaintext = await collect(e2e.decryptDocument(fromHex(V.document.ciphertext), ref.key, ref.hash));
    assert.equal(plaintext.length, V.document.size);
    assert.equal(toHex(e2e.digest(plaintext)), V.document.plaintext_blake2b256);
  });

  test("rebuilt from its fields here, it is Python's envelope byte for byte", () => {
    const { envelope, header } = e2e.decodeEnvelope(fromHex(v.envelope));
    assert.equal(toHex(e2e.codecs.header.encode(header)), toHex(envelope.header));
    const ref = {
      file: "f".repeat(32),
      key: fromHex(V.document.key),
      size: V.document.size,
      mime: "application/pdf",
      name: "rx.pdf",
      hash: e2e.digest(fromHex(V.document.ciphertext)),
    };
    const body = { text: v.text, documents: [ref] };
    assert.equal(toHex(envelopeFrom(header, body, fixed("cek"), fixed("nonce", 24))), v.envelope);
  });

  test("re-sealed here from the same inputs, it matches Python's but for the sealed key, and opens", () => {
    const body = { text: v.text };
    const sealed = e2e.sealEnvelope(
      {
        thread: 7,
        senderUser: 1,
        body,
        recipients: new Map([[21, reader().enc.publicKey]]),
        reason: "prescription_renewal",
        ts: 1_800_000_000_000,
        msgId: fixed("msg-id", 16),
        contentKey: fixed("cek"),
        nonce: fixed("nonce", 24),
      },
      deviceFrom(11, "sender"),
    );
    const ours = e2e.decodeEnvelope(sealed.data).header;
    const theirs = e2e.decodeEnvelope(fromHex(v.envelope)).header;
    assert.equal(toHex(sealed.msgId), toHex(theirs.msgId));
    assert.deepEqual({ ...ours, recipients: [] }, { ...theirs, recipients: [] });
    assert.deepEqual(
      ours.recipients.map((r) => [r.device, r.key.length]),
      [[21, 80]],
    );
    const opened = e2e.openEnvelope(sealed.data, {
      ...golden,
      me: reader(),
      trust: trusting([1, fromHex(v.sender_list)]),
      firstTime: () => true,
    });
    assert.equal(opened.body.text, v.text);
  });

  test("an assistant's envelope: structures.envelope and .header_acting_for byte for byte, and it opens", () => {
    const { header } = e2e.decodeEnvelope(fromHex(S.envelope.msgpack));
    assert.equal(toHex(e2e.codecs.header.encode(header)), S.header_acting_for.msgpack);
    assert.deepEqual(
      [header.senderUser, header.senderDevice, header.actingFor, header.recipients.map((r) => r.device)],
      [5, 11, 1, [21, 22]],
    );
    const body = { subject: "Résultats" };
    assert.equal(toHex(e2e.codecs.body.encode(body)), S.body_subject_only.msgpack);
    assert.equal(toHex(envelopeFrom(header, body, fixed("cek-2"), fixed("nonce-2", 24))), S.envelope.msgpack);

    // User 5 (the assistant) signs with device 11; user 1's list (v2) names 5 as a read.reply delegate.
    const assistant = e2e.Identity.generate();
    const assistantList = assistant.signList(5, 1, 1_800_000_000_000, [
      e2e.entryFor(deviceFrom(11, "sender").request(5), 5, 1_900_000_000_000),
    ]);
    const trust = trusting([1, fromHex(S.signed_device_list.msgpack)], [5, assistantList]);
    for (const me of [deviceFrom(21, "reader"), deviceFrom(22, "desk")]) {
      const opened = e2e.openEnvelope(fromHex(S.envelope.msgpack), {
        me,
        trust,
        thread: 7,
        senderUser: 5,
        senderDevice: 11,
        now: 1_800_000_000_001,
        firstTime: () => true,
      });
      assert.deepEqual(
        [opened.body.subject, opened.body.text, opened.header.actingFor],
        ["Résultats", "", 1],
      );
    }
  });
});

describe("the version 2 envelope and its sender key", () => {
  const v = V.group_envelope;
  const hashes = V.sender_key_hashes;
  const reader = () =>
    new e2e.DeviceKeys(v.reader_device, e2e.signingKey(), e2e.encryptionKey(fromHex(v.reader_enc_secret)));
  const golden = () => {
    const trust = new e2e.Trust();
    trust.accept(v.sender_user, fromHex(v.sender_list));
    const now = 1_800_000_000_000;
    return { me: reader(), trust, thread: v.thread, senderUser: v.sender_user, senderDevice: v.sender_device, now };
  };

  test("Python's sender key opens for the reader, and the envelope with it", () => {
    const context = golden();
    const key = e2e.openSenderKey(fromHex(v.signed_sender_key), fromHex(v.wrapped), {
      ...context,
      keyId: fromHex(hashes.key_id),
    });
    assert.equal(toHex(key), hashes.sender_key);
    const opened = e2e.openEnvelope(fromHex(v.envelope), { ...context, firstTime: () => true, senderKey: key });
    assert.deepEqual([opened.body.text, opened.body.subject], [v.text, v.subject]);
    assert.deepEqual([opened.header.v, toHex(opened.header.senderKey)], [2, hashes.key_id]);
  });

  test("made here from the same inputs, the signed key and the envelope are Python's byte for byte", () => {
    const sender = deviceFrom(v.sender_device, "sender");
    const fixedKey = { key: fromHex(hashes.sender_key), keyId: fromHex(hashes.key_id) };
    const devices = new Map([[v.reader_device, reader().enc.publicKey]]);
    const created = 1_800_000_000_000;
    const { own, distribution } = e2e.newSenderKey(v.thread, v.sender_user, sender, devices, created, fixedKey);
    assert.equal(toHex(distribution.key), v.signed_sender_key);
    const [[device, wrapped]] = distribution.recipients;
    assert.deepEqual([device, toHex(e2e.unseal(wrapped, reader().enc))], [v.reader_device, hashes.sender_key]);
    const sealed = e2e.sealEnvelope(
      {
        thread: v.thread,
        senderUser: v.sender_user,
        body: { text: v.text, subject: v.subject },
        recipients: new Map(),
        ts: 1_800_000_000_002,
        msgId: fromHex(hashes.msg_id),
        nonce: fixed("nonce-3", 24),
      },
      sender,
      own,
    );
    assert.equal(toHex(sealed.data), v.envelope);
  });
});

describe("every structure through the typed codecs", () => {
  const codecOf = {
    Envelope: e2e.codecs.envelope,
    Header: e2e.codecs.header,
    GroupHeader: e2e.codecs.groupHeader,
    SignedSenderKey: e2e.codecs.signedSenderKey,
    SenderKey: e2e.codecs.senderKey,
    Body: e2e.codecs.body,
    DocumentRef: e2e.codecs.documentRef,
    SignedDeviceList: e2e.codecs.signedDeviceList,
    DeviceList: e2e.codecs.deviceList,
    DeviceRequest: e2e.codecs.deviceRequest,
    QrPayload: e2e.codecs.qrPayload,
  };
  const ours = Object.entries(S).filter(([, shown]) => shown.type in codecOf);

  test("each end-to-end structure of the vectors has a codec here", () => {
    assert.deepEqual(new Set(ours.map(([, shown]) => shown.type)), new Set(Object.keys(codecOf)));
  });

  for (const [name, shown] of ours) {
    test(`${name} decodes to its fields and encodes back to its bytes`, () => {
      const codec = codecOf[shown.type];
      const value = codec.decode(fromHex(shown.msgpack));
      assert.deepEqual(hexed(codec.toWire(value)), shown.fields);
      assert.equal(toHex(codec.encode(value)), shown.msgpack);
    });
  }

  test("a DocumentRef and a Body built here: structures.document_ref and .body_text_and_document byte for byte", () => {
    const ref = {
      file: "f".repeat(32),
      key: fixed("document-key"),
      size: 70_000,
      mime: "application/pdf",
      name: "rx.pdf",
      hash: fixed("h"),
    };
    assert.equal(toHex(e2e.codecs.documentRef.encode(ref)), S.document_ref.msgpack);
    const body = { text: "Prescription renewed.", documents: [ref] };
    assert.equal(toHex(e2e.codecs.body.encode(body)), S.body_text_and_document.msgpack);
    assert.deepEqual(e2e.codecs.body.decode(fromHex(S.body_text_and_document.msgpack)), {
      subject: "",
      ...body,
    });
  });

  test("a body's keys in msgspec's field order: text, subject, documents (no vector has all three)", () => {
    const ref = e2e.codecs.documentRef.decode(fromHex(S.document_ref.msgpack));
    const full = e2e.codecs.body.encode({ documents: [ref], subject: "s", text: "t" });
    assert.deepEqual(Object.keys(decode(full)), ["text", "subject", "documents"]);
  });

  test("an empty body is the empty map, and reads back as the defaults", () => {
    assert.equal(toHex(e2e.codecs.body.encode({})), S.body_empty.msgpack);
    assert.deepEqual(e2e.codecs.body.decode(fromHex("80")), { text: "", subject: "", documents: [] });
  });

  test("what msgspec refuses is refused: wrong lengths, nil where not optional, a float, an unsafe integer", () => {
    const header = decode(fromHex(S.header_acting_for.msgpack));
    const broken = {
      "13 elements": [...header, null],
      "a 15-byte msg_id": header.with(2, new Uint8Array(15)),
      "nil kind": header.with(6, null),
      "an upper-case kind": header.with(6, "Text"),
      "no recipients": header.with(8, []),
      "recipients out of order": header.with(8, [...header[8]].reverse()),
      "a float thread": header.with(1, 7.5),
      "a thread of 2^53": header.with(1, 2 ** 53),
      "version 2": header.with(0, 2),
    };
    for (const [what, wire] of Object.entries(broken))
      assert.throws(() => e2e.codecs.header.decode(encode(wire)), e2e.StructureError, what);
    assert.equal(e2e.codecs.header.decode(encode(header.slice(0, 11))).actingFor, null); // as msgspec, a default may be left out
    const group = decode(fromHex(S.group_header.msgpack));
    const brokenGroup = {
      "a 15-byte sender_key": group.with(8, new Uint8Array(15)),
      "recipients in a version 2 header": group.with(8, header[8]),
      "version 1": group.with(0, 1),
    };
    for (const [what, wire] of Object.entries(brokenGroup))
      assert.throws(() => e2e.codecs.groupHeader.decode(encode(wire)), e2e.StructureError, what);
    for (const version of [0, 3, "2"])
      assert.throws(() => e2e.codecs.anyHeader.decode(encode(header.with(0, version))), e2e.StructureError);
    assert.ok("senderKey" in e2e.codecs.anyHeader.decode(fromHex(S.group_header.msgpack)));
    assert.ok("recipients" in e2e.codecs.anyHeader.decode(fromHex(S.header_acting_for.msgpack)));
    const senderKey = decode(fromHex(S.sender_key.msgpack));
    for (const wire of [senderKey.with(0, 2), senderKey.with(4, new Uint8Array(15)), senderKey.slice(0, 6)])
      assert.throws(() => e2e.codecs.senderKey.decode(encode(wire)), e2e.StructureError);
    assert.throws(() => e2e.codecs.body.decode(encode({ text: null })), e2e.StructureError);
    assert.throws(() => e2e.codecs.body.decode(encode([])), e2e.StructureError);
    assert.deepEqual(e2e.codecs.body.decode(encode({ text: "hi", later: 1 })).text, "hi"); // unknown fields ignored
  });
});

// --- every refusal, as tests/unit/test_e2e.py has them ------------------------

const NOW = 1_800_000_000_000;
const LATER = NOW + 10 ** 10;
const THREAD = 7;

class Person {
  constructor(user) {
    this.user = user;
    this.identity = e2e.Identity.generate();
    this.devices = [];
    this.version = 0;
    this.delegates = [];
  }

  addDevice(device) {
    const keys = e2e.DeviceKeys.generate(device);
    this.devices.push(keys);
    return keys;
  }

  signedList() {
    this.version += 1;
    const entries = this.devices.map((keys) => e2e.entryFor(keys.request(this.user), this.user, LATER));
    return this.identity.signList(this.user, this.version, NOW, entries, this.delegates);
  }
}

/** A patient (one device) and a doctor (`doctorDevices`) who trust each other's lists. */
function world(doctorDevices = 2) {
  const patient = new Person(1);
  const doctor = new Person(2);
  patient.addDevice(11);
  for (let i = 0; i < doctorDevices; i++) doctor.addDevice(21 + i);
  const trust = new e2e.Trust();
  trust.accept(1, patient.signedList());
  trust.accept(2, doctor.signedList());
  const w = {
    patient,
    doctor,
    trust,
    recipients: () => trust.recipients([1, 2], NOW),
    seal: (text = "renew my prescription", changes = {}) =>
      e2e.sealEnvelope(
        { thread: THREAD, senderUser: 1, body: { text }, recipients: w.recipients(), ts: NOW, ...changes },
        patient.devices[0],
      ).data,
    open(
      data,
      { device = doctor.devices[0], thread = THREAD, sender = [1, 11], seen = new Set(), senderKey = null } = {},
    ) {
      return e2e.openEnvelope(data, {
        me: device,
        trust,
        thread,
        senderUser: sender[0],
        senderDevice: sender[1],
        now: NOW,
        firstTime: (msgId) => !seen.has(toHex(msgId)) && Boolean(seen.add(toHex(msgId))),
        senderKey,
      });
    },
  };
  return w;
}

/** The envelope with some header fields or parts replaced (not signed again). */
function reencode(data, changes) {
  const { envelope, header } = e2e.decodeEnvelope(data);
  const parts = { ...envelope };
  const fields = { ...header };
  for (const [name, value] of Object.entries(changes)) (name in envelope ? parts : fields)[name] = value;
  if (Object.keys(changes).some((name) => !(name in envelope)))
    parts.header = e2e.codecs.header.encode(fields);
  return e2e.codecs.envelope.encode(parts);
}

/** What a malicious *sender* could do: change the header (or body) and sign again. */
function resigned(w, data, changes, body) {
  const { envelope, header } = e2e.decodeEnvelope(data);
  const headerBytes = e2e.codecs.header.encode({ ...header, ...changes });
  const ciphertext = body ?? envelope.body;
  const sig = e2e.sign(
    w.patient.devices[0].sign,
    e2e.SIGNATURE_CONTEXT,
    joined([headerBytes, e2e.digest(ciphertext)]),
  );
  return e2e.codecs.envelope.encode({ header: headerBytes, body: ciphertext, sig });
}

const wrappedFor = (header, device) => header.recipients.find((r) => r.device === device).key;
const rewrapped = (header, device, key) =>
  header.recipients.map((r) => ({ device: r.device, key: r.device === device ? key : r.key }));

describe("the reader refuses", () => {
  test("a flipped byte in the signature, the body or the header", () => {
    const w = world();
    const sealed = w.seal();
    const { envelope } = e2e.decodeEnvelope(sealed);
    for (const part of ["sig", "body", "header"])
      for (const index of [0, envelope[part].length >> 1, envelope[part].length - 1])
        refuses(
          () => w.open(reencode(sealed, { [part]: flip(envelope[part], index) })),
          e2e.BadSignature,
          e2e.DecryptionFailed,
        );
    refuses(() => w.open(reencode(sealed, { sig: flip(envelope.sig, 5) })), e2e.BadSignature);
    refuses(() => w.open(reencode(sealed, { body: flip(envelope.body, 5) })), e2e.BadSignature);
  });

  test("any header field changed (the signature covers them all)", () => {
    const w = world();
    const { header } = e2e.decodeEnvelope(w.seal());
    const changes = {
      nonce: flip(header.nonce, 0),
      commit: flip(header.commit, 0),
      ts: header.ts + 1,
      kind: "image",
      thread: header.thread + 1,
      v: 2,
      reason: "other",
    };
    for (const [name, value] of Object.entries(changes))
      refuses(() => w.open(reencode(w.seal(), { [name]: value })), e2e.BadSignature, e2e.DecryptionFailed);
  });

  test("a flipped wrapped key (the header is signed)", () => {
    const w = world();
    const sealed = w.seal();
    const { header } = e2e.decodeEnvelope(sealed);
    refuses(
      () => w.open(reencode(sealed, { recipients: rewrapped(header, 21, flip(wrappedFor(header, 21), 40)) })),
      e2e.BadSignature,
    );
  });

  test("a ciphertext flipped by a sender who signs again: it does not decrypt", () => {
    const w = world();
    const sealed = w.seal();
    const { envelope } = e2e.decodeEnvelope(sealed);
    refuses(() => w.open(resigned(w, sealed, {}, flip(envelope.body, 7))), e2e.DecryptionFailed);
  });

  test("a wrapped key relabelled to another device, even signed again", () => {
    const w = world();
    const sealed = w.seal();
    const { header } = e2e.decodeEnvelope(sealed);
    const swapped = rewrapped(header, 21, wrappedFor(header, 22));
    refuses(() => w.open(resigned(w, sealed, { recipients: swapped })), e2e.DecryptionFailed);
  });

  test("another content key for one recipient: the commitment names one key", () => {
    const w = world();
    const sealed = w.seal();
    const { header } = e2e.decodeEnvelope(sealed);
    const phone = w.doctor.devices[1];
    const other = e2e.seal(
      Uint8Array.from({ length: 32 }, (_, i) => i),
      phone.enc.publicKey,
    );
    refuses(
      () =>
        w.open(resigned(w, sealed, { recipients: rewrapped(header, phone.device, other) }), {
          device: phone,
        }),
      e2e.BadCommitment,
    );
  });

  test("a message for other devices (a wrong recipient)", () => {
    const w = world();
    refuses(() => w.open(w.seal(), { device: e2e.DeviceKeys.generate(55) }), e2e.NotForThisDevice);
    const onlyPatient = w.seal("hi", { recipients: w.trust.recipients([1], NOW) });
    refuses(() => w.open(onlyPatient), e2e.NotForThisDevice);
  });

  test("a device that is not in the sender's signed list", () => {
    const w = world();
    const rogue = e2e.DeviceKeys.generate(99);
    const sealed = e2e.sealEnvelope(
      { thread: THREAD, senderUser: 1, body: { text: "hi" }, recipients: w.recipients(), ts: NOW },
      rogue,
    ).data;
    refuses(() => w.open(sealed, { sender: [1, 99] }), e2e.UnknownDevice);
  });

  test("a forged sender", () => {
    const w = world();
    const doctorDevice = w.doctor.devices[0];
    const forged = e2e.sealEnvelope(
      {
        thread: THREAD,
        senderUser: 1,
        body: { text: "stop your treatment" },
        recipients: w.recipients(),
        ts: NOW,
      },
      doctorDevice,
    ).data;
    refuses(() => w.open(forged, { sender: [2, doctorDevice.device] }), e2e.BadSignature); // the server says the doctor sent it
    refuses(() => w.open(reencode(forged, { senderDevice: 11 })), e2e.BadSignature); // the header claims the patient's device
  });

  test("an envelope moved to another thread", () => {
    const w = world();
    refuses(() => w.open(w.seal(), { thread: THREAD + 1 }), e2e.WrongThread);
  });

  test("a replayed message id (Keyring.firstTime: the same id as another server message)", () => {
    const w = world();
    const keyring = new e2e.Keyring(2, w.doctor.devices[0], null, w.trust);
    const sealed = w.seal();
    const open = (messageId) =>
      e2e.openEnvelope(sealed, {
        me: keyring.device,
        trust: w.trust,
        thread: THREAD,
        senderUser: 1,
        senderDevice: 11,
        now: NOW,
        firstTime: (msgId) => keyring.firstTime(msgId, messageId),
      });
    open(40);
    open(40); // the same message read again (history) is no replay
    refuses(() => open(41), e2e.Replay);
  });

  test("acting_for without a reply delegation in that user's signed list", () => {
    const w = world();
    const assistant = new Person(3);
    const device = assistant.addDevice(31);
    w.trust.accept(3, assistant.signedList());
    const sealed = e2e.sealEnvelope(
      {
        thread: THREAD,
        senderUser: 3,
        body: { text: "for Dr" },
        recipients: w.recipients(),
        actingFor: 2,
        ts: NOW,
      },
      device,
    ).data;
    const open = () => w.open(sealed, { sender: [3, 31], device: w.patient.devices[0] });
    refuses(open, e2e.NotDelegated);
    const delegate = (scopes, expires) => {
      w.doctor.delegates = [e2e.delegation(3, scopes, expires)];
      w.trust.accept(2, w.doctor.signedList());
    };
    delegate([e2e.Scope.READ], LATER); // reading is not answering
    refuses(open, e2e.NotDelegated);
    delegate([e2e.Scope.READ, e2e.Scope.REPLY], LATER);
    assert.deepEqual([open().header.actingFor, open().body.text], [2, "for Dr"]);
    delegate([e2e.Scope.READ, e2e.Scope.REPLY], null); // until revoked
    open();
    delegate([e2e.Scope.READ, e2e.Scope.REPLY], NOW - 1); // expired
    refuses(open, e2e.NotDelegated);
  });

  test("a device removed from the list, even for what it signed before; an expired one", () => {
    const w = world();
    const sealed = w.seal();
    const removed = w.patient.devices[0];
    w.patient.devices = [e2e.DeviceKeys.generate(12)];
    w.trust.accept(1, w.patient.signedList());
    refuses(() => w.open(sealed, { sender: [1, removed.device] }), e2e.UnknownDevice);

    const v = world();
    const expired = [
      { device: 11, signPk: v.patient.devices[0].sign.publicKey, encPk: new Uint8Array(32), expires: NOW },
    ];
    v.trust.accept(1, v.patient.identity.signList(1, 9, NOW, expired));
    refuses(() => v.open(v.seal()), e2e.UnknownDevice);
  });
});

/** The patient's device's sender key for THREAD, sealed to every device of `w`. */
const distributed = (w, fixedKey = {}) =>
  e2e.newSenderKey(THREAD, 1, w.patient.devices[0], w.recipients(), NOW, fixedKey);

/** What `reader` gets from keys.sender_key for `given` ({own, distribution}), verified. */
function openedKey(w, { own, distribution }, reader, changes = {}) {
  const [, wrapped] = distribution.recipients.find(([device]) => device === reader.device);
  return e2e.openSenderKey(distribution.key, wrapped, {
    me: reader,
    trust: w.trust,
    thread: THREAD,
    senderUser: 1,
    senderDevice: 11,
    keyId: own.keyId,
    now: NOW,
    ...changes,
  });
}

/** A version 2 envelope from the patient's device, sealed with `own`. */
const groupMessage = (w, own, text = "Réunion à 14 h") =>
  e2e.sealEnvelope(
    { thread: THREAD, senderUser: 1, body: { text }, recipients: new Map(), ts: NOW },
    w.patient.devices[0],
    own,
  ).data;

/** `given`'s distribution with the signed key replaced. */
const withSignedKey = (given, key) => ({ ...given, distribution: { ...given.distribution, key } });

describe("sender keys", () => {
  test("every device opens the key and the messages it seals, whatever their number", () => {
    const w = world(50);
    const given = distributed(w);
    const [first, second] = [groupMessage(w, given.own, "one"), groupMessage(w, given.own, "two")];
    const { header } = e2e.decodeEnvelope(first);
    assert.deepEqual([header.v, toHex(header.senderKey)], [e2e.GROUP_ENVELOPE_VERSION, toHex(given.own.keyId)]);
    assert.ok(first.length < 512); // header, a 272-byte body, the signature
    assert.deepEqual(
      given.distribution.recipients.map(([device]) => device),
      [...w.recipients().keys()].sort((a, b) => a - b),
    );
    for (const reader of w.doctor.devices) {
      const senderKey = openedKey(w, given, reader);
      assert.deepEqual(senderKey, given.own.key);
      const texts = [first, second].map((data) => w.open(data, { device: reader, senderKey }).body.text);
      assert.deepEqual(texts, ["one", "two"]);
    }
  });

  test("each message has its own content key", () => {
    const key = e2e.randomBytes(32);
    assert.notDeepEqual(e2e.messageKey(key, ascii("a".repeat(16))), e2e.messageKey(key, ascii("b".repeat(16))));
  });
});

describe("the reader refuses a sender key, or a version 2 envelope", () => {
  test("a version 2 envelope without its key: not for this device", () => {
    const w = world();
    refuses(() => w.open(groupMessage(w, distributed(w).own)), e2e.NotForThisDevice);
  });

  test("a key the message does not name; an envelope the key does not open", () => {
    const w = world();
    const given = distributed(w);
    const other = distributed(w);
    const reader = w.doctor.devices[0];
    refuses(() => openedKey(w, given, reader, { keyId: other.own.keyId }), e2e.BadSignature);
    refuses(() => openedKey(w, given, reader, { senderDevice: 99 }), e2e.BadSignature);
    refuses(() => openedKey(w, given, reader, { senderUser: 2 }), e2e.BadSignature);
    refuses(() => w.open(groupMessage(w, other.own), { senderKey: given.own.key }), e2e.BadCommitment);
  });

  test("a key, or an envelope, moved to another thread", () => {
    const w = world();
    const given = distributed(w);
    refuses(() => openedKey(w, given, w.doctor.devices[0], { thread: THREAD + 1 }), e2e.WrongThread);
    const moved = () => w.open(groupMessage(w, given.own), { thread: THREAD + 1, senderKey: given.own.key });
    refuses(moved, e2e.WrongThread);
  });

  test("a tampered, forged or unreadable signed key", () => {
    const w = world();
    const given = distributed(w);
    const reader = w.doctor.devices[0];
    const { signed } = e2e.decodeSenderKey(given.distribution.key);
    const tampered = e2e.codecs.signedSenderKey.encode({ ...signed, key: flip(signed.key, signed.key.length - 1) });
    refuses(() => openedKey(w, withSignedKey(given, tampered), reader), e2e.BadSignature);
    const forged = e2e.sign(reader.sign, e2e.SENDER_KEY_CONTEXT, signed.key); // the doctor's device signs
    const resigned = e2e.codecs.signedSenderKey.encode({ ...signed, sig: forged });
    refuses(() => openedKey(w, withSignedKey(given, resigned), reader), e2e.BadSignature);
    refuses(() => openedKey(w, withSignedKey(given, ascii("junk")), reader), e2e.BadSignature);
  });

  test("a key distributed by a device outside the sender's list", () => {
    const w = world();
    const rogue = e2e.DeviceKeys.generate(99);
    const given = e2e.newSenderKey(THREAD, 1, rogue, w.recipients(), NOW);
    refuses(() => openedKey(w, given, w.doctor.devices[0], { senderDevice: 99 }), e2e.UnknownDevice);
  });

  test("another key sealed to one device, or a copy sealed to another device", () => {
    const w = world();
    const given = distributed(w);
    const [laptop, phone] = w.doctor.devices;
    const resealed = (device, wrapped) => ({
      ...given,
      distribution: {
        ...given.distribution,
        recipients: given.distribution.recipients.map(([d, key]) => [d, d === device ? wrapped : key]),
      },
    });
    const otherKey = resealed(phone.device, e2e.seal(e2e.randomBytes(32), phone.enc.publicKey));
    refuses(() => openedKey(w, otherKey, phone), e2e.BadCommitment); // the signed commitment names one key
    const laptopCopy = given.distribution.recipients.find(([d]) => d === laptop.device)[1];
    refuses(() => openedKey(w, resealed(phone.device, laptopCopy), phone), e2e.DecryptionFailed);
    assert.deepEqual(openedKey(w, given, laptop), given.own.key);
  });
});

describe("trust in device lists", () => {
  test("a rollback: an older version, or another list with the same version", () => {
    const w = world();
    const old = w.doctor.signedList();
    const newer = w.doctor.signedList();
    const trust = new e2e.Trust();
    trust.accept(2, newer);
    trust.accept(2, newer); // the same list again is fine
    refuses(() => trust.accept(2, old), e2e.Rollback);
    w.doctor.version -= 1;
    w.doctor.addDevice(23);
    refuses(() => trust.accept(2, w.doctor.signedList()), e2e.Rollback);
    assert.ok(new e2e.Rollback("x") instanceof e2e.UntrustedDevices);
  });

  test("an identity key swapped by the server stops everything until acknowledged", () => {
    const w = world();
    const impostor = e2e.Identity.generate();
    const entries = w.doctor.devices.map((k) => e2e.entryFor(k.request(2), 2, LATER));
    const swapped = impostor.signList(2, 99, NOW, entries);
    assert.throws(
      () => w.trust.accept(2, swapped),
      (error) => error instanceof e2e.IdentityChanged && error.user === 2,
    );
    refuses(() => w.trust.current(2), e2e.IdentityChanged);
    refuses(() => w.trust.recipients([1, 2], NOW), e2e.IdentityChanged); // no sending to them
    const fromDoctor = e2e.sealEnvelope(
      {
        thread: THREAD,
        senderUser: 2,
        body: { text: "hi" },
        recipients: new Map([[11, w.patient.devices[0].enc.publicKey]]),
        ts: NOW,
      },
      w.doctor.devices[0],
    ).data;
    refuses(() => w.open(fromDoctor, { sender: [2, 21], device: w.patient.devices[0] }), e2e.IdentityChanged); // no reading from them
    w.trust.acknowledge(2);
    assert.deepEqual(w.trust.current(2).identityPk, impostor.public);
    w.open(fromDoctor, { sender: [2, 21], device: w.patient.devices[0] });
  });

  test("unsigned, misattributed or unreadable lists", () => {
    const w = world();
    const good = w.doctor.signedList();
    refuses(() => new e2e.Trust().accept(1, good), e2e.UntrustedDevices); // user 2's list given as user 1's
    const [body] = decode(good);
    refuses(() => new e2e.Trust().accept(2, encode([body, new Uint8Array(64)])), e2e.UntrustedDevices);
    refuses(
      () => new e2e.Trust().accept(2, encode([flip(body, body.length - 1), decode(good)[1]])),
      e2e.UntrustedDevices,
    );
    refuses(() => new e2e.Trust().accept(2, ascii("not a list")), e2e.UntrustedDevices);
  });

  test("recipients: members' and reading delegates' unexpired devices", () => {
    const w = world();
    const assistant = new Person(3);
    assistant.addDevice(31);
    w.trust.accept(3, assistant.signedList());
    assert.deepEqual(w.trust.readingDelegates([1, 2], NOW), []);
    w.doctor.delegates = [e2e.delegation(3, [e2e.Scope.READ, e2e.Scope.REPLY], LATER)];
    w.trust.accept(2, w.doctor.signedList());
    const readers = [1, 2, ...w.trust.readingDelegates([1, 2], NOW)];
    assert.deepEqual(readers, [1, 2, 3]);
    assert.deepEqual([...w.trust.recipients(readers, NOW).keys()], [11, 21, 22, 31]);
    assert.deepEqual([...w.trust.recipients(readers, LATER).keys()], []); // all expired by then
    refuses(() => w.trust.recipients([4], NOW), e2e.UntrustedDevices); // no verified list for user 4
  });

  test("the next version of our own list, and when to renew our entry", () => {
    const w = world();
    const current = w.trust.current(2);
    const added = { device: 23, signPk: new Uint8Array(32), encPk: new Uint8Array(32), expires: LATER };
    const next = e2e.nextList(current, {
      add: [added],
      remove: [21],
      delegates: [e2e.delegation(3, [e2e.Scope.READ])],
    });
    assert.deepEqual(
      [next.version, next.devices.map((e) => e.device), next.delegates.map((d) => d.user)],
      [2, [22, 23], [3]],
    );
    const renewed = e2e.nextList(
      { ...current, ...next },
      { add: [{ ...added, expires: LATER + 1 }], dropDelegate: 3 },
    );
    assert.deepEqual(
      [renewed.version, renewed.devices.map((e) => [e.device, e.expires]), renewed.delegates],
      [
        3,
        [
          [22, LATER],
          [23, LATER + 1],
        ],
        [],
      ],
    );
    assert.equal(e2e.nextList(null, { add: [added] }).version, 1);
    assert.ok(e2e.listedFresh(current, 21, NOW));
    assert.ok(!e2e.listedFresh(current, 21, LATER - e2e.RENEW_BEFORE_MS)); // in its last 30 days
    assert.ok(!e2e.listedFresh(current, 99, NOW));
    assert.ok(!e2e.listedFresh(null, 21, NOW));
  });
});

describe("round trips", () => {
  for (const devices of [2, 50]) {
    test(`sealed for ${devices} devices, every one of them reads it`, () => {
      const w = world(devices - 1); // the patient's device and the doctor's others
      const recipients = w.recipients();
      assert.equal(recipients.size, devices);
      const sealed = w.seal("Could you renew my prescription?");
      assert.equal(e2e.decodeEnvelope(sealed).header.recipients.length, devices);
      for (const device of [...w.doctor.devices, w.patient.devices[0]]) {
        const opened = w.open(sealed, { device });
        assert.equal(opened.body.text, "Could you renew my prescription?");
        assert.equal(opened.header.senderUser, 1);
      }
      assert.ok(!Buffer.from(sealed).includes("prescription"));
    });
  }

  test("bodies are padded, so lengths tell little", () => {
    const w = world();
    assert.equal(
      e2e.decodeEnvelope(w.seal("ok")).envelope.body.length,
      e2e.decodeEnvelope(w.seal("x".repeat(200))).envelope.body.length,
    );
  });
});

describe("documents", () => {
  const CHUNK = e2e.DOCUMENT_CHUNK;
  const DOCUMENT = Uint8Array.from({ length: 256_000 }, (_, i) => i % 256); // four chunks
  const encrypted = async (source, key) => {
    const doc = e2e.encryptDocument(source, key);
    const ciphertext = await collect(doc);
    return { doc, ciphertext };
  };

  test("Python's document decrypts whole and in pieces of any size", async () => {
    const ciphertext = fromHex(V.document.ciphertext);
    const key = fromHex(V.document.key);
    const hash = e2e.digest(ciphertext);
    for (const source of [
      ciphertext,
      inPieces(ciphertext, 1000),
      inPieces(ciphertext, 100_000),
      [ciphertext.subarray(0, 5), ciphertext.subarray(5)],
    ]) {
      const plaintext = await collect(e2e.decryptDocument(source, key, hash));
      assert.equal(toHex(e2e.digest(plaintext)), V.document.plaintext_blake2b256);
    }
  });

  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, DOCUMENT.length]) {
    test(`${size} bytes round-trip; the ciphertext is laid out as Python's`, async () => {
      const plaintext = DOCUMENT.subarray(0, size);
      const { doc, ciphertext } = await encrypted(plaintext);
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      assert.equal(ciphertext.length, 24 + size + 17 * chunks);
      assert.equal(doc.size, ciphertext.length);
      assert.deepEqual(doc.hash, e2e.digest(ciphertext));
      assert.deepEqual(await collect(e2e.decryptDocument(ciphertext, doc.key, doc.hash)), plaintext);
      assert.deepEqual(
        await collect(e2e.decryptDocument(inPieces(ciphertext, 4096), doc.key, doc.hash)),
        plaintext,
      );
    });
  }

  test("from a Blob or from pieces of any size; the reference for the body", async () => {
    for (const source of [
      new Blob([DOCUMENT]),
      inPieces(DOCUMENT, 1000),
      [DOCUMENT.subarray(0, 3), DOCUMENT.subarray(3)],
    ]) {
      const { doc, ciphertext } = await encrypted(source);
      assert.deepEqual(await collect(e2e.decryptDocument(ciphertext, doc.key, doc.hash)), DOCUMENT);
      const ref = doc.ref("f".repeat(32), "application/pdf", "scan.pdf");
      assert.deepEqual([ref.size, ref.hash, ref.key], [DOCUMENT.length, doc.hash, doc.key]);
      assert.deepEqual(e2e.codecs.documentRef.decode(e2e.codecs.documentRef.encode(ref)), ref);
    }
  });

  test("the hash is known once the ciphertext was read, and it is read once", async () => {
    const doc = e2e.encryptDocument(DOCUMENT);
    assert.throws(() => doc.hash, /read the whole ciphertext/);
    await collect(doc);
    await assert.rejects(collect(doc), /read once/);
  });

  const CHUNK_OUT = CHUNK + 17;
  const split = (ciphertext) => {
    const head = ciphertext.subarray(0, 24);
    const chunks = [];
    for (let i = 24; i < ciphertext.length; i += CHUNK_OUT)
      chunks.push(ciphertext.subarray(i, i + CHUNK_OUT));
    return [head, chunks];
  };
  const attacks = (ciphertext) => {
    const [head, c] = split(ciphertext);
    return {
      "bit flip": joined([head, c[0], flip(c[1], 10), ...c.slice(2)]),
      reordered: joined([head, c[1], c[0], ...c.slice(2)]),
      duplicated: joined([head, c[0], c[0], ...c.slice(1)]),
      dropped: joined([head, c[0], ...c.slice(2)]),
      truncated: joined([head, ...c.slice(0, -1)]),
      "past the end": joined([ciphertext, c.at(-1)]),
      "header flip": joined([flip(head, 3), ...c]),
      "header only": head,
      "cut in the header": head.subarray(0, 10),
    };
  };

  test("a tampered document is refused even with a matching hash, whole or in pieces", async (t) => {
    const { doc, ciphertext } = await encrypted(DOCUMENT);
    for (const [attack, tampered] of Object.entries(attacks(ciphertext))) {
      const hash = e2e.digest(tampered);
      await t.test(attack, async () => {
        await refusesAsync(collect(e2e.decryptDocument(tampered, doc.key, hash)), e2e.DocumentTampered);
        await refusesAsync(
          collect(e2e.decryptDocument(inPieces(tampered, 5000), doc.key, hash)),
          e2e.DocumentTampered,
        );
      });
    }
  });

  test("a swapped blob is refused: whole, before anything is decrypted; in pieces, at the end", async () => {
    const { ciphertext } = await encrypted(ascii("results: normal"), fixed("document-key"));
    const { ciphertext: other } = await encrypted(ascii("results: normal"), fixed("document-key")); // same key, another stream
    const hash = e2e.digest(ciphertext);
    const whole = e2e.decryptDocument(other, fixed("document-key"), hash);
    await assert.rejects(
      whole.next(),
      (error) => error instanceof e2e.DocumentTampered && /not the ones/.test(error.message),
    );
    await assert.rejects(
      collect(e2e.decryptDocument(inPieces(other, 7), fixed("document-key"), hash)),
      /not the ones/,
    );
    await refusesAsync(
      collect(e2e.decryptDocument(ciphertext, e2e.randomBytes(32), hash)),
      e2e.DocumentTampered,
    ); // wrong key
  });
});

describe("keystores", () => {
  const filled = () => {
    const w = world();
    const keyring = new e2e.Keyring(1, w.patient.devices[0], w.patient.identity, w.trust);
    const assistant = new Person(3);
    assistant.addDevice(31);
    w.trust.accept(3, assistant.signedList());
    assistant.identity = e2e.Identity.generate();
    assert.throws(() => w.trust.accept(3, assistant.signedList()), e2e.IdentityChanged); // held back
    assert.ok(keyring.firstTime(ascii("m".repeat(16)), 5));
    keyring.senderKeys.set(e2e.senderKeyName(7, 11, ascii("k".repeat(16))), ascii("s".repeat(32)));
    return { w, keyring };
  };
  const same = (again, { w, keyring }) => {
    assert.deepEqual(again.trust.current(2), w.trust.current(2));
    assert.deepEqual(again.trust.held, keyring.trust.held);
    assert.throws(() => again.trust.current(3), e2e.IdentityChanged);
    assert.deepEqual(again.trust.pins, w.trust.pins);
    assert.deepEqual(again.device.enc, keyring.device.enc);
    assert.deepEqual(again.device.sign, keyring.device.sign);
    assert.deepEqual(again.identity.public, w.patient.identity.public);
    assert.ok(again.firstTime(ascii("m".repeat(16)), 5));
    assert.ok(!again.firstTime(ascii("m".repeat(16)), 6));
    assert.deepEqual(again.senderKeys, keyring.senderKeys);
    // The restored device still opens what was sealed for it.
    const sealed = w.seal("after a restart");
    assert.equal(
      e2e.openEnvelope(sealed, {
        me: again.device,
        trust: again.trust,
        thread: THREAD,
        senderUser: 1,
        senderDevice: 11,
        now: NOW,
        firstTime: () => true,
      }).body.text,
      "after a restart",
    );
  };

  test("a new keyring: with or without the identity key", () => {
    assert.ok(e2e.Keyring.create(1, 11, { withIdentity: true }).identity instanceof e2e.Identity);
    assert.equal(e2e.Keyring.create(1, 12, { withIdentity: false }).identity, null);
  });

  test("in memory, and as MessagePack (a record is plain data)", async () => {
    const state = filled();
    const store = new e2e.MemoryKeyStore();
    assert.equal(await store.load(), null);
    await store.save(state.keyring);
    same(await store.load(), state);
    same(e2e.Keyring.fromRecord(decode(encode(state.keyring.toRecord()))), state);
    const { senderKeys, ...savedBeforeSenderKeys } = state.keyring.toRecord();
    assert.equal(senderKeys.length, 1);
    assert.equal(e2e.Keyring.fromRecord(savedBeforeSenderKeys).senderKeys.size, 0);
    await store.erase();
    assert.equal(await store.load(), null);
  });

  test("IndexedDB: importing needs none, using it without one says so, with one it round-trips", async () => {
    assert.equal(typeof indexedDB, "undefined");
    const store = new e2e.IndexedDbKeyStore("user-1");
    await assert.rejects(store.load(), /IndexedDB is not available/);
    globalThis.indexedDB = fakeIndexedDB();
    try {
      assert.equal(await store.load(), null);
      const state = filled();
      await store.save(state.keyring);
      same(await new e2e.IndexedDbKeyStore("user-1").load(), state);
      assert.equal(await new e2e.IndexedDbKeyStore("user-2").load(), null);
      await store.erase(); // the device given up: nothing of it is left
      assert.equal(await new e2e.IndexedDbKeyStore("user-1").load(), null);
    } finally {
      delete globalThis.indexedDB;
    }
  });
});

/** Just enough of IndexedDB for one object store, values stored by structured clone. */
function fakeIndexedDB() {
  const databases = new Map();
  const later = (fn) => setTimeout(fn, 0);
  return {
    open(name) {
      const opening = {};
      later(() => {
        const fresh = !databases.has(name);
        if (fresh) databases.set(name, new Map());
        const stores = databases.get(name);
        opening.result = {
          createObjectStore: (store) => stores.set(store, new Map()),
          close() {},
          transaction(store) {
            const data = stores.get(store);
            const transaction = {};
            const request = (act) => {
              const asked = {};
              later(() => {
                asked.result = act();
                later(() => transaction.oncomplete());
              });
              return asked;
            };
            transaction.objectStore = () => ({
              get: (key) => request(() => structuredClone(data.get(key))),
              put: (value, key) => request(() => data.set(key, structuredClone(value)) && key),
              delete: (key) => request(() => data.delete(key) && undefined),
            });
            return transaction;
          },
        };
        if (fresh) opening.onupgradeneeded();
        opening.onsuccess();
      });
      return opening;
    },
  };
}
