/**
 * What one device keeps (Python's `clients/e2e/keystore.py`): its keys, the
 * user's identity key if this device holds it, the trust it places in
 * others, the message ids it has opened, and the sender keys it verified
 * (so that the service worker can preview a big group's message without
 * asking the server); and where it keeps them.
 *
 * Like Python's file (and the key stores of Signal Desktop and Element), a
 * saved keyring is not encrypted with a passphrase: it relies on the
 * storage's own protection (the browser profile's, for IndexedDB).
 */
import { toHex } from "./bytes.js";
import { encryptionKey, signingKey } from "./crypto.js";
import { DeviceKeys, Identity, type Known, Trust } from "./devices.js";
import { decodeDeviceList } from "./structures.js";

/** A keyring as plain data: bytes, numbers and arrays, fit for IndexedDB's
 * structured clone or for MessagePack. Lists are kept as the signed bytes. */
export interface KeyringRecord {
  user: number;
  device: number;
  signSeed: Uint8Array;
  encKey: Uint8Array;
  identitySeed: Uint8Array | null;
  pins: [number, Uint8Array][];
  lists: [number, Uint8Array][];
  held: [number, Uint8Array][];
  /** [message id in hex, server message id] */
  seen: [string, number][];
  /** [`senderKeyName`, a verified sender key]; absent in records saved before them */
  senderKeys?: [string, Uint8Array][];
}

/** How a keyring names a sender key: the thread, the device that
 * distributed it, its id. */
export function senderKeyName(thread: number, device: number, keyId: Uint8Array): string {
  return `${thread}/${device}/${toHex(keyId)}`;
}

export class Keyring {
  constructor(
    readonly user: number,
    readonly device: DeviceKeys,
    readonly identity: Identity | null = null,
    readonly trust = new Trust(),
    /** message id (hex) -> the server message it arrived as */
    readonly seen = new Map<string, number>(),
    /** `senderKeyName` -> a sender key `openSenderKey` verified */
    readonly senderKeys = new Map<string, Uint8Array>(),
  ) {}

  /** A new device; the first device of a user also makes the identity key. */
  static create(user: number, device: number, options: { withIdentity: boolean }): Keyring {
    return new Keyring(user, DeviceKeys.generate(device), options.withIdentity ? Identity.generate() : null);
  }

  /** Record that `msgId` arrived as server message `messageId`; false if it
   * arrived before as another message (a replay). */
  firstTime(msgId: Uint8Array, messageId: number): boolean {
    const key = toHex(msgId);
    const known = this.seen.get(key);
    if (known === undefined) this.seen.set(key, messageId);
    return known === undefined || known === messageId;
  }

  /** A copy as plain data (bytes copied, so nothing shares a larger buffer). */
  toRecord(): KeyringRecord {
    const copied = <K>(entries: Iterable<[K, Uint8Array]>): [K, Uint8Array][] =>
      Array.from(entries, ([key, bytes]) => [key, bytes.slice()]);
    const signed = (known: Map<number, Known>) => copied(Array.from(known, ([user, k]) => [user, k.signed]));
    return {
      user: this.user,
      device: this.device.device,
      signSeed: this.device.sign.seed.slice(),
      encKey: this.device.enc.secretKey.slice(),
      identitySeed: this.identity?.key.seed.slice() ?? null,
      pins: copied(this.trust.pins),
      lists: signed(this.trust.lists),
      held: signed(this.trust.held),
      seen: [...this.seen],
      senderKeys: copied(this.senderKeys),
    };
  }

  /** The keyring a record holds; `await ready()` first. */
  static fromRecord(record: KeyringRecord): Keyring {
    const known = (entries: [number, Uint8Array][]) =>
      new Map(
        entries.map(([user, signed]): [number, Known] => [
          user,
          { signed, parsed: decodeDeviceList(signed).list },
        ]),
      );
    return new Keyring(
      record.user,
      new DeviceKeys(record.device, signingKey(record.signSeed), encryptionKey(record.encKey)),
      record.identitySeed === null ? null : new Identity(signingKey(record.identitySeed)),
      new Trust(new Map(record.pins), known(record.lists), known(record.held)),
      new Map(record.seen),
      new Map(record.senderKeys ?? []),
    );
  }
}

/** Where a device keeps its keyring: save it after every change to it. */
export interface KeyStore {
  /** null when nothing was saved yet. */
  load(): Promise<Keyring | null>;
  save(keyring: Keyring): Promise<void>;
  /** Forget it (this device is given up): load() answers null afterwards. */
  erase(): Promise<void>;
}

/** For tests and for devices that keep nothing (a bot that re-registers). */
export class MemoryKeyStore implements KeyStore {
  private record: KeyringRecord | null = null;

  async load(): Promise<Keyring | null> {
    return this.record === null ? null : Keyring.fromRecord(this.record);
  }

  async save(keyring: Keyring): Promise<void> {
    this.record = keyring.toRecord();
  }

  async erase(): Promise<void> {
    this.record = null;
  }
}

const OBJECT_STORE = "keyrings";

/** A browser's IndexedDB: one record per `name` (one per account, say) in
 * the database `database`. `indexedDB` is only touched when called, so this
 * module loads anywhere. */
export class IndexedDbKeyStore implements KeyStore {
  constructor(
    readonly name = "keyring",
    readonly database = "carehub-e2e",
  ) {}

  async load(): Promise<Keyring | null> {
    const record = await this.transact<KeyringRecord | undefined>("readonly", (store) =>
      store.get(this.name),
    );
    return record === undefined ? null : Keyring.fromRecord(record);
  }

  async save(keyring: Keyring): Promise<void> {
    await this.transact("readwrite", (store) => store.put(keyring.toRecord(), this.name));
  }

  async erase(): Promise<void> {
    await this.transact("readwrite", (store) => store.delete(this.name));
  }

  /** Runs one request and resolves once its transaction has committed. */
  private async transact<T>(
    mode: IDBTransactionMode,
    request: (store: IDBObjectStore) => IDBRequest<T>,
  ): Promise<T> {
    const db = await openDatabase(this.database);
    try {
      return await new Promise<T>((resolve, reject) => {
        const transaction = db.transaction(OBJECT_STORE, mode);
        const asked = request(transaction.objectStore(OBJECT_STORE));
        transaction.oncomplete = () => resolve(asked.result);
        transaction.onerror = transaction.onabort = () => reject(transaction.error ?? asked.error);
      });
    } finally {
      db.close();
    }
  }
}

function openDatabase(name: string): Promise<IDBDatabase> {
  if (typeof indexedDB === "undefined")
    return Promise.reject(new Error("IndexedDB is not available here: use another KeyStore"));
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(name, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(OBJECT_STORE);
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
}
