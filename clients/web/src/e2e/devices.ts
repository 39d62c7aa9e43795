/**
 * Device keys, signed device lists, and the trust a device places in them
 * (Python's `clients/e2e/devices.py`).
 *
 * A user's identity key (Ed25519) signs the list of their devices; each
 * entry carries the device's signing key and its encryption key (X25519,
 * generated separately). One signature over the whole list certifies every
 * device in it and pins them to a version, so a server can neither add a
 * device nor bring back a removed one.
 *
 * `Trust` is what one device believes about everyone: identity keys pinned on
 * first use, and the newest verified list of each user. A different identity
 * key is held back until the app acknowledges it; an older list, or a
 * different list with the same version, is a rollback.
 */
import { equal } from "./bytes.js";
import { type EncryptionKey, type SigningKey, encryptionKey, sign, signingKey, verify } from "./crypto.js";
import { BadSignature, IdentityChanged, Rollback, UnknownDevice, UntrustedDevices } from "./errors.js";
import {
  DEVICE_LIST_CONTEXT,
  type Delegate,
  type DeviceEntry,
  type DeviceList,
  Scope,
  StructureError,
  allows,
  codecs,
  decodeDeviceList,
} from "./structures.js";

/** How long a device entry is valid: a year. */
export const DEVICE_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** A device renews its entry in its last 30 days (Python's `Secure.setup`). */
export const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** This device's own secrets. */
export class DeviceKeys {
  constructor(
    readonly device: number,
    readonly sign: SigningKey,
    readonly enc: EncryptionKey,
  ) {}

  static generate(device: number): DeviceKeys {
    return new DeviceKeys(device, signingKey(), encryptionKey());
  }

  /** What this new device shows (a QR code) to a device that can approve it. */
  request(user: number): Uint8Array {
    return codecs.deviceRequest.encode({
      user,
      device: this.device,
      signPk: this.sign.publicKey,
      encPk: this.enc.publicKey,
    });
  }
}

/** A user's identity key: whoever holds it decides the user's devices. */
export class Identity {
  constructor(readonly key: SigningKey) {}

  static generate(): Identity {
    return new Identity(signingKey());
  }

  get public(): Uint8Array {
    return this.key.publicKey;
  }

  /** A `SignedDeviceList`'s bytes (what `keys.publish` takes). */
  signList(
    user: number,
    version: number,
    time: number,
    devices: DeviceEntry[],
    delegates: Delegate[] = [],
  ): Uint8Array {
    const body = codecs.deviceList.encode({
      user,
      version,
      time,
      identityPk: this.public,
      devices,
      delegates,
    });
    return codecs.signedDeviceList.encode({ body, sig: sign(this.key, DEVICE_LIST_CONTEXT, body) });
  }
}

/** Read a new device's request; it must be for `user`. */
export function entryFor(request: Uint8Array, user: number, expires: number): DeviceEntry {
  let asked;
  try {
    asked = codecs.deviceRequest.decode(request);
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
    throw new UntrustedDevices(`unreadable device request: ${error.message}`);
  }
  if (asked.user !== user) throw new UntrustedDevices("this device request is for another user");
  return { device: asked.device, signPk: asked.signPk, encPk: asked.encPk, expires };
}

/** A delegation to `user` within `scopes` until `expires` (ms; null: until
 * revoked), its scope written as Python's `Secure.delegate` writes it. */
export function delegation(user: number, scopes: Iterable<Scope>, expires: number | null = null): Delegate {
  return { user, scope: [...new Set(scopes)].sort().join("."), expires };
}

/** What changes from one version of our own list to the next. */
export interface ListChange {
  add?: DeviceEntry[];
  remove?: Iterable<number>;
  /** Each replaces an earlier delegation to the same user. */
  delegates?: Delegate[];
  dropDelegate?: number;
}

/** The next version of our own list (null: we have none yet), for
 * `Identity.signList`: as Python's `Secure._publish` builds it. */
export function nextList(
  current: DeviceList | null,
  change: ListChange,
): Omit<DeviceList, "user" | "time" | "identityPk"> {
  const add = change.add ?? [];
  const removed = new Set(change.remove ?? []);
  const delegates = change.delegates ?? [];
  return {
    version: (current?.version ?? 0) + 1,
    devices: [
      ...(current?.devices ?? []).filter(
        (e) => !removed.has(e.device) && add.every((a) => a.device !== e.device),
      ),
      ...add,
    ],
    delegates: [
      ...(current?.delegates ?? []).filter(
        (d) => d.user !== change.dropDelegate && delegates.every((n) => n.user !== d.user),
      ),
      ...delegates,
    ],
  };
}

/** Whether our current list still vouches for `device` past the renewal
 * margin; if not, a device holding the identity key publishes it again. */
export function listedFresh(list: DeviceList | null, device: number, now: number): boolean {
  return (list?.devices ?? []).some((e) => e.device === device && e.expires > now + RENEW_BEFORE_MS);
}

export interface Known {
  /** The exact bytes that were verified (a rollback check compares them). */
  signed: Uint8Array;
  parsed: DeviceList;
}

export class Trust {
  constructor(
    /** user -> pinned identity key */
    readonly pins = new Map<number, Uint8Array>(),
    /** user -> newest verified list */
    readonly lists = new Map<number, Known>(),
    /** user -> a list under a new identity, until acknowledged */
    readonly held = new Map<number, Known>(),
  ) {}

  /** Verify `user`'s list and make it current; throw if it must not be. */
  accept(user: number, signed: Uint8Array): DeviceList {
    const parsed = verified(user, signed);
    const pinned = this.pins.get(user);
    if (pinned !== undefined && !equal(pinned, parsed.identityPk)) {
      this.held.set(user, { signed, parsed });
      throw new IdentityChanged(user);
    }
    const known = this.lists.get(user);
    if (known !== undefined) {
      if (parsed.version < known.parsed.version)
        throw new Rollback(
          `user ${user}: list version ${parsed.version} is older than ${known.parsed.version}`,
        );
      if (parsed.version === known.parsed.version && !equal(signed, known.signed))
        throw new Rollback(`user ${user}: two different lists with version ${parsed.version}`);
    }
    this.pins.set(user, parsed.identityPk);
    this.lists.set(user, { signed, parsed });
    return parsed;
  }

  /** The app showed the identity change and the user accepted it. */
  acknowledge(user: number): void {
    const held = this.held.get(user);
    if (held === undefined) return;
    this.held.delete(user);
    this.pins.set(user, held.parsed.identityPk);
    this.lists.set(user, held);
  }

  current(user: number): DeviceList {
    if (this.held.has(user)) throw new IdentityChanged(user);
    const known = this.lists.get(user);
    if (known === undefined) throw new UntrustedDevices(`no verified device list for user ${user}`);
    return known.parsed;
  }

  /** `device` if `user`'s current list vouches for it at `now`. */
  device(user: number, device: number, now: number): DeviceEntry {
    const entry = this.current(user).devices.find((e) => e.device === device && e.expires > now);
    if (entry === undefined) throw new UnknownDevice(`device ${device} is not in user ${user}'s signed list`);
    return entry;
  }

  /** The delegates `members` named with the read scope: a message to them is
   * sealed to these users' devices too. */
  readingDelegates(members: Iterable<number>, now: number): number[] {
    const found = new Set<number>();
    for (const member of members)
      for (const d of this.current(member).delegates) if (allows(d, Scope.READ, now)) found.add(d.user);
    return [...found];
  }

  /** device -> encryption key, for every unexpired device of `users` (the
   * thread's members and their reading delegates): what `sealEnvelope` takes. */
  recipients(users: Iterable<number>, now: number): Map<number, Uint8Array> {
    const found = new Map<number, Uint8Array>();
    for (const user of users)
      for (const entry of this.current(user).devices)
        if (entry.expires > now) found.set(entry.device, entry.encPk);
    return found;
  }
}

function verified(user: number, signed: Uint8Array): DeviceList {
  let outer, parsed;
  try {
    ({ signed: outer, list: parsed } = decodeDeviceList(signed));
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
    throw new UntrustedDevices(error.message);
  }
  if (parsed.user !== user)
    throw new UntrustedDevices(`a list for user ${parsed.user} was given as user ${user}'s`);
  try {
    verify(parsed.identityPk, DEVICE_LIST_CONTEXT, outer.body, outer.sig);
  } catch (error) {
    if (!(error instanceof BadSignature)) throw error;
    throw new UntrustedDevices(`user ${user}'s device list is not signed by its identity key`);
  }
  return parsed;
}
