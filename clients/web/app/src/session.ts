/**
 * One signed-in device: its token, its keys (IndexedDB), its socket, and the
 * store the screens read. Events from the socket are opened here (E2E) and
 * turned into store changes; the screens call the server through `call`.
 *
 * What survives a reload: the token and the resume cursor in localStorage,
 * the keyring in IndexedDB. The keyring never leaves the browser.
 */
import {
  AuthError,
  Client,
  type ClientEvent,
  IdentityChanged,
  IndexedDbKeyStore,
  Keyring,
  type MessageData,
  type Notice,
  Secure,
  type Credentials,
  E2EError,
  equal,
  login as httpLogin,
  logout as httpLogout,
  ready,
  UNREADABLE,
} from "../../src/index.js";
import type { Notify, PresenceStatus, ReceiptUpdated, Role, ThreadInfo, UserProfile } from "./api.js";
import { currentSubscription, unsubscribe } from "./push.js";
import { type ShownMessage, Store } from "./store.js";
import { type SignedIn, keyringName, saveSignedIn } from "./worker-settings.js";

const SAVED = "carehub.session";
const baseUrl = () => location.origin;
const socketUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

interface Saved {
  credentials: Credentials;
  username: string;
  name: string;
}

/** Events that only mean "refetch this screen's data". */
const TOPICS: Record<string, string> = {
  "inbox.updated": "inbox",
  "rules.updated": "rules",
  "account.verified": "account",
  "delegation.updated": "delegations",
  "practice.invited": "practices",
  "practice.updated": "practices",
  "care.invited": "care",
  "patient.added": "patients",
  "appointment.held": "appointments",
  "appointment.confirmed": "appointments",
  "appointment.cancelled": "appointments",
  "appointment.rescheduled": "appointments",
  "appointment.no_show": "appointments",
};

export class Session {
  readonly store = new Store();
  /** The thread on screen: its messages are read as they arrive. */
  viewing: number | undefined;
  /** Set when this device waits to be approved by one that holds the identity key. */
  approvalRequest: Uint8Array | undefined;
  /** Called when the server ends this session (logged out elsewhere, token revoked). */
  ended: (() => void) | undefined;
  /** The app leaves the signed-in screens, saying why (an account deleted). */
  left: ((notice: string) => void) | undefined;
  private saving: Promise<void> = Promise.resolve();
  private leaving = false;

  private constructor(
    readonly saved: Saved,
    readonly client: Client,
    private current: Secure,
    private readonly keystore: IndexedDbKeyStore,
  ) {}

  /** The end-to-end layer: this device's keys over the socket. */
  get secure(): Secure {
    return this.current;
  }

  get me(): number {
    return this.saved.credentials.userId;
  }

  /** This browser's device of the account. */
  get device(): number {
    return this.saved.credentials.deviceId;
  }

  get role(): Role {
    return this.saved.credentials.role as Role;
  }

  get name(): string {
    return this.saved.name;
  }

  /** The sign-in name (the second factor's endpoints ask for it with the password). */
  get username(): string {
    return this.saved.username;
  }

  /** Log in (this browser's device again if it has keys for this account). */
  static async login(username: string, password: string, otp?: string): Promise<Session> {
    await ready();
    const known = knownDevice(username);
    const credentials = await httpLogin(baseUrl(), username, password, {
      deviceName: deviceName(),
      ...(known === undefined ? {} : { deviceId: known }),
      ...(otp ? { otp } : {}),
    });
    const saved: Saved = { credentials, username, name: username };
    localStorage.setItem(SAVED, JSON.stringify(saved));
    localStorage.setItem(deviceKey(username), String(credentials.deviceId));
    return Session.start(saved);
  }

  /** The session a reload left, or null (then the login screen); throws
   * when the server cannot be reached (the session is kept: try again). */
  static async restore(): Promise<Session | null> {
    const text = localStorage.getItem(SAVED);
    if (!text) return null;
    const saved = JSON.parse(text) as Saved;
    if (saved.credentials.expiresAt <= Date.now()) {
      forgetSession();
      return null;
    }
    await ready();
    try {
      return await Session.start(saved);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      forgetSession(); // revoked or expired: log in again
      return null;
    }
  }

  private static async start(saved: Saved): Promise<Session> {
    const { credentials } = saved;
    const cursorText = localStorage.getItem(cursorKey(credentials));
    const client = new Client(socketUrl(), credentials, {
      clientName: "carehub-web/0.1",
      ...(cursorText ? { resumeFrom: Number(cursorText) } : {}),
    });
    const keystore = new IndexedDbKeyStore(keyringName(credentials.userId, credentials.deviceId));
    let keys = await keystore.load();
    await client.connect();
    if (!keys) {
      const mine = await client.call<{ lists: unknown[] }>("keys.fetch", { users: [credentials.userId] });
      keys = Keyring.create(credentials.userId, credentials.deviceId, { withIdentity: mine.lists.length === 0 });
    }
    const session = new Session(saved, client, new Secure(client, keys), keystore);
    await session.begin();
    return session;
  }

  private async begin(): Promise<void> {
    const account = await this.call<{ name: string }>("account.get", {});
    this.saved.name = account.name;
    localStorage.setItem(SAVED, JSON.stringify(this.saved));
    await this.secure.setup();
    await this.checkApproved();
    this.saveKeys();
    tellWorker({ user: this.me, device: this.device }); // it may open previews with these keys
    for (const user of this.secure.keys.trust.held.keys()) this.store.identityChanged(user, true); // still to accept
    this.client.onLink((up) => {
      this.store.setLink(up ? "online" : "offline");
      if (up) void this.present().catch(() => undefined); // a new socket starts without presence
    });
    this.store.setLink("online");
    await this.loadThreads();
    void this.follow();
    document.addEventListener("visibilitychange", () => void this.present().catch(() => undefined));
    await this.present();
  }

  /** Online with popups while the page is seen; away (no popups here) when it is hidden. */
  private present(): Promise<unknown> {
    const seen = document.visibilityState === "visible";
    return this.call("presence.set", { status: seen ? "online" : "away", foreground: seen });
  }

  /** A device without the identity key shows a request until another device approves it. */
  async checkApproved(): Promise<void> {
    const list = this.secure.keys.trust.lists.get(this.me)?.parsed;
    const mine = this.secure.keys.device;
    // Listed with these very keys: the same device id with other keys (storage
    // cleared since) is a new device that must be approved again.
    const listed =
      list?.devices.some((entry) => entry.device === mine.device && equal(entry.signPk, mine.sign.publicKey)) ?? false;
    this.approvalRequest = listed ? undefined : this.secure.keys.device.request(this.me);
    this.store.changed();
  }

  call<T = unknown>(method: string, params: unknown): Promise<T> {
    return this.client.call<T>(method, params);
  }

  async loadThreads(): Promise<void> {
    const { threads } = await this.call<{ threads: ThreadInfo[] }>("threads.list", {});
    this.store.setThreads(threads);
    clearNotifications(threads.filter((info) => !info.unread).map((info) => info.id)); // read elsewhere
  }

  /** The thread's newest page (or the page before the oldest shown). */
  async loadHistory(thread: number, older = false): Promise<void> {
    const state = this.store.thread(thread);
    const oldest = state && older ? Math.min(...[...state.messages.values()].map((m) => m.threadSeq)) : undefined;
    const page = await this.call<{ messages: MessageData[]; has_more: boolean }>("messages.history", {
      thread,
      ...(oldest !== undefined && Number.isFinite(oldest) ? { before_seq: oldest } : {}),
    });
    const shown = await Promise.all(page.messages.map((m) => this.show(m)));
    this.store.addMessages(thread, shown, page.has_more);
    this.saveKeys();
    await this.learnNames(thread, shown);
  }

  /** The thread is on screen: everything in it up to its newest message is read. */
  async markRead(thread: number): Promise<void> {
    clearNotifications([thread]); // seen here: its notifications have said what they had to
    const state = this.store.thread(thread);
    const newest = state?.info.last_seq ?? 0;
    if (!state || newest === 0 || (newest <= (state.info.read_seq ?? 0) && !state.info.unread)) return;
    this.store.markRead(thread, newest);
    if (!this.delegated(thread)) await this.call("receipts.read", { thread, thread_seq: newest });
  }

  /** Seal and send `text` (and documents already uploaded); a delegate
   * writes for the practitioner whose inbox this is. Shown at once. */
  async send(
    thread: number,
    text: string,
    documents: ShownMessage["documents"] = [],
    flags: { replyAllowed?: boolean; closeThread?: boolean } = {},
  ): Promise<void> {
    const info = this.store.thread(thread)?.info;
    const actingFor = info?.via ?? undefined;
    try {
      const sent = await this.secure.send(thread, text, { documents, ...flags, ...(actingFor ? { actingFor } : {}) });
      this.store.addMessages(thread, [
        {
          id: sent.message_id,
          threadSeq: sent.thread_seq,
          sender: this.me,
          sentAt: sent.sent_at,
          text,
          subject: "",
          documents,
          retracted: false,
          expired: false,
          replyAllowed: flags.replyAllowed ?? true,
          ...(actingFor ? { actingFor } : {}),
        },
      ]);
    } catch (error) {
      if (error instanceof IdentityChanged) this.store.identityChanged(error.user, true);
      throw error;
    } finally {
      this.saveKeys();
    }
  }

  /** No notification for `thread` on any of this person's devices (or again). */
  async mute(thread: number, muted: boolean): Promise<void> {
    const info = await this.call<ThreadInfo>("threads.mute", { thread, muted });
    this.store.setMuted(thread, info.muted ?? false);
  }

  typing(thread: number): void {
    void this.client.call("typing", { thread, active: true }).catch(() => undefined);
  }

  /** No device that holds the identity key is left (lost, wiped): this one
   * makes a new identity key and becomes the account's only device. */
  async startOver(): Promise<void> {
    const keys = Keyring.create(this.me, this.saved.credentials.deviceId, { withIdentity: true });
    const secure = new Secure(this.client, keys);
    await secure.startOver();
    this.current = secure;
    this.saveKeys();
    await this.checkApproved();
  }

  /** The person compared safety numbers and accepts `user`'s new identity. */
  acceptIdentity(user: number): void {
    this.secure.acknowledgeIdentity(user);
    this.store.identityChanged(user, false);
    this.saveKeys();
  }

  /** Log out and erase this device from the browser: its keys, its id and
   * its cursor. Logging in here again makes a new device (approved again). */
  async forgetThisDevice(): Promise<void> {
    await this.logout();
    await this.eraseHere();
  }

  /** Delete the account (docs/accounts.md): the server ends every session,
   * this one once it answered; this browser then forgets the device. A
   * wrong password throws and changes nothing. */
  async deleteAccount(password: string): Promise<void> {
    await this.call("account.delete", { password });
    this.leaving = true; // the close that follows is the deletion's, not a session lost
    await this.client.close();
    forgetSession();
    await this.eraseHere();
  }

  private async eraseHere(): Promise<void> {
    await this.saving; // a save still on its way would write the keyring back
    await this.keystore.erase();
    localStorage.removeItem(deviceKey(this.saved.username));
    localStorage.removeItem(cursorKey(this.saved.credentials));
  }

  /** Forget the session saved in this browser (its token is void: a reset ended it). */
  static forget(): void {
    forgetSession();
  }

  async logout(): Promise<void> {
    this.leaving = true; // the socket's close that follows is ours, not the session's end
    // No notification for this account reaches this browser once signed out.
    if (await currentSubscription()) await unsubscribe(this).catch(reportError);
    try {
      await httpLogout(baseUrl(), this.saved.credentials);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error; // already over: log out here anyway
    }
    await this.client.close();
    forgetSession();
  }

  private saveCursor(seq: number): void {
    localStorage.setItem(cursorKey(this.saved.credentials), String(seq));
  }

  /** The keyring after every change to it (seen messages, trusted lists). */
  saveKeys(): void {
    const keys = this.secure.keys;
    this.saving = this.saving.then(() => this.keystore.save(keys)).catch(reportError);
  }

  // -- events ----------------------------------------------------------------

  /** Events one at a time, in the order the server sent them (resumed ones
   * first); the cursor is saved once an event is fully handled. */
  private async follow(): Promise<void> {
    try {
      for await (const event of this.client.events()) {
        try {
          await this.handle(event);
        } catch (error) {
          reportError(error); // one event's failure does not stop the others:
          const thread = (event.data as { thread?: number } | null)?.thread;
          if (event.type === "message.new" && thread) this.store.stale(thread); // its history is read again
        }
        await this.saving; // the keyring holds what this event taught it before the cursor moves past it
        if (event.seq !== undefined) this.saveCursor(event.seq);
      }
    } catch (error) {
      if (this.leaving) return; // logged out here: the close was ours
      this.store.setLink("offline");
      if (error instanceof AuthError) {
        forgetSession(); // the token is over: the next load asks to log in
        this.ended?.();
      } else reportError(error);
    }
  }

  private async readAllAgain(): Promise<void> {
    this.store.forgetMessages();
    await this.loadThreads();
  }

  private async handle(event: ClientEvent): Promise<void> {
    const data = event.data as never;
    switch (event.type) {
      case "message.new":
        await this.arrived(data as MessageData);
        break;
      case "receipt": {
        const r = data as ReceiptUpdated;
        this.store.receipt(r.thread, r.user, r.delivered_seq, r.read_seq);
        const last = this.store.thread(r.thread)?.info.last_seq ?? 0;
        if (r.user === this.me && r.read_seq >= last) clearNotifications([r.thread]); // read on another device
        break;
      }
      case "thread.updated": {
        const info = data as ThreadInfo;
        const member = info.members.some((m) => m.user === this.me);
        if (this.store.thread(info.id) && member) this.store.updateThread(info);
        else await this.loadThreads(); // new to us, or left: the list says whose inbox it is
        break;
      }
      case "presence": {
        const p = data as { user: number; status: PresenceStatus };
        this.store.setPresence(p.user, p.status);
        break;
      }
      case "typing": {
        const typing = data as { thread: number; user: number; active: boolean };
        if (typing.user !== this.me) this.store.typing(typing.thread, typing.user, typing.active);
        break;
      }
      case "notify":
        this.notified(data as Notify);
        break;
      case "keys.updated":
        await this.keysUpdated(data as { user: number });
        break;
      case "sync.reset":
        // Past retention: everything shown may have gaps; read it all again from here.
        await this.readAllAgain();
        this.saveCursor((data as { cursor: number }).cursor);
        break;
      case UNREADABLE:
        // A frame the server broke: whatever it told of, read it all again
        // (a server's bug, so rare; an ephemeral one costs the same reload).
        await this.readAllAgain();
        break;
      default:
        if (event.type in TOPICS) this.store.bump(TOPICS[event.type] as string);
    }
  }

  private async arrived(data: MessageData): Promise<void> {
    if (!this.store.thread(data.thread)) await this.loadThreads();
    const before = this.store.thread(data.thread);
    // A resumed event the thread list already counted (or history showed) is not new.
    const isNew = !before?.messages.has(data.id) && data.thread_seq > (before?.info.last_seq ?? 0);
    const shown = await this.show(data);
    this.store.addMessages(data.thread, [shown]);
    const role = before?.info.members.find((m) => m.user === data.sender)?.role;
    if (isNew && data.sender_device != null && role !== "patient") {
      this.store.replyAllowed(data.thread, shown.replyAllowed); // the care side's latest word decides
    }
    this.saveKeys();
    await this.learnNames(data.thread, [shown]);
    if (data.sender === this.me) return;
    this.store.typing(data.thread, data.sender, false); // they sent what they were typing
    if (this.viewing === data.thread && document.visibilityState === "visible") acknowledge(this.markRead(data.thread));
    else {
      if (isNew) this.store.countUnread(data.thread);
      if (!this.delegated(data.thread)) {
        acknowledge(this.call("receipts.delivered", { thread: data.thread, thread_seq: data.thread_seq }));
      }
    }
  }

  /** A thread a delegate works for a practitioner: the receipts are the practitioner's. */
  private delegated(thread: number): boolean {
    return Boolean(this.store.thread(thread)?.info.via);
  }

  /** Names of those who wrote without being members (a secretary for a doctor, a bot). */
  private async learnNames(thread: number, messages: ShownMessage[]): Promise<void> {
    const members = this.store.thread(thread)?.info.members ?? [];
    const known = (user: number) => members.some((m) => m.user === user) || this.store.profiles.has(user);
    const wanted = new Set<number>();
    for (const message of messages) {
      for (const user of [message.sender, message.actingFor, message.notice?.by, message.notice?.acting_for]) {
        if (user && !known(user)) wanted.add(user);
      }
    }
    if (!wanted.size) return;
    const { users } = await this.call<{ users: UserProfile[] }>("users.get", { users: [...wanted] });
    this.store.addProfiles(users);
  }

  /** A popup in the app, and the system's notification when the tab is hidden. */
  private notified(notify: Notify): void {
    if (this.viewing === notify.thread && document.visibilityState === "visible") return;
    const members = this.store.thread(notify.thread)?.info.members ?? [];
    const from = this.store.nameOf(members, notify.from);
    this.store.popup(notify.thread, from, notify.unread ?? 1);
    if (document.visibilityState === "hidden" && globalThis.Notification?.permission === "granted") {
      const shown = new Notification("carehub", { body: from, tag: `thread-${notify.thread}` });
      shown.onclick = () => {
        window.focus();
        location.hash = `#/threads/${notify.thread}`;
      };
    }
  }

  private async keysUpdated(update: { user: number }): Promise<void> {
    try {
      await this.secure.refresh([update.user]);
    } catch (error) {
      if (!(error instanceof E2EError)) throw error;
    }
    if (this.secure.keys.trust.held.has(update.user)) this.store.identityChanged(update.user, true);
    if (update.user === this.me) await this.checkApproved();
    this.saveKeys();
  }

  /** A stored message as the screen shows it: opened here, or why it cannot be. */
  async show(data: MessageData & { reply_allowed?: boolean }): Promise<ShownMessage> {
    const shown: ShownMessage = {
      id: data.id,
      threadSeq: data.thread_seq,
      sender: data.sender,
      sentAt: data.sent_at,
      text: "",
      subject: "",
      documents: [],
      retracted: data.retracted ?? false,
      expired: data.expired ?? false,
      replyAllowed: data.reply_allowed ?? true,
    };
    if (shown.retracted || shown.expired) return shown;
    try {
      const opened = await this.secure.read(data);
      if ("body" in opened) {
        shown.text = opened.body.text;
        shown.subject = opened.body.subject;
        shown.documents = opened.body.documents;
        const actingFor = (opened.header as { actingFor?: number | null }).actingFor;
        if (actingFor) shown.actingFor = actingFor;
      } else shown.notice = opened as Notice;
    } catch (error) {
      if (!(error instanceof E2EError)) throw error;
      shown.unreadable = error.name;
      if (error instanceof IdentityChanged) this.store.identityChanged(data.sender, true);
    }
    return shown;
  }

}

/** A receipt goes out without holding the next events back: the server may
 * keep it a moment, to store it with another write (docs/architecture.md).
 * Once sent, the server stores it even if this tab closes meanwhile. */
function acknowledge(receipt: Promise<unknown>): void {
  receipt.catch(reportError);
}

/** Close the notifications this device shows for `threads` (the service
 * worker tags them `thread-N`): they were read, here or on another device. */
function clearNotifications(threads: number[]): void {
  if (!threads.length || !("serviceWorker" in navigator)) return;
  const tags = new Set(threads.map((thread) => `thread-${thread}`));
  void navigator.serviceWorker
    .getRegistration()
    .then(async (registration) => {
      const shown = (await registration?.getNotifications()) ?? [];
      for (const notification of shown) if (tags.has(notification.tag)) notification.close();
      // The badge a quiet push set goes once no notification is left.
      if (shown.every((notification) => tags.has(notification.tag)) && "clearAppBadge" in navigator) {
        await navigator.clearAppBadge();
      }
    })
    .catch(() => undefined); // no worker here (private mode): nothing was shown; no badge (not installed)
}

/** Signed out (or the token is over): the next load asks to log in, and the
 * service worker no longer opens previews. */
function forgetSession(): void {
  localStorage.removeItem(SAVED);
  tellWorker(null);
}

function tellWorker(signedIn: SignedIn | null): void {
  if (typeof caches === "undefined") return; // no worker without storage (private mode)
  saveSignedIn(signedIn).catch(reportError);
}

function cursorKey(credentials: Credentials): string {
  return `carehub.cursor.${credentials.userId}.${credentials.deviceId}`;
}

function deviceKey(username: string): string {
  return `carehub.device.${username.toLowerCase()}`;
}

/** The device this browser registered for `username` before, if its keys are still here. */
function knownDevice(username: string): number | undefined {
  const text = localStorage.getItem(deviceKey(username));
  return text === null ? undefined : Number(text);
}

function deviceName(): string {
  const agent = navigator.userAgent;
  const browser = /Firefox/.test(agent) ? "Firefox" : /Edg\//.test(agent) ? "Edge" : /Chrom/.test(agent) ? "Chrome" : "Safari";
  const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Mac/.test(agent) ? "macOS" : /Windows/.test(agent) ? "Windows" : "Linux";
  return `${browser} · ${system}`;
}
