/**
 * The shapes of end-to-end encryption, as `protocol/e2e.py` defines them and
 * docs/e2e.md ("Exact encodings") writes them: arrays in field order, an
 * absent optional element as nil, except the Body, a map that leaves out the
 * fields at their default. @msgpack/msgpack's default encoder writes the same
 * bytes as msgspec on the Python side (`tests/vectors/e2e.json`, `structures`).
 *
 * Signed things travel as the exact bytes that were signed
 * (`SignedDeviceList.body`, `Envelope.header`, `SignedSenderKey.key`):
 * nothing is re-encoded before it is verified.
 */
import { decode, encode } from "@msgpack/msgpack";
import { CarehubError } from "../errors.js";
import { utf8 } from "./bytes.js";

/** The content key sealed to every device in the header. */
export const ENVELOPE_VERSION = 1;
/** The content key derived from the sender's distributed key. */
export const GROUP_ENVELOPE_VERSION = 2;
export const SENDER_KEY_VERSION = 1;
// Domain separation: each signature, AD and MAC input starts with its own label.
export const DEVICE_LIST_CONTEXT = utf8("carehub-devices1");
export const SIGNATURE_CONTEXT = utf8("carehub-sig1");
export const AD_CONTEXT = utf8("carehub-env1");
export const COMMIT_CONTEXT = utf8("carehub-commit1");
/** A device's signature over its SenderKey. */
export const SENDER_KEY_CONTEXT = utf8("carehub-skey1");
export const SENDER_KEY_COMMIT_CONTEXT = utf8("carehub-skcommit1");
/** A message's content key, derived from a sender key. */
export const MESSAGE_KEY_CONTEXT = utf8("carehub-mkey1");
/** Threads whose readers have more devices than this get sender keys (version
 * 2 envelopes): below it, a key sealed per device costs less than a
 * distribution and keeps each message self-contained. */
export const SENDER_KEYS_ABOVE = 16;
/** The associated data of every document chunk. */
export const DOCUMENT_CONTEXT = utf8("carehub-doc1");
/** Bodies are padded (libsodium's `sodium_pad`) to a multiple of this. */
export const PAD_BLOCK = 256;
/** Plaintext bytes per secretstream chunk (the last may be shorter). */
export const DOCUMENT_CHUNK = 64 * 1024;
/** SHA-512 rounds of a safety-number fingerprint. */
export const SAFETY_ITERATIONS = 5200;
/** A fingerprint's first input bytes. */
export const SAFETY_VERSION = Uint8Array.of(0, 0);
export const QR_VERSION = 1;
/** The largest integer on the wire (`protocol.model.MAX_INT`): JavaScript's safe range. */
export const MAX_INT = Number.MAX_SAFE_INTEGER;

/** A device the identity key vouches for, until `expires` (ms). */
export interface DeviceEntry {
  device: number;
  /** Ed25519: the device signs envelopes with it. */
  signPk: Uint8Array;
  /** X25519: content keys are sealed to it. */
  encPk: Uint8Array;
  expires: number;
}

/** What a new device shows (as a QR code) to a device that can approve it. */
export interface DeviceRequest {
  user: number;
  device: number;
  signPk: Uint8Array;
  encPk: Uint8Array;
}

/** What a delegation lets an assistant do for a practitioner. */
export const Scope = {
  /** Their threads: events, history, documents, the audit trail. */
  READ: "read",
  /** Answer in those threads for them (needs read), close, reopen. */
  REPLY: "reply",
  TEMPLATES: "templates",
  AGENDA: "agenda",
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** An assistant who may act for a user within `scope` (scopes joined by
 * dots, e.g. "read.reply") until `expires` (ms; null: until revoked). */
export interface Delegate {
  user: number;
  scope: string;
  expires: number | null;
}

/** A user's devices and delegates, signed by the user's identity key.
 * `version` only increases: clients refuse a list older than one seen. */
export interface DeviceList {
  user: number;
  version: number;
  time: number;
  identityPk: Uint8Array;
  devices: DeviceEntry[];
  delegates: Delegate[];
}

export interface SignedDeviceList {
  /** A MessagePack DeviceList, exactly as signed. */
  body: Uint8Array;
  /** Ed25519 by `identityPk` over "carehub-devices1" || body. */
  sig: Uint8Array;
}

/** The content key sealed to one device (`crypto_box_seal`). */
export interface Recipient {
  device: number;
  key: Uint8Array;
}

/** What the server may read: routing, dedupe, triage. Signed with the body. */
export interface Header {
  v: number;
  thread: number;
  msgId: Uint8Array;
  senderUser: number;
  senderDevice: number;
  ts: number;
  kind: string;
  reason: string | null;
  /** By ascending device, each device once. */
  recipients: Recipient[];
  /** Keyed BLAKE2b of "carehub-commit1" || msgId under the content key. */
  commit: Uint8Array;
  nonce: Uint8Array;
  /** The practitioner an assistant answers for. */
  actingFor: number | null;
}

/** A version 2 header: the same fields as `Header` but the ninth, which
 * names the sender key the content key derives from instead of sealing it
 * to every device. Its size does not grow with the thread. */
export interface GroupHeader extends Omit<Header, "recipients"> {
  /** The `SenderKey.keyId` of this sender device in this thread. */
  senderKey: Uint8Array;
}

export type AnyHeader = Header | GroupHeader;

/** A sending device's key for one thread, sealed once to each reader device
 * (`keys.distribute`) instead of once per message. The key itself travels
 * sealed only; this names it and commits to it, so every reader provably
 * holds the same key. */
export interface SenderKey {
  v: number;
  thread: number;
  senderUser: number;
  senderDevice: number;
  keyId: Uint8Array;
  /** Keyed BLAKE2b of "carehub-skcommit1" || keyId under the key. */
  commit: Uint8Array;
  /** ms, the sender's clock. */
  created: number;
}

export interface SignedSenderKey {
  /** A MessagePack SenderKey, exactly as signed. */
  key: Uint8Array;
  /** The sender device's: "carehub-skey1" || key. */
  sig: Uint8Array;
}

export interface Envelope {
  /** A MessagePack Header or GroupHeader, exactly as signed and used as associated data. */
  header: Uint8Array;
  /** XChaCha20-Poly1305 of a padded MessagePack Body. */
  body: Uint8Array;
  /** The sender device's: "carehub-sig1" || header || BLAKE2b-256(body). */
  sig: Uint8Array;
}

/** An encrypted document, described inside the encrypted body only. */
export interface DocumentRef {
  /** The server's id of the uploaded ciphertext (32 hex digits). */
  file: string;
  /** The secretstream key. */
  key: Uint8Array;
  /** Plaintext bytes. */
  size: number;
  mime: string;
  name: string;
  /** BLAKE2b-256 of the ciphertext, checked before decrypting. */
  hash: Uint8Array;
}

/** The plaintext of a message, never seen by the server. */
export interface Body {
  text: string;
  subject: string;
  documents: DocumentRef[];
}

/** What one side shows to be scanned when verifying in person. */
export interface QrPayload {
  v: number;
  me: number;
  myFingerprint: Uint8Array;
  them: number;
  theirFingerprint: Uint8Array;
}

/** Whether `delegate` covers `scope` at `now`. Words are matched as written:
 * the server refuses lists it cannot parse. */
export function allows(delegate: Delegate, scope: Scope, now: number): boolean {
  return (delegate.expires === null || delegate.expires > now) && delegate.scope.split(".").includes(scope);
}

/** Bytes that are not the structure they should be (Python's `DecodeError`). */
export class StructureError extends CarehubError {
  override name = "StructureError";
}

type Read<T> = (value: unknown, where: string) => T;

function fail(where: string, expected: string): never {
  throw new StructureError(`${where}: expected ${expected}`);
}

/** A structure's MessagePack form, both ways (one per structure: `codecs`). */
export class Codec<T, Input = T> {
  constructor(
    readonly what: string,
    /** The value as @msgpack/msgpack is to write it (nested structures use it too). */
    readonly toWire: (value: Input) => unknown,
    /** The value from what @msgpack/msgpack read, checked as msgspec checks it. */
    readonly fromWire: Read<T>,
  ) {}

  encode(value: Input): Uint8Array {
    return encode(this.toWire(value));
  }

  /** Throws `StructureError` for anything but this structure. */
  decode(data: Uint8Array): T {
    let wire: unknown;
    try {
      wire = decode(data);
    } catch (error) {
      throw new StructureError(`${this.what}: ${error instanceof Error ? error.message : error}`);
    }
    return this.fromWire(wire, this.what);
  }
}

const integer =
  (min: number): Read<number> =>
  (value, where) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= MAX_INT
      ? (value as number)
      : fail(where, `an integer from ${min} to ${MAX_INT}`);
const id = integer(1);
const natural = integer(0);

const bytes =
  (length?: number): Read<Uint8Array> =>
  (value, where) =>
    value instanceof Uint8Array && (length === undefined || value.length === length)
      ? value
      : fail(where, length === undefined ? "bytes" : `${length} bytes`);
const anyBytes = bytes();
const key32 = bytes(32);
const signature = bytes(64);
/** A message id, or a sender key's id. */
const id16 = bytes(16);

const text: Read<string> = (value, where) => (typeof value === "string" ? value : fail(where, "a string"));
/** `kind`, `reason`, a delegate's `scope`. */
const short: Read<string> = (value, where) =>
  typeof value === "string" && value.length <= 32 && /^[a-z0-9_.]*$/.test(value)
    ? value
    : fail(where, "a string of up to 32 of [a-z0-9_.]");

const nullable =
  <T>(read: Read<T>): Read<T | null> =>
  (value, where) =>
    value === null ? null : read(value, where);

const list =
  <T>(read: Read<T>, min: number, max: number): Read<T[]> =>
  (value, where) =>
    Array.isArray(value) && value.length >= min && value.length <= max
      ? value.map((item, i) => read(item, `${where}[${i}]`))
      : fail(where, `an array of ${min} to ${max} items`);

/** The elements of an array-encoded structure. Like msgspec, trailing
 * elements that have a default may be missing (destructuring defaults them). */
function elements(value: unknown, where: string, required: number, all = required): unknown[] {
  if (Array.isArray(value) && value.length >= required && value.length <= all) return value;
  return fail(where, `an array of ${required === all ? all : `${required} to ${all}`} elements`);
}

const deviceEntry = new Codec<DeviceEntry>(
  "device entry",
  (e) => [e.device, e.signPk, e.encPk, e.expires],
  (value, where) => {
    const [device, signPk, encPk, expires] = elements(value, where, 4);
    return {
      device: id(device, `${where}.device`),
      signPk: key32(signPk, `${where}.sign_pk`),
      encPk: key32(encPk, `${where}.enc_pk`),
      expires: natural(expires, `${where}.expires`),
    };
  },
);

const deviceRequest = new Codec<DeviceRequest>(
  "device request",
  (r) => [r.user, r.device, r.signPk, r.encPk],
  (value, where) => {
    const [user, device, signPk, encPk] = elements(value, where, 4);
    return {
      user: id(user, `${where}.user`),
      device: id(device, `${where}.device`),
      signPk: key32(signPk, `${where}.sign_pk`),
      encPk: key32(encPk, `${where}.enc_pk`),
    };
  },
);

const delegate = new Codec<Delegate>(
  "delegate",
  (d) => [d.user, d.scope, d.expires],
  (value, where) => {
    const [user, scope, expires = null] = elements(value, where, 2, 3);
    return {
      user: id(user, `${where}.user`),
      scope: short(scope, `${where}.scope`),
      expires: nullable(natural)(expires, `${where}.expires`),
    };
  },
);

const deviceList = new Codec<DeviceList>(
  "device list body",
  (l) => [
    l.user,
    l.version,
    l.time,
    l.identityPk,
    l.devices.map(deviceEntry.toWire),
    l.delegates.map(delegate.toWire),
  ],
  (value, where) => {
    const [user, version, time, identityPk, devices, delegates = []] = elements(value, where, 5, 6);
    return {
      user: id(user, `${where}.user`),
      version: id(version, `${where}.version`),
      time: natural(time, `${where}.time`),
      identityPk: key32(identityPk, `${where}.identity_pk`),
      devices: list(deviceEntry.fromWire, 0, 64)(devices, `${where}.devices`),
      delegates: list(delegate.fromWire, 0, 64)(delegates, `${where}.delegates`),
    };
  },
);

const signedDeviceList = new Codec<SignedDeviceList>(
  "device list",
  (s) => [s.body, s.sig],
  (value, where) => {
    const [body, sig] = elements(value, where, 2);
    return { body: anyBytes(body, `${where}.body`), sig: signature(sig, `${where}.sig`) };
  },
);

const recipient: Read<Recipient> = (value, where) => {
  const [device, key] = elements(value, where, 2);
  // crypto_box_seal of a 32-byte key: 32 (ephemeral public key) + 16 (MAC) + 32.
  return { device: id(device, `${where}.device`), key: bytes(80)(key, `${where}.key`) };
};

/** A header's recipients, refused out of order as Python's `decode_header` does. */
const recipients: Read<Recipient[]> = (value, where) => {
  const read = list(recipient, 1, 1024)(value, where);
  if (read.some((r, i) => i > 0 && r.device <= read[i - 1]!.device))
    fail(where, "devices in ascending order, each once");
  return read;
};

type HeaderFields = Omit<Header, "recipients">;

/** Both header versions' elements: the ninth is each version's own. */
const headerElements = (h: HeaderFields, ninth: unknown): unknown[] => [
  h.v,
  h.thread,
  h.msgId,
  h.senderUser,
  h.senderDevice,
  h.ts,
  h.kind,
  h.reason,
  ninth,
  h.commit,
  h.nonce,
  h.actingFor,
];

/** The fields both header versions share, read and checked (another
 * `version` is refused); the ninth element is left to the caller. */
function headerFields(value: unknown, where: string, version: number): { fields: HeaderFields; ninth: unknown } {
  const [
    v,
    thread,
    msgId,
    senderUser,
    senderDevice,
    ts,
    kind,
    reason,
    ninth,
    commit,
    nonce,
    actingFor = null,
  ] = elements(value, where, 11, 12);
  const fields: HeaderFields = {
    v: natural(v, `${where}.v`),
    thread: id(thread, `${where}.thread`),
    msgId: id16(msgId, `${where}.msg_id`),
    senderUser: id(senderUser, `${where}.sender_user`),
    senderDevice: id(senderDevice, `${where}.sender_device`),
    ts: natural(ts, `${where}.ts`),
    kind: short(kind, `${where}.kind`),
    reason: nullable(short)(reason, `${where}.reason`),
    commit: key32(commit, `${where}.commit`),
    nonce: bytes(24)(nonce, `${where}.nonce`),
    actingFor: nullable(id)(actingFor, `${where}.acting_for`),
  };
  if (fields.v !== version) fail(`${where}.v`, `envelope version ${version}`);
  return { fields, ninth };
}

/** A version 1 header. */
const header = new Codec<Header>(
  "envelope header",
  (h) => headerElements(h, h.recipients.map((r) => [r.device, r.key])),
  (value, where) => {
    const { fields, ninth } = headerFields(value, where, ENVELOPE_VERSION);
    return { ...fields, recipients: recipients(ninth, `${where}.recipients`) };
  },
);

/** A version 2 header. */
const groupHeader = new Codec<GroupHeader>(
  "envelope header",
  (h) => headerElements(h, h.senderKey),
  (value, where) => {
    const { fields, ninth } = headerFields(value, where, GROUP_ENVELOPE_VERSION);
    return { ...fields, senderKey: id16(ninth, `${where}.sender_key`) };
  },
);

/** Either header version, by its first element (Python's `decode_header`). */
const anyHeader = new Codec<AnyHeader>(
  "envelope header",
  (h) => ("senderKey" in h ? groupHeader.toWire(h) : header.toWire(h)),
  (value, where) => {
    const [version] = elements(value, where, 11, 12);
    if (version === GROUP_ENVELOPE_VERSION) return groupHeader.fromWire(value, where);
    if (version === ENVELOPE_VERSION) return header.fromWire(value, where);
    return fail(`${where}.v`, `envelope version ${ENVELOPE_VERSION} or ${GROUP_ENVELOPE_VERSION}`);
  },
);

/** Also refuses another sender key version, as Python's `decode_sender_key` does. */
const senderKey = new Codec<SenderKey>(
  "sender key body",
  (k) => [k.v, k.thread, k.senderUser, k.senderDevice, k.keyId, k.commit, k.created],
  (value, where) => {
    const [v, thread, senderUser, senderDevice, keyId, commit, created] = elements(value, where, 7);
    const read: SenderKey = {
      v: natural(v, `${where}.v`),
      thread: id(thread, `${where}.thread`),
      senderUser: id(senderUser, `${where}.sender_user`),
      senderDevice: id(senderDevice, `${where}.sender_device`),
      keyId: id16(keyId, `${where}.key_id`),
      commit: key32(commit, `${where}.commit`),
      created: natural(created, `${where}.created`),
    };
    if (read.v !== SENDER_KEY_VERSION) fail(`${where}.v`, `sender key version ${SENDER_KEY_VERSION}`);
    return read;
  },
);

const signedSenderKey = new Codec<SignedSenderKey>(
  "sender key",
  (s) => [s.key, s.sig],
  (value, where) => {
    const [key, sig] = elements(value, where, 2);
    return { key: anyBytes(key, `${where}.key`), sig: signature(sig, `${where}.sig`) };
  },
);

const envelope = new Codec<Envelope>(
  "envelope",
  (e) => [e.header, e.body, e.sig],
  (value, where) => {
    const [header, body, sig] = elements(value, where, 3);
    return {
      header: anyBytes(header, `${where}.header`),
      body: anyBytes(body, `${where}.body`),
      sig: signature(sig, `${where}.sig`),
    };
  },
);

const documentRef = new Codec<DocumentRef>(
  "document reference",
  (d) => [d.file, d.key, d.size, d.mime, d.name, d.hash],
  (value, where) => {
    const [file, key, size, mime, name, hash] = elements(value, where, 6);
    return {
      file: text(file, `${where}.file`),
      key: key32(key, `${where}.key`),
      size: natural(size, `${where}.size`),
      mime: text(mime, `${where}.mime`),
      name: text(name, `${where}.name`),
      hash: key32(hash, `${where}.hash`),
    };
  },
);

/** A map without the fields at their default (an empty body is `0x80`);
 * a reader takes a missing field as its default and ignores unknown ones. */
const body = new Codec<Body, Partial<Body>>(
  "body",
  ({ text = "", subject = "", documents = [] }) => ({
    ...(text ? { text } : {}),
    ...(subject ? { subject } : {}),
    ...(documents.length ? { documents: documents.map(documentRef.toWire) } : {}),
  }),
  (value, where) => {
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array)
      fail(where, "a map");
    const { text: words = "", subject = "", documents = [] } = value as Record<string, unknown>;
    return {
      text: text(words, `${where}.text`),
      subject: text(subject, `${where}.subject`),
      documents: list(documentRef.fromWire, 0, MAX_INT)(documents, `${where}.documents`),
    };
  },
);

const qrPayload = new Codec<QrPayload>(
  "QR payload",
  (q) => [q.v, q.me, q.myFingerprint, q.them, q.theirFingerprint],
  (value, where) => {
    const [v, me, myFingerprint, them, theirFingerprint] = elements(value, where, 5);
    return {
      v: natural(v, `${where}.v`),
      me: id(me, `${where}.me`),
      myFingerprint: key32(myFingerprint, `${where}.my_fingerprint`),
      them: id(them, `${where}.them`),
      theirFingerprint: key32(theirFingerprint, `${where}.their_fingerprint`),
    };
  },
);

/** Every structure's codec: `codecs.header.decode(bytes)`, `codecs.body.encode({text})`. */
export const codecs = {
  deviceEntry,
  deviceRequest,
  delegate,
  deviceList,
  signedDeviceList,
  header,
  groupHeader,
  anyHeader,
  senderKey,
  signedSenderKey,
  envelope,
  documentRef,
  body,
  qrPayload,
};

/** A signed list's two layers, as Python's `decode_device_list`. */
export function decodeDeviceList(data: Uint8Array): { signed: SignedDeviceList; list: DeviceList } {
  const signed = signedDeviceList.decode(data);
  return { signed, list: deviceList.decode(signed.body) };
}

/** An envelope and its header (either version), as Python's `decode_envelope`. */
export function decodeEnvelope(data: Uint8Array): { envelope: Envelope; header: AnyHeader } {
  const outer = envelope.decode(data);
  return { envelope: outer, header: anyHeader.decode(outer.header) };
}

/** A signed sender key's two layers, as Python's `decode_sender_key`. */
export function decodeSenderKey(data: Uint8Array): { signed: SignedSenderKey; senderKey: SenderKey } {
  const signed = signedSenderKey.decode(data);
  return { signed, senderKey: senderKey.decode(signed.key) };
}
