/**
 * Sealing and opening a message envelope (Python's `clients/e2e/envelope.py`).
 *
 * One content key per message encrypts the padded body once
 * (XChaCha20-Poly1305, the header as associated data). In a version 1
 * envelope the key is fresh and sealed to every recipient device in the
 * header; in a version 2 one it is derived from the sender key the header
 * names (`senderKeys.ts`). The header commits to the key; the sender device
 * signs the header and a hash of the body. `openEnvelope` runs the checks in
 * a fixed order and returns plaintext only when all of them pass.
 */
import { concat, equal, toHex } from "./bytes.js";
import {
  aeadDecrypt,
  aeadEncrypt,
  commitment,
  digest,
  messageKey,
  pad,
  randomBytes,
  seal,
  sign,
  unpad,
  unseal,
  verify,
} from "./crypto.js";
import type { DeviceKeys, Trust } from "./devices.js";
import {
  BadCommitment,
  BadSignature,
  DecryptionFailed,
  NotDelegated,
  NotForThisDevice,
  Replay,
  WrongThread,
} from "./errors.js";
import type { OwnSenderKey } from "./senderKeys.js";
import {
  AD_CONTEXT,
  ENVELOPE_VERSION,
  GROUP_ENVELOPE_VERSION,
  SIGNATURE_CONTEXT,
  Scope,
  StructureError,
  allows,
  codecs,
  decodeEnvelope,
  type AnyHeader,
  type Body,
  type Recipient,
} from "./structures.js";

/** What the sender decides. */
export interface Outgoing {
  thread: number;
  senderUser: number;
  body: Partial<Body>;
  /** device -> X25519 public key: every current device of every reader,
   * this sending device included (`Trust.recipients`). Version 1 only. */
  recipients: ReadonlyMap<number, Uint8Array>;
  /** "text" unless the call says otherwise. */
  kind?: string;
  reason?: string | null;
  actingFor?: number | null;
  /** The sender's clock, ms. */
  ts: number;
  // Fixed randomness, for known-answer vectors only.
  msgId?: Uint8Array;
  contentKey?: Uint8Array;
  nonce?: Uint8Array;
}

export interface Sealed {
  /** The envelope's bytes (`messages.send` `envelope`). */
  data: Uint8Array;
  /** Its lowercase hex is the call's `client_msg_id`. */
  msgId: Uint8Array;
}

export interface Opened {
  header: AnyHeader;
  body: Body;
}

/** `key` sealed to each of `devices` (device -> X25519 public key), by
 * ascending device: a version 1 header's recipients, a distribution's. */
export function sealToEach(key: Uint8Array, devices: ReadonlyMap<number, Uint8Array>): Recipient[] {
  return [...devices].sort(([a], [b]) => a - b).map(([device, encPk]) => ({ device, key: seal(key, encPk) }));
}

/** A version 1 envelope, or with `senderKey` a version 2 one. */
export function sealEnvelope(message: Outgoing, sender: DeviceKeys, senderKey?: OwnSenderKey): Sealed {
  const msgId = message.msgId ?? randomBytes(16);
  const contentKey = senderKey ? messageKey(senderKey.key, msgId) : (message.contentKey ?? randomBytes(32));
  const common = {
    thread: message.thread,
    msgId,
    senderUser: message.senderUser,
    senderDevice: sender.device,
    ts: message.ts,
    kind: message.kind ?? "text",
    reason: message.reason ?? null,
    commit: commitment(contentKey, msgId),
    nonce: message.nonce ?? randomBytes(24),
    actingFor: message.actingFor ?? null,
  };
  const headerBytes = senderKey
    ? codecs.groupHeader.encode({ ...common, v: GROUP_ENVELOPE_VERSION, senderKey: senderKey.keyId })
    : codecs.header.encode({ ...common, v: ENVELOPE_VERSION, recipients: sealToEach(contentKey, message.recipients) });
  const body = aeadEncrypt(
    contentKey,
    common.nonce,
    pad(codecs.body.encode(message.body)),
    concat(AD_CONTEXT, headerBytes),
  );
  const sig = sign(sender.sign, SIGNATURE_CONTEXT, concat(headerBytes, digest(body)));
  return { data: codecs.envelope.encode({ header: headerBytes, body, sig }), msgId };
}

/** Who is opening, and what the server says about the message. */
export interface OpenContext {
  me: DeviceKeys;
  trust: Trust;
  /** The thread, sender and sender device the server reports: the header must agree. */
  thread: number;
  senderUser: number;
  senderDevice: number;
  now: number;
  /** False if this message id arrived before as another message (`Keyring.firstTime`). */
  firstTime: (msgId: Uint8Array) => boolean;
  /** For a version 2 envelope: the verified sender key it names
   * (`openSenderKey`), if this device has it. */
  senderKey?: Uint8Array | null;
}

/**
 * Check, in order: the header's sender is the one the server reports; the
 * sender device is in the sender's signed list; the signature; `actingFor`
 * is backed by a reply delegation; the thread; the message id is new; a key
 * was sealed for this device and opens (version 1) or the sender key was
 * given (version 2); the commitment; the body decrypts.
 * Throws the `E2EError` of the first check that fails.
 */
export function openEnvelope(data: Uint8Array, context: OpenContext): Opened {
  const { me, trust, now } = context;
  let envelope, header;
  try {
    ({ envelope, header } = decodeEnvelope(data));
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
    throw new DecryptionFailed(`not an envelope: ${error.message}`);
  }
  if (header.senderUser !== context.senderUser || header.senderDevice !== context.senderDevice)
    throw new BadSignature("the header names another sender than the one who sent it");
  const device = trust.device(header.senderUser, header.senderDevice, now);
  verify(device.signPk, SIGNATURE_CONTEXT, concat(envelope.header, digest(envelope.body)), envelope.sig);
  if (header.actingFor !== null) {
    const delegates = trust.current(header.actingFor).delegates;
    if (!delegates.some((d) => d.user === header.senderUser && allows(d, Scope.REPLY, now)))
      throw new NotDelegated(`user ${header.senderUser} may not act for user ${header.actingFor}`);
  }
  if (header.thread !== context.thread)
    throw new WrongThread(`this envelope was sealed for thread ${header.thread}, not ${context.thread}`);
  if (!context.firstTime(header.msgId))
    throw new Replay(`message id ${toHex(header.msgId)} was already used`);
  const contentKey = contentKeyOf(header, me, context.senderKey ?? null);
  if (!equal(commitment(contentKey, header.msgId), header.commit))
    throw new BadCommitment("the content key is not the one the header commits to");
  const plaintext = unpad(
    aeadDecrypt(contentKey, header.nonce, envelope.body, concat(AD_CONTEXT, envelope.header)),
  );
  try {
    return { header, body: codecs.body.decode(plaintext) };
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
    throw new DecryptionFailed(`unreadable body: ${error.message}`);
  }
}

function contentKeyOf(header: AnyHeader, me: DeviceKeys, senderKey: Uint8Array | null): Uint8Array {
  if ("senderKey" in header) {
    if (senderKey === null) throw new NotForThisDevice(`no sender key was sealed for device ${me.device}`);
    return messageKey(senderKey, header.msgId);
  }
  const wrapped = header.recipients.find((r) => r.device === me.device);
  if (wrapped === undefined) throw new NotForThisDevice(`no key was sealed for device ${me.device}`);
  return unseal(wrapped.key, me.enc);
}
