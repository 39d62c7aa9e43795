/**
 * The end-to-end layer over a `Client`, as the Python SDK's `Secure`:
 *
 *     await ready();
 *     const keys = Keyring.create(credentials.userId, credentials.deviceId, { withIdentity: true });
 *     const secure = new Secure(client, keys);
 *     await secure.setup();                              // publish this device
 *     await secure.send(thread, "Renouvellement, s'il vous plaît", { reason: "prescription_renewal" });
 *     const opened = await secure.read(event.data);      // a message.new event's data
 *
 * Every body and document is encrypted on this device; the server relays
 * ciphertext, wrapped keys and the routing header. Refusals are the typed
 * `E2EError` family; plaintext comes back only after every check.
 */
import { decode } from "@msgpack/msgpack";
import type { Client, SendResult } from "./client.js";
import { CallError, Disconnected } from "./errors.js";
import { concat, equal, toHex } from "./e2e/bytes.js";
import { DEVICE_LIFETIME_MS, delegation, entryFor, listedFresh, nextList, type ListChange } from "./e2e/devices.js";
import { decryptDocument, encryptDocument, type ByteSource } from "./e2e/documents.js";
import { type Opened, openEnvelope, sealEnvelope } from "./e2e/envelope.js";
import { DocumentTampered, NotAnEnvelope, UnknownDevice, UntrustedDevices } from "./e2e/errors.js";
import { type Keyring, senderKeyName } from "./e2e/keystore.js";
import { safetyNumber } from "./e2e/safety.js";
import { type OwnSenderKey, newSenderKey, openSenderKey } from "./e2e/senderKeys.js";
import {
  type AnyHeader,
  type Body,
  type DeviceList,
  type DocumentRef,
  SENDER_KEYS_ABOVE,
  Scope,
  decodeDeviceList,
  decodeEnvelope,
} from "./e2e/structures.js";
import { render } from "./templates.js";

/** A `message.new` event's data (`MessageData`). */
export interface MessageData {
  id: number;
  thread: number;
  thread_seq: number;
  sender: number;
  /** Absent for a server notice (cleartext, never a person's words). */
  sender_device?: number | null;
  kind: string;
  envelope: Uint8Array;
  sent_at: number;
  reason?: string | null;
  /** Withdrawn by its sender: the envelope is empty. */
  retracted?: boolean;
  /** Past the deployment's chat retention: the envelope is empty. */
  expired?: boolean;
}

/** A server-written entry in a thread (`protocol.practice.Notice`). */
export interface Notice {
  kind: string;
  text?: string;
  by?: number;
  user?: number;
  rule?: number;
  redirect_to?: number;
  message?: number;
  acting_for?: number;
}

const FILE_ID = /^[0-9a-f]{32}$/; // protocol.methods.FileId
const MAX_UPLOAD_DROPS = 5; // then the upload fails; calling upload again starts anew

/** A reply template (`templates.list`), as `sendTemplate` needs it. */
export interface Template {
  id?: number;
  name?: string;
  /** A built-in template's code (e.g. "inappropriate_request"). */
  code?: string | null;
  text: string;
  reply_allowed?: boolean;
  closes_thread?: boolean;
}

export interface BroadcastResult {
  threads: { patient: number; thread: number }[];
  skipped: { patient: number; reason: string }[];
}

export interface SecureSendOptions {
  subject?: string;
  documents?: DocumentRef[];
  kind?: string;
  reason?: string;
  replyAllowed?: boolean;
  closeThread?: boolean;
  actingFor?: number;
}

export interface SecureOptions {
  /** Threads with more devices than this (default 16) get version 2
   * envelopes: one sender key distributed per thread and device, not a key
   * sealed per device in every message. */
  senderKeysAbove?: number;
}

export class Secure {
  private readonly members = new Map<number, number[]>();
  private readonly senderKeysAbove: number;
  /** thread -> this device's sender key */
  private readonly ownKeys = new Map<number, OwnSenderKey>();

  constructor(
    readonly client: Client,
    readonly keys: Keyring,
    private readonly clock: () => number = Date.now,
    options: SecureOptions = {},
  ) {
    this.senderKeysAbove = options.senderKeysAbove ?? SENDER_KEYS_ABOVE;
  }

  // -- devices -------------------------------------------------------------

  /** Trust our own published list; on the device holding the identity key,
   * publish this device if the list does not have it (or not for long). */
  async setup(): Promise<void> {
    const me = this.keys.user;
    const mine = (await this.fetch([me])).get(me) ?? null;
    if (!listedFresh(mine, this.keys.device.device, this.clock()) && this.keys.identity) {
      await this.publish({ add: [entryFor(this.keys.device.request(me), me, this.clock() + DEVICE_LIFETIME_MS)] });
    }
  }

  /** Add a new device of ours from the request it shows (its QR code). */
  approve(request: Uint8Array): Promise<number> {
    return this.publish({ add: [entryFor(request, this.keys.user, this.clock() + DEVICE_LIFETIME_MS)] });
  }

  /** A new list without `device`: it gets no key from now on. */
  removeDevice(device: number): Promise<number> {
    return this.publish({ remove: [device] });
  }

  /** Let an assistant (or bot) of our practice act for us within `scopes`,
   * until `expires` (ms) or until revoked; replaces an earlier delegation to them. */
  delegate(user: number, scopes: Iterable<Scope>, expires: number | null = null): Promise<number> {
    return this.publish({ delegates: [delegation(user, scopes, expires)] });
  }

  revokeDelegate(user: number): Promise<number> {
    return this.publish({ dropDelegate: user });
  }

  /** This device lost every device that held the account's identity key:
   * it takes the new identity key its keyring was made with and becomes the
   * account's only device (the list's next version). Contacts see an
   * identity change and must accept it; other devices must be approved again. */
  async startOver(): Promise<number> {
    const identity = this.keys.identity;
    if (!identity) throw new UntrustedDevices("start over from a keyring made with a new identity key");
    const me = this.keys.user;
    const found = await this.client.call<{ lists: { user: number; list: Uint8Array }[] }>("keys.fetch", {
      users: [me],
    });
    const published = found.lists.find((entry) => entry.user === me);
    const version = (published ? decodeDeviceList(published.list).list.version : 0) + 1;
    const entry = entryFor(this.keys.device.request(me), me, this.clock() + DEVICE_LIFETIME_MS);
    const signed = identity.signList(me, version, this.clock(), [entry], []);
    await this.client.call("keys.publish", { list: signed });
    this.keys.trust.accept(me, signed);
    return version;
  }

  /** The app showed `user`'s new identity and the person accepted it. */
  acknowledgeIdentity(user: number): void {
    this.keys.trust.acknowledge(user);
  }

  safetyNumber(user: number): string {
    const trust = this.keys.trust;
    return safetyNumber(this.keys.user, trust.current(this.keys.user).identityPk, user, trust.current(user).identityPk);
  }

  /** Fetch and verify `users`' lists again (after a `keys.updated` event). */
  async refresh(users: Iterable<number>): Promise<void> {
    await this.fetch(users);
  }

  // -- messages ------------------------------------------------------------

  /** Seal `text` for every current device of the thread's members (and of
   * the delegates who read for them) and send it; once more with fresh
   * lists, and a new sender key, if the server says a device list moved
   * (`stale_devices`). */
  async send(thread: number, text: string, options: SecureSendOptions = {}): Promise<SendResult> {
    const body: Partial<Body> = { text, subject: options.subject ?? "", documents: options.documents ?? [] };
    for (let attempt = 0; ; attempt += 1) {
      try {
        const recipients = await this.recipients(thread, attempt > 0);
        const sealed = sealEnvelope(
          {
            thread,
            senderUser: this.keys.user,
            body,
            recipients,
            kind: options.kind ?? "text",
            reason: options.reason ?? null,
            actingFor: options.actingFor ?? null,
            ts: this.clock(),
          },
          this.keys.device,
          await this.ownSenderKey(thread, recipients, attempt > 0),
        );
        return await this.client.send(thread, sealed.data, {
          kind: options.kind ?? "text",
          ...(options.reason === undefined ? {} : { reason: options.reason }),
          replyAllowed: options.replyAllowed ?? true,
          closeThread: options.closeThread ?? false,
          clientMsgId: toHex(sealed.msgId),
        });
      } catch (refused) {
        if (!(refused instanceof CallError) || refused.code !== "stale_devices" || attempt > 0) throw refused;
      }
    }
  }

  /** Render `template` with `values` (every variable it names) and send it,
   * with the template's reply permission, closing the thread if it says so. */
  sendTemplate(
    thread: number,
    template: Template,
    values: Readonly<Record<string, string>>,
    options: { actingFor?: number } = {},
  ): Promise<SendResult> {
    return this.send(thread, render(template.text, values), {
      replyAllowed: template.reply_allowed ?? true,
      closeThread: template.closes_thread ?? false,
      ...options,
    });
  }

  /** A practitioner's campaign: `text` to each of `patients`, each in a
   * thread of its own that takes no reply. The threads, and who was skipped. */
  async broadcast(patients: number[], text: string, options: { reason?: string } = {}): Promise<BroadcastResult> {
    const params = options.reason === undefined ? { patients } : { patients, reason: options.reason };
    const result = await this.client.call<BroadcastResult>("broadcasts.create", params);
    for (const reached of result.threads) await this.send(reached.thread, text, { replyAllowed: false });
    return result;
  }

  /** A person's message verified and decrypted, or a server notice. */
  async read(message: MessageData): Promise<Opened | Notice> {
    if (message.sender_device == null) return decode(message.envelope) as Notice;
    return this.open(message);
  }

  /** Verify and decrypt a stored or pushed message. */
  async open(message: MessageData): Promise<Opened> {
    if (message.sender_device == null) throw new NotAnEnvelope("a server notice, not an envelope: use read()");
    let header: AnyHeader | undefined;
    try {
      header = decodeEnvelope(message.envelope).header;
    } catch {
      // openEnvelope reports it
    }
    const signers = new Set([message.sender]);
    if (header?.actingFor != null) signers.add(header.actingFor);
    const unknown = [...signers].filter((user) => !this.keys.trust.lists.has(user));
    if (unknown.length) await this.fetch(unknown);
    const attempt = async () => this.openNow(message, await this.senderKey(message, header));
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof UnknownDevice)) throw error;
      await this.fetch([message.sender]); // a device newer than our copy of the list
      return attempt();
    }
  }

  private openNow(message: MessageData, senderKey: Uint8Array | null): Opened {
    return openEnvelope(message.envelope, {
      me: this.keys.device,
      trust: this.keys.trust,
      thread: message.thread,
      senderUser: message.sender,
      senderDevice: message.sender_device as number,
      now: this.clock(),
      firstTime: (msgId) => this.keys.firstTime(msgId, message.id),
      senderKey,
    });
  }

  // -- sender keys ---------------------------------------------------------

  /** The key this device seals `thread`'s messages with, if the thread has
   * more devices than a version 1 envelope should carry: the current one
   * while it reaches exactly `recipients` (and no `renew`), else a new one,
   * distributed first. */
  private async ownSenderKey(
    thread: number,
    recipients: ReadonlyMap<number, Uint8Array>,
    renew: boolean,
  ): Promise<OwnSenderKey | undefined> {
    if (recipients.size <= this.senderKeysAbove) return undefined;
    const current = this.ownKeys.get(thread);
    if (current && !renew && sameDevices(current.devices, recipients)) return current;
    const { own, distribution } = newSenderKey(thread, this.keys.user, this.keys.device, recipients, this.clock());
    await this.client.call("keys.distribute", distribution, { idempotent: true });
    this.ownKeys.set(thread, own);
    return own;
  }

  /** The verified sender key a version 2 envelope names, fetched once; null
   * for a version 1 envelope or a key never sealed to this device. */
  private async senderKey(message: MessageData, header: AnyHeader | undefined): Promise<Uint8Array | null> {
    if (!header || !("senderKey" in header)) return null;
    const device = message.sender_device as number;
    const held = senderKeyName(message.thread, device, header.senderKey);
    const known = this.keys.senderKeys.get(held);
    if (known) return known;
    let found: { key: Uint8Array; wrapped: Uint8Array };
    try {
      const params = { thread: message.thread, device, key_id: header.senderKey };
      found = await this.client.call("keys.sender_key", params, { idempotent: true });
    } catch (refused) {
      if (refused instanceof CallError && refused.code === "not_found") return null;
      throw refused;
    }
    const key = openSenderKey(found.key, found.wrapped, {
      me: this.keys.device,
      trust: this.keys.trust,
      thread: message.thread,
      senderUser: message.sender,
      senderDevice: device,
      keyId: header.senderKey,
      now: this.clock(),
    });
    this.keys.senderKeys.set(held, key);
    return key;
  }

  // -- documents -----------------------------------------------------------

  /** Encrypt `source` (bytes, a Blob, or pieces) and upload it; put the
   * result in `send(..., { documents })`. A dropped link is survived: the
   * upload goes on from where the server stopped (`attachments.begin` with
   * the same hash finds the same file). The plaintext is read once, in
   * pieces; the ciphertext is held once, in pieces, until it is sent. */
  async upload(thread: number, source: ByteSource, name: string, mime: string): Promise<DocumentRef> {
    const encrypted = encryptDocument(source);
    const pieces: Uint8Array[] = [];
    for await (const piece of encrypted) pieces.push(piece);
    const size = pieces.reduce((total, piece) => total + piece.length, 0);
    const begin = () =>
      this.client.call<{ file: string; received: number; chunk_bytes: number }>(
        "attachments.begin",
        { thread, size, hash: encrypted.hash },
        { idempotent: true },
      );
    let began = await begin();
    let offset = began.received;
    for (let drops = 0; offset < size; ) {
      const data = bytesAt(pieces, offset, Math.max(1, began.chunk_bytes));
      try {
        ({ received: offset } = await this.client.call<{ received: number }>("attachments.chunk", {
          file: began.file,
          offset,
          data,
        }));
      } catch (error) {
        if (!(error instanceof Disconnected) || ++drops > MAX_UPLOAD_DROPS) throw error;
        began = await begin();
        offset = began.received;
      }
    }
    await this.client.call("attachments.finish", { file: began.file }, { idempotent: true });
    return encrypted.ref(began.file, mime, name);
  }

  /** Fetch over the socket in chunks; yields the plaintext chunk by chunk,
   * each authenticated. A missing end or a wrong whole-file hash is found
   * only at the end: the iteration then throws `DocumentTampered`, and what
   * was yielded must be thrown away. */
  download(ref: DocumentRef): AsyncGenerator<Uint8Array> {
    return decryptDocument(this.ciphertext(ref.file), ref.key, ref.hash);
  }

  /** The same over HTTP with the bearer token (`GET /v1/files/{file}`):
   * large files, without holding the socket. */
  async *downloadHttp(baseUrl: string, ref: DocumentRef): AsyncGenerator<Uint8Array> {
    // The id comes from a sender's envelope: never let it make another path.
    if (!FILE_ID.test(ref.file)) throw new DocumentTampered(`not a document id: ${JSON.stringify(ref.file)}`);
    const response = await fetch(`${baseUrl}/v1/files/${ref.file}`, {
      headers: { authorization: `Bearer ${this.client.credentials.token}` },
    });
    if (!response.ok || !response.body) throw new CallError("not_found", `download refused (${response.status})`);
    yield* decryptDocument(response.body as unknown as AsyncIterable<Uint8Array>, ref.key, ref.hash);
  }

  private async *ciphertext(file: string): AsyncGenerator<Uint8Array> {
    for (let offset = 0, size = Infinity; offset < size; ) {
      const got = await this.client.call<{ size: number; data: Uint8Array }>(
        "attachments.read",
        { file, offset, length: 1 << 20 },
        { idempotent: true },
      );
      size = got.size;
      if (!got.data.length) return;
      offset += got.data.length;
      yield got.data;
    }
  }

  // -- internals -----------------------------------------------------------

  private async fetch(users: Iterable<number>): Promise<Map<number, DeviceList>> {
    const wanted = [...new Set(users)].sort((a, b) => a - b);
    const found = await this.client.call<{ lists: { user: number; list: Uint8Array }[] }>(
      "keys.fetch",
      { users: wanted },
      { idempotent: true },
    );
    return new Map(found.lists.map(({ user, list }) => [user, this.keys.trust.accept(user, list)]));
  }

  private async publish(change: ListChange): Promise<number> {
    const identity = this.keys.identity;
    if (!identity) throw new UntrustedDevices("only a device holding the identity key can change the list");
    const me = this.keys.user;
    const current = this.keys.trust.lists.get(me)?.parsed ?? null;
    const next = nextList(current, change);
    const signed = identity.signList(me, next.version, this.clock(), next.devices, next.delegates);
    await this.client.call("keys.publish", { list: signed });
    this.keys.trust.accept(me, signed);
    return next.version;
  }

  private async recipients(thread: number, fresh: boolean): Promise<Map<number, Uint8Array>> {
    const members = await this.threadMembers(thread, fresh);
    const trust = this.keys.trust;
    const unknown = members.filter((user) => !trust.lists.has(user));
    if (fresh || unknown.length) await this.fetch(fresh ? members : unknown);
    const now = this.clock();
    const delegates = trust.readingDelegates(members, now);
    const missing = delegates.filter((user) => fresh || !trust.lists.has(user));
    if (missing.length) await this.fetch(missing);
    return trust.recipients([...members, ...delegates], now); // IdentityChanged if one is held
  }

  private async threadMembers(thread: number, fresh: boolean): Promise<number[]> {
    if (fresh || !this.members.has(thread)) {
      const listed = await this.client.call<{ threads: { id: number; members: { user: number }[] }[] }>(
        "threads.list",
        {},
        { idempotent: true },
      );
      for (const info of listed.threads) this.members.set(info.id, info.members.map((m) => m.user));
    }
    const members = this.members.get(thread);
    if (!members) throw new CallError("forbidden", `you are not a member of thread ${thread}`);
    return members;
  }
}

/** Whether `devices` are exactly the keys of `recipients`. */
/** Whether a sender key was sealed to exactly `recipients`: the same devices, each with the same key. */
function sameDevices(
  devices: ReadonlyMap<number, Uint8Array>,
  recipients: ReadonlyMap<number, Uint8Array>,
): boolean {
  return (
    devices.size === recipients.size &&
    [...recipients].every(([device, encPk]) => {
      const sealedTo = devices.get(device);
      return sealedTo !== undefined && equal(sealedTo, encPk);
    })
  );
}

/** Up to `length` bytes of the concatenation of `pieces`, from `offset`. */
function bytesAt(pieces: Uint8Array[], offset: number, length: number): Uint8Array {
  const found: Uint8Array[] = [];
  let skip = offset;
  let wanted = length;
  for (const piece of pieces) {
    if (skip >= piece.length) {
      skip -= piece.length;
      continue;
    }
    const part = piece.subarray(skip, skip + wanted);
    found.push(part);
    wanted -= part.length;
    skip = 0;
    if (!wanted) break;
  }
  return concat(...found);
}

