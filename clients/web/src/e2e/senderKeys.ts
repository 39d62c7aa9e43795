/**
 * Sender keys (Python's `clients/e2e/sender_keys.py`): one key per sending
 * device and thread, sealed once to each reading device, from which every
 * message's content key is derived.
 *
 * A thread with many devices would otherwise carry a sealed key per device in
 * every message (80 bytes each). The sender instead distributes a random
 * 32-byte key once (`keys.distribute`): signed with its device key, committed
 * to (so every reader provably holds the same key), and sealed to each device
 * the server checks the thread has. Each message's content key is
 * `BLAKE2b(key = sender key, "carehub-mkey1" || msgId)`. The server refuses a
 * message whose key no longer reaches exactly the thread's devices, so a key
 * rotates on every membership or device change.
 */
import { equal } from "./bytes.js";
import { randomBytes, senderKeyCommitment, sign, unseal, verify } from "./crypto.js";
import type { DeviceKeys } from "./devices.js";
import { type OpenContext, sealToEach } from "./envelope.js";
import { BadCommitment, BadSignature, WrongThread } from "./errors.js";
import {
  SENDER_KEY_CONTEXT,
  SENDER_KEY_VERSION,
  StructureError,
  codecs,
  decodeSenderKey,
} from "./structures.js";

/** This device's current key for one thread, and the devices it was sealed
 * to, with the encryption key of each (a device that makes a new key under
 * the same id needs a new sender key too). */
export interface OwnSenderKey {
  readonly keyId: Uint8Array;
  readonly key: Uint8Array;
  readonly devices: ReadonlyMap<number, Uint8Array>;
}

/** `keys.distribute`'s params, as they go on the wire. */
export interface Distribution {
  thread: number;
  /** A MessagePack SignedSenderKey. */
  key: Uint8Array;
  /** [device, the key sealed to it], by ascending device. */
  recipients: [number, Uint8Array][];
}

/** A fresh key for `thread` and the `keys.distribute` call that seals it to
 * `devices` (device -> X25519 public key). `key` and `keyId` are random
 * unless fixed (known-answer vectors only). */
export function newSenderKey(
  thread: number,
  senderUser: number,
  sender: DeviceKeys,
  devices: ReadonlyMap<number, Uint8Array>,
  now: number,
  fixed: { key?: Uint8Array; keyId?: Uint8Array } = {},
): { own: OwnSenderKey; distribution: Distribution } {
  const key = fixed.key ?? randomBytes(32);
  const keyId = fixed.keyId ?? randomBytes(16);
  const body = codecs.senderKey.encode({
    v: SENDER_KEY_VERSION,
    thread,
    senderUser,
    senderDevice: sender.device,
    keyId,
    commit: senderKeyCommitment(key, keyId),
    created: now,
  });
  const signed = codecs.signedSenderKey.encode({ key: body, sig: sign(sender.sign, SENDER_KEY_CONTEXT, body) });
  return {
    own: { keyId, key, devices: new Map(devices) },
    distribution: {
      thread,
      key: signed,
      recipients: sealToEach(key, devices).map((r): [number, Uint8Array] => [r.device, r.key]),
    },
  };
}

/** Who opens a sender key, and the message that names it. */
export interface SenderKeyContext extends Omit<OpenContext, "firstTime" | "senderKey"> {
  /** The version 2 header's `senderKey`. */
  keyId: Uint8Array;
}

/** The sender key a version 2 header names, once it is the one asked for,
 * signed by a device in the sender's list, for this thread, and the key it
 * commits to. `signed` and `wrapped` are what `keys.sender_key` answers. */
export function openSenderKey(signed: Uint8Array, wrapped: Uint8Array, context: SenderKeyContext): Uint8Array {
  let outer, body;
  try {
    ({ signed: outer, senderKey: body } = decodeSenderKey(signed));
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
    throw new BadSignature(`not a sender key: ${error.message}`);
  }
  if (
    body.senderUser !== context.senderUser ||
    body.senderDevice !== context.senderDevice ||
    !equal(body.keyId, context.keyId)
  )
    throw new BadSignature("the sender key is not the one the message names");
  const device = context.trust.device(context.senderUser, context.senderDevice, context.now);
  verify(device.signPk, SENDER_KEY_CONTEXT, outer.key, outer.sig);
  if (body.thread !== context.thread)
    throw new WrongThread(`this sender key is for thread ${body.thread}, not ${context.thread}`);
  const key = unseal(wrapped, context.me.enc);
  if (!equal(senderKeyCommitment(key, context.keyId), body.commit))
    throw new BadCommitment("the sender key is not the one it commits to");
  return key;
}
