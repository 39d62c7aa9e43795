/**
 * One WebSocket per device: calls, events, reconnect and resume.
 *
 *     const client = new Client(["wss://a.example/ws", "wss://b.example/ws"], credentials);
 *     await client.connect();
 *     const thread = await client.call("threads.open", { kind: "patient_practitioner", ... });
 *     for await (const event of client.events()) { ... }
 *
 * After a drop the client reconnects with back-off (to another of its URLs,
 * at random, once an attempt failed or the server said it is stopping),
 * resumes from the last durable event it received (none lost, none twice)
 * and sends again every call that is safe to repeat: `messages.send` (the
 * server stores each `client_msg_id` once) and the calls made `idempotent`.
 * Others fail with `Disconnected`. The same behaviour as the Python SDK.
 */
import { toHex } from "./e2e/bytes.js";
import { AuthError, CallError, CarehubError, Disconnected } from "./errors.js";
import type { Credentials } from "./http.js";
import {
  CloseCode,
  type ErrorFrame,
  type EventFrame,
  type Hello,
  PROTOCOL_VERSIONS,
  SUBPROTOCOL,
  type ServerFrame,
  type Welcome,
  decodeFrames,
  encodeFrame,
  shouldReconnect,
} from "./wire.js";

export interface ClientEvent {
  type: string;
  data: unknown;
  /** Durable events only: the position to resume from. */
  seq?: number;
}

/** The type of an event whose frame did not validate (a server's bug),
 * handed on rather than dropped: the cursor is past its seq, so no resume
 * would bring it back. Its data is an `Unreadable`. */
export const UNREADABLE = "unreadable";

export interface Unreadable {
  /** The frame's type, or "" if it is not a string. */
  type: string;
  /** The whole frame, as decoded. */
  data: unknown;
  reason: string;
}

export interface SendResult {
  message_id: number;
  thread_seq: number;
  sent_at: number;
  /** The server had this `client_msg_id` already: nothing was stored twice. */
  duplicate?: boolean;
}

export interface SendOptions {
  kind?: string;
  reason?: string;
  replyAllowed?: boolean;
  closeThread?: boolean;
  clientMsgId?: string;
  timeoutMs?: number;
}

/** The WebSocket class to use: the browser's, or `ws`'s in Node 20. */
export type WebSocketClass = new (url: string, protocols: string[]) => WebSocket;

export interface ClientOptions {
  /** The seq of the last durable event this device processed (from storage). */
  resumeFrom?: number;
  reconnect?: boolean;
  webSocket?: WebSocketClass;
  /** Said in `hello`; shows in the server's logs. */
  clientName?: string;
  /** Where an `on()` listener's exception goes: by default the browser's
   * `reportError` (as an event handler's would), or `console.error`. */
  onListenerError?: (error: unknown) => void;
}

export interface ClientStats {
  reconnects: number;
  /** Reconnect attempts that failed (refused, or no welcome in time). */
  failedAttempts: number;
  resent: number;
  duplicatesDropped: number;
  /** Events nobody took, dropped oldest first past `MAX_QUEUED_EVENTS`. */
  eventsDropped: number;
  /** Events handed on as `unreadable`. */
  unreadable: number;
  closes: number[];
}

interface Pending {
  frame: Uint8Array;
  retry: boolean;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const AUTH_CLOSES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.TOKEN_REVOKED]);
const OPEN_TIMEOUT_MS = 10_000; // connect, hello and welcome, as the Python SDK

/** Any URL but the current one, at random: after a rolling restart clients
 * spread over the nodes again instead of all ending on one. */
export function otherUrl(urls: readonly string[], current: string, random = Math.random): string {
  const others = urls.filter((url) => url !== current);
  return others.length ? (others[Math.floor(random() * others.length)] ?? current) : current;
}

/** The pause before reconnect attempt `attempt` (1, 2, ...): doubling from
 * 100 ms to 5 s, with jitter so a node's clients do not return at once. */
export function backoffMs(attempt: number, random = Math.random): number {
  return Math.min(5000, 50 * 2 ** Math.min(attempt, 7)) * (0.5 + random() / 2);
}

export class Client {
  readonly urls: string[];
  url: string;
  /** The seq of the newest durable event received: what a reconnect resumes from. */
  cursor: number | undefined;
  welcome: Welcome | undefined;
  readonly stats: ClientStats = {
    reconnects: 0,
    failedAttempts: 0,
    resent: 0,
    duplicatesDropped: 0,
    eventsDropped: 0,
    unreadable: 0,
    closes: [],
  };
  private readonly reconnect: boolean;
  private readonly WebSocket: WebSocketClass;
  private readonly clientName: string;
  private readonly onListenerError: (error: unknown) => void;
  private socket: WebSocket | undefined; // the welcomed one
  private opening: WebSocket | undefined; // the one saying hello (close() reaches it too)
  private wakeUp: (() => void) | undefined; // ends the pause between two attempts
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue = new EventQueue();
  private readonly listeners = new Map<string, Set<(event: ClientEvent) => void>>();
  private readonly linkListeners = new Set<(up: boolean) => void>();
  private failure: CarehubError | undefined;
  private silence: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    url: string | readonly string[],
    readonly credentials: Credentials,
    options: ClientOptions = {},
  ) {
    this.urls = typeof url === "string" ? [url] : [...url];
    if (!this.urls.length) throw new CarehubError("no URL to connect to");
    this.url = this.urls[0] as string;
    this.cursor = options.resumeFrom;
    this.reconnect = options.reconnect ?? true;
    this.clientName = options.clientName ?? "carehub-js/0.1";
    this.onListenerError = options.onListenerError ?? reportListenerError;
    const WebSocketClass = options.webSocket ?? (globalThis.WebSocket as WebSocketClass | undefined);
    if (!WebSocketClass) throw new CarehubError("no WebSocket here: pass options.webSocket (in Node 20: ws)");
    this.WebSocket = WebSocketClass;
  }

  get userId(): number {
    return this.credentials.userId;
  }

  /** Connect and say hello; throws if this first attempt is refused. */
  connect(): Promise<Welcome> {
    return this.open(false);
  }

  /** Close for good, connected or not: pending calls fail with `Disconnected`. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeUp?.();
    const socket = this.socket ?? this.opening;
    if (socket && socket.readyState <= 1) {
      const done = new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
      socket.close(CloseCode.NORMAL, "closed by the client");
      await done;
    }
    this.failAll(new Disconnected(CloseCode.NORMAL, "closed by the client"));
  }

  /** Call `method`; resolves with its result, rejects with `CallError` if
   * refused. An `idempotent` call (a read) is sent again after a reconnect
   * instead of failing with `Disconnected`. */
  call<T = unknown>(
    method: string,
    params: unknown = {},
    options: { timeoutMs?: number; idempotent?: boolean } = {},
  ): Promise<T> {
    return this.request(method, params, options.idempotent ?? false, options.timeoutMs ?? 30_000) as Promise<T>;
  }

  /** Send a message; survives reconnects (sent again with the same `client_msg_id`). */
  send(thread: number, envelope: Uint8Array, options: SendOptions = {}): Promise<SendResult> {
    const params: Record<string, unknown> = {
      thread,
      client_msg_id: options.clientMsgId ?? randomId(),
      envelope,
      kind: options.kind ?? "text",
      reply_allowed: options.replyAllowed ?? true,
      close_thread: options.closeThread ?? false,
    };
    if (options.reason !== undefined) params.reason = options.reason;
    return this.request("messages.send", params, true, options.timeoutMs ?? 60_000) as Promise<SendResult>;
  }

  /** Pushed events, durable ones in seq order and each once; ends by
   * throwing the error that stopped the client. */
  events(): AsyncIterableIterator<ClientEvent> {
    return this.queue.iterate();
  }

  /** The next event of one of `types` (any if none), skipping others. */
  nextEvent(types: string[] = [], timeoutMs = 10_000): Promise<ClientEvent> {
    const taken = this.queue.take((event) => !types.length || types.includes(event.type));
    return withTimeout(taken.event, timeoutMs).finally(taken.cancel);
  }

  /** Call `listener` on each event of `type` ("*": every event) as it
   * arrives; returns the function that stops it. */
  on(type: string, listener: (event: ClientEvent) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
    return () => set.delete(listener);
  }

  /** Call `listener` with true when a socket is welcomed, false when it is
   * lost (reconnecting, or stopped for good); returns the function that stops it. */
  onLink(listener: (up: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  private link(up: boolean): void {
    for (const listener of this.linkListeners) {
      try {
        listener(up);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  private request(method: string, params: unknown, retry: boolean, timeoutMs: number): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const frame = encodeFrame({ t: "call", id, method, params });
    const answer = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { frame, retry, resolve, reject });
    });
    if (this.socket?.readyState === 1) this.socket.send(frame);
    return withTimeout(answer, timeoutMs).finally(() => this.pending.delete(id));
  }

  /** Open a socket, say hello, wait for the welcome (or the close refusing
   * it, or `OPEN_TIMEOUT_MS`); then send the calls still unanswered. */
  private open(again: boolean): Promise<Welcome> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Disconnected(CloseCode.NORMAL, "closed by the client"));
      const socket = (this.opening = new this.WebSocket(this.url, [SUBPROTOCOL]));
      socket.binaryType = "arraybuffer";
      const refuse = (error: CarehubError) => {
        clearTimeout(late);
        if (this.opening === socket) this.opening = undefined;
        reject(error); // no effect once settled (a welcomed socket closing later)
      };
      const late = setTimeout(() => {
        refuse(new Disconnected(null, `no welcome within ${OPEN_TIMEOUT_MS} ms`));
        socket.close(CloseCode.NORMAL, "no welcome");
      }, OPEN_TIMEOUT_MS);
      socket.addEventListener("open", () => socket.send(encodeFrame(this.hello())));
      /** One frame read; false once the socket is refused (read no further). */
      const take = (frame: ServerFrame): boolean => {
        if (socket === this.socket) {
          this.dispatch(socket, frame);
          return true;
        }
        if (frame.t !== "welcome" || this.closed) {
          socket.close(CloseCode.NORMAL, "expected welcome");
          const why = this.closed ? "closed by the client" : `expected welcome, got ${frame.t}`;
          refuse(this.closed ? new Disconnected(CloseCode.NORMAL, why) : new CarehubError(why));
          return false;
        }
        clearTimeout(late);
        this.opening = undefined;
        this.welcomed(socket, frame, again);
        resolve(frame);
        return true;
      };
      socket.addEventListener("message", (message) => {
        const frames = decodeFrames(new Uint8Array(message.data as ArrayBuffer));
        if (frames.length === 0) return;
        this.heard(socket);
        if (socket !== this.socket && frames.length > 1) {
          socket.close(CloseCode.NORMAL, "expected welcome");
          return refuse(new CarehubError("the welcome must come alone"));
        }
        for (const frame of frames) if (!take(frame)) return;
      });
      // A refused or failed connection also closes: the close says what to do.
      socket.addEventListener("error", () => undefined);
      socket.addEventListener("close", (closed) => {
        const error = closeError(closed.code, closed.reason);
        if (socket !== this.socket) return refuse(error);
        clearTimeout(this.silence);
        void this.lost(error);
      });
    });
  }

  private hello(): Hello {
    const hello: Hello = {
      t: "hello",
      versions: PROTOCOL_VERSIONS,
      token: this.credentials.token,
      device: this.credentials.deviceId,
      client: this.clientName,
    };
    if (this.cursor !== undefined) hello.resume_from = this.cursor;
    return hello;
  }

  private welcomed(socket: WebSocket, welcome: Welcome, again: boolean): void {
    this.welcome = welcome;
    this.cursor ??= welcome.cursor;
    this.socket = socket;
    for (const pending of this.pending.values()) {
      socket.send(pending.frame); // the sends (and reads) not yet answered
      if (again) this.stats.resent += 1;
    }
    this.link(true);
  }

  /** A frame arrived: the server is alive. Silence for 2.5 heartbeats: the
   * link is dead; reconnect now (a dead link's close handshake can take
   * half a minute). */
  private heard(socket: WebSocket): void {
    clearTimeout(this.silence);
    const heartbeat = this.welcome?.heartbeat_ms ?? 30_000;
    this.silence = setTimeout(() => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      socket.close(CloseCode.HEARTBEAT_TIMEOUT, "server silent");
      void this.lost(new Disconnected(CloseCode.HEARTBEAT_TIMEOUT, "server silent"));
    }, 2.5 * heartbeat);
  }

  private dispatch(socket: WebSocket, frame: ServerFrame): void {
    switch (frame.t) {
      case "result":
      case "error": {
        const pending = frame.id == null ? undefined : this.pending.get(frame.id);
        if (!pending) return;
        this.pending.delete(frame.id as number);
        if (frame.t === "error") pending.reject(callError(frame));
        else pending.resolve(frame.value ?? null);
        return;
      }
      case "event": {
        const seq = Number.isInteger(frame.seq) ? frame.seq : undefined;
        if (seq !== undefined) {
          if (this.cursor !== undefined && seq <= this.cursor) {
            this.stats.duplicatesDropped += 1;
            return;
          }
          this.cursor = seq;
        }
        const event = this.eventOf(frame);
        const reset = event.type === "sync.reset" ? (event.data as { cursor?: unknown } | null)?.cursor : undefined;
        if (typeof reset === "number") this.cursor = reset;
        if (seq !== undefined) event.seq = seq;
        this.emit(event);
        return;
      }
      case "ping":
        if (frame.cursor !== undefined && this.cursor !== undefined) {
          this.cursor = Math.max(this.cursor, frame.cursor); // nothing else was for us
        }
        socket.send(encodeFrame({ t: "pong", ts: frame.ts ?? 0 }));
        return;
      default:
        return;
    }
  }

  /** What the app gets of an event frame: the event, or an `unreadable`
   * one in its place if the frame's own fields do not validate. */
  private eventOf(frame: EventFrame): ClientEvent {
    const broken = brokenEvent(frame);
    if (!broken) return { type: frame.type, data: frame.data ?? null };
    this.stats.unreadable += 1;
    const type = typeof frame.type === "string" ? frame.type : "";
    const data: Unreadable = { type, data: frame, reason: broken };
    return { type: UNREADABLE, data };
  }

  private emit(event: ClientEvent): void {
    if (this.queue.push(event)) this.stats.eventsDropped += 1;
    for (const type of [event.type, "*"]) {
      for (const listener of this.listeners.get(type) ?? []) {
        try {
          listener(event);
        } catch (error) {
          this.onListenerError(error); // the app's bug: reported, and reading goes on
        }
      }
    }
  }

  /** The socket closed after its welcome: reconnect, or stop for good. */
  private async lost(error: CarehubError): Promise<void> {
    const code = error instanceof Disconnected ? error.code : null;
    this.stats.closes.push(code ?? 0);
    this.link(false);
    if (this.closed || !this.reconnect || !worthRetrying(error)) return this.failAll(error);
    for (const [id, pending] of this.pending) {
      if (pending.retry) continue;
      this.pending.delete(id);
      pending.reject(error);
    }
    for (let attempt = 1; ; attempt += 1) {
      await this.pause(backoffMs(attempt));
      if (attempt > 1 || code === CloseCode.SERVER_SHUTDOWN) this.url = otherUrl(this.urls, this.url);
      try {
        await this.open(true);
        this.stats.reconnects += 1;
        return;
      } catch (refused) {
        this.stats.failedAttempts += 1;
        const stop = refused instanceof CarehubError ? refused : new CarehubError(String(refused));
        if (this.closed || !worthRetrying(stop)) return this.failAll(stop);
      }
    }
  }

  /** Wait `ms`, or less if the client is closed meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private failAll(error: CarehubError): void {
    if (!this.failure) {
      this.failure = error;
      this.queue.fail(error);
    }
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (report) report(error);
  else console.error("a carehub event listener threw:", error);
}

/** Why an event frame's own fields do not validate (a server's bug), if so. */
function brokenEvent(frame: EventFrame): string | undefined {
  if (typeof frame.type !== "string") return "its type is not a string";
  if (frame.seq != null && !Number.isInteger(frame.seq)) return "its seq is not an integer";
  return undefined;
}

/** A call's failure, from an error frame even one that does not validate
 * (a newer server's code): its code as a string, `internal` when it has
 * none (as the Python SDK reads it), its details only if they are a map. */
function callError(frame: ErrorFrame): CallError {
  const code = (typeof frame.code === "string" && frame.code) || "internal";
  const message = typeof frame.message === "string" ? frame.message : "unreadable error";
  const { details } = frame;
  const map =
    typeof details === "object" && details !== null && !Array.isArray(details) && !(details instanceof Uint8Array);
  return new CallError(code, message, map ? details : {});
}

/** Whether a reconnect may help: not for a refused token, a close code of
 * the 4100-4199 range, or anything that is not a connection's failure. */
function worthRetrying(error: CarehubError): boolean {
  if (error instanceof AuthError) return false;
  if (error instanceof Disconnected) return error.code === null || shouldReconnect(error.code);
  return error.constructor === CarehubError; // e.g. no welcome, another first frame
}

function closeError(code: number, reason: string): CarehubError {
  if (AUTH_CLOSES.has(code)) return new AuthError(`closed ${code}: ${reason}`);
  return new Disconnected(code, reason);
}

/** Past this many events nobody took, the oldest are dropped (an app that
 * only uses `on()` never takes any). */
export const MAX_QUEUED_EVENTS = 10_000;

interface Taker {
  wants: (event: ClientEvent) => boolean;
  resolve: (event: ClientEvent) => void;
  reject: (error: Error) => void;
}

/** Events waiting to be taken, and the takers waiting for one. */
class EventQueue {
  private events: ClientEvent[] = [];
  private readonly takers = new Set<Taker>();
  private failure: Error | undefined;

  /** Queue `event` or hand it to a taker; whether an old event was dropped. */
  push(event: ClientEvent): boolean {
    for (const taker of this.takers) {
      if (!taker.wants(event)) continue;
      this.takers.delete(taker);
      taker.resolve(event);
      return false;
    }
    this.events.push(event);
    if (this.events.length <= MAX_QUEUED_EVENTS) return false;
    this.events = this.events.slice(-MAX_QUEUED_EVENTS);
    return true;
  }

  fail(error: Error): void {
    this.failure = error;
    for (const taker of this.takers) taker.reject(error);
    this.takers.clear();
  }

  /** The next event `wants` accepts (those before it are dropped), and how
   * to stop waiting for it (a timed-out wait must not take a later one). */
  take(wants: (event: ClientEvent) => boolean = () => true): { event: Promise<ClientEvent>; cancel: () => void } {
    const index = this.events.findIndex(wants);
    if (index >= 0) {
      const [event] = this.events.splice(0, index + 1).slice(-1) as [ClientEvent];
      return { event: Promise.resolve(event), cancel: () => undefined };
    }
    this.events = [];
    if (this.failure) return { event: Promise.reject(this.failure), cancel: () => undefined };
    let taker: Taker | undefined;
    const event = new Promise<ClientEvent>((resolve, reject) => {
      taker = { wants, resolve, reject };
      this.takers.add(taker);
    });
    return { event, cancel: () => this.takers.delete(taker as Taker) };
  }

  async *iterate(): AsyncIterableIterator<ClientEvent> {
    while (true) yield await this.take().event;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CarehubError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A random id for `client_msg_id` (128 bits, hex), as the Python SDK makes them. */
function randomId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}
