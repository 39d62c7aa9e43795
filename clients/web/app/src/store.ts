/**
 * What the screens show, kept in one place and changed only through the
 * methods below; a change re-renders the components that `useStore()`.
 * Messages are keyed by their server id, so an event that arrives both in
 * history and on resume shows once.
 */
import type { DocumentRef, Notice } from "../../src/index.js";
import type { Member, PresenceStatus, ThreadInfo, UserProfile } from "./api.js";
import { useEffect, useState } from "preact/hooks";

export interface ShownMessage {
  id: number;
  threadSeq: number;
  sender: number;
  sentAt: number;
  text: string;
  subject: string;
  documents: DocumentRef[];
  /** A server-written entry (closed, auto-reply, ...) instead of a person's words. */
  notice?: Notice;
  /** The practitioner a delegate wrote for. */
  actingFor?: number;
  /** Why it could not be opened (a typed E2E refusal), never shown as text. */
  unreadable?: string;
  retracted: boolean;
  /** Emptied past the deployment's chat retention. */
  expired: boolean;
  replyAllowed: boolean;
}

export interface ThreadState {
  info: ThreadInfo;
  messages: Map<number, ShownMessage>;
  hasMore: boolean;
  loaded: boolean;
  /** user -> until (ms): the typing indicator's expiry */
  typing: Map<number, number>;
  /** user -> their receipts in this thread */
  receipts: Map<number, { delivered: number; read: number }>;
}

export interface Popup {
  id: number;
  thread: number;
  from: string;
  unread: number;
}

export type Link = "connecting" | "online" | "offline";

const TYPING_MS = 6_000;

export class Store {
  threads = new Map<number, ThreadState>();
  /** People who write in a thread without being its members (a secretary, a bot). */
  profiles = new Map<number, UserProfile>();
  presence = new Map<number, PresenceStatus>();
  popups: Popup[] = [];
  link: Link = "connecting";
  /** users whose identity key changed and who are not accepted yet */
  identityChanges = new Set<number>();
  /** bumped by `inbox.updated`, `practice.updated`, ...: screens refetch */
  topics = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private nextPopup = 1;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }

  setLink(link: Link): void {
    this.link = link;
    this.changed();
  }

  setThreads(infos: ThreadInfo[]): void {
    const known = this.threads;
    this.threads = new Map(infos.map((info) => [info.id, known.get(info.id) ?? emptyThread(info)]));
    for (const info of infos) setInfo(this.threads.get(info.id) as ThreadState, info);
    this.changed();
  }

  updateThread(info: ThreadInfo): void {
    const state = this.threads.get(info.id);
    // What an update leaves out stays as known: the caller's own positions and
    // unread count (not in a broadcast update), and, for a delegate, whose inbox it is.
    const via = info.via ?? state?.info.via;
    const known = state?.info;
    if (state && known) {
      setInfo(state, {
        ...info,
        unread: info.unread ?? known.unread,
        read_seq: Math.max(info.read_seq ?? 0, known.read_seq ?? 0),
        delivered_seq: Math.max(info.delivered_seq ?? 0, known.delivered_seq ?? 0),
        last_seq: Math.max(info.last_seq ?? 0, known.last_seq ?? 0),
        last_at: Math.max(info.last_at ?? 0, known.last_at ?? 0),
        muted: known.muted ?? false, // each member's own: an update told to all does not say it
        ...(via ? { via } : {}),
      });
    }
    else this.threads.set(info.id, emptyThread(info));
    this.changed();
  }

  thread(id: number): ThreadState | undefined {
    return this.threads.get(id);
  }

  addMessages(thread: number, messages: ShownMessage[], hasMore?: boolean): void {
    const state = this.threads.get(thread);
    if (!state) return;
    for (const message of messages) state.messages.set(message.id, message);
    if (hasMore !== undefined) {
      state.hasMore = hasMore;
      state.loaded = true;
    }
    const newest = Math.max(0, ...messages.map((m) => m.threadSeq));
    if (newest > (state.info.last_seq ?? 0)) state.info = { ...state.info, last_seq: newest };
    this.changed();
  }

  /** What is shown of `thread` may miss a message: read its history again. */
  stale(thread: number): void {
    const state = this.threads.get(thread);
    if (state) state.loaded = false;
    this.changed();
  }

  /** After a reset of the stream: every conversation is read again when shown. */
  forgetMessages(): void {
    for (const state of this.threads.values()) {
      state.messages.clear();
      state.loaded = false;
      state.hasMore = true;
    }
    this.changed();
  }

  replyAllowed(thread: number, allowed: boolean): void {
    const state = this.threads.get(thread);
    if (state) state.info = { ...state.info, reply_allowed: allowed };
    this.changed();
  }

  /** The caller muted or unmuted the thread. */
  setMuted(thread: number, muted: boolean): void {
    const state = this.threads.get(thread);
    if (state) state.info = { ...state.info, muted };
    this.changed();
  }

  /** A message from someone else arrived while the thread was not on screen. */
  countUnread(thread: number): void {
    const state = this.threads.get(thread);
    if (state) state.info = { ...state.info, unread: (state.info.unread ?? 0) + 1 };
    this.changed();
  }

  markRead(thread: number, seq: number): void {
    const state = this.threads.get(thread);
    if (state) state.info = { ...state.info, unread: 0, read_seq: Math.max(seq, state.info.read_seq ?? 0) };
    this.changed();
  }

  receipt(thread: number, user: number, delivered: number, read: number): void {
    const state = this.threads.get(thread);
    if (state) raiseReceipt(state, user, delivered, read);
    this.changed();
  }

  typing(thread: number, user: number, active: boolean, now = Date.now()): void {
    const state = this.threads.get(thread);
    if (!state) return;
    if (active) state.typing.set(user, now + TYPING_MS);
    else state.typing.delete(user);
    this.changed();
    if (active) setTimeout(() => this.changed(), TYPING_MS + 50); // let the indicator expire
  }

  setPresence(user: number, status: PresenceStatus): void {
    this.presence.set(user, status);
    this.changed();
  }

  popup(thread: number, from: string, unread: number): void {
    const id = this.nextPopup++;
    this.popups = [...this.popups.filter((p) => p.thread !== thread), { id, thread, from, unread }];
    this.changed();
  }

  dismiss(id: number): void {
    this.popups = this.popups.filter((p) => p.id !== id);
    this.changed();
  }

  /** The conversation is on screen: its popups have said what they had to. */
  dismissThread(thread: number): void {
    if (!this.popups.some((p) => p.thread === thread)) return;
    this.popups = this.popups.filter((p) => p.thread !== thread);
    this.changed();
  }

  identityChanged(user: number, changed: boolean): void {
    if (changed) this.identityChanges.add(user);
    else this.identityChanges.delete(user);
    this.changed();
  }

  addProfiles(profiles: UserProfile[]): void {
    for (const profile of profiles) this.profiles.set(profile.user, profile);
    this.changed();
  }

  /** A name to show for `user` in `members`' conversation. */
  nameOf(members: Member[], user: number): string {
    return members.find((m) => m.user === user)?.name ?? this.profiles.get(user)?.name ?? `#${user}`;
  }

  bump(topic: string): void {
    this.topics.set(topic, (this.topics.get(topic) ?? 0) + 1);
    this.changed();
  }

  totalUnread(): number {
    let total = 0;
    for (const state of this.threads.values()) total += state.info.unread ?? 0;
    return total;
  }

  /** Inbox order: unread first, then the most recent activity. */
  inbox(): ThreadState[] {
    return [...this.threads.values()].sort(
      (a, b) =>
        Number((b.info.unread ?? 0) > 0) - Number((a.info.unread ?? 0) > 0) || lastActivity(b) - lastActivity(a),
    );
  }
}

/** When the thread last moved: its latest message (as listed, or as arrived since), else its opening. */
export function lastActivity(state: ThreadState): number {
  return Math.max(state.info.created_at, state.info.last_at ?? 0, ...[...state.messages.values()].map((m) => m.sentAt));
}

function emptyThread(info: ThreadInfo): ThreadState {
  const state = { info, messages: new Map(), hasMore: true, loaded: false, typing: new Map(), receipts: new Map() };
  setInfo(state, info);
  return state;
}

/** A thread's info, and the receipts its members reached (receipts only move forward). */
function setInfo(state: ThreadState, info: ThreadInfo): void {
  state.info = info;
  for (const member of info.members) raiseReceipt(state, member.user, member.delivered_seq ?? 0, member.read_seq ?? 0);
}

function raiseReceipt(state: ThreadState, user: number, delivered: number, read: number): void {
  const known = state.receipts.get(user) ?? { delivered: 0, read: 0 };
  state.receipts.set(user, { delivered: Math.max(known.delivered, delivered), read: Math.max(known.read, read) });
}

export function typingNow(state: ThreadState, now = Date.now()): number[] {
  return [...state.typing].filter(([, until]) => until > now).map(([user]) => user);
}

/** Re-render the calling component whenever `store` changes. */
export function useStore(store: Store): Store {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
  return store;
}

/** A number that changes whenever `topic` is bumped: a dependency for refetching. */
export function useTopic(store: Store, topic: string): number {
  useStore(store);
  return store.topics.get(topic) ?? 0;
}
