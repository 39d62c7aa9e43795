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
  PROTOCOL_VERSIONS,
  SUBPROTOCOL,
  type ServerFrame,
  type Welcome,
  decodeFrame,
  encodeFrame,
  shouldReconnect,
} from "./wire.js";

export interface ClientEvent {
  type: string;
  data: unknown;
  /** Durable events only: the position to resume from. */
  seq?: number;
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
}

export interface ClientStats {
  reconnects: number;
  resent: number;
  duplicatesDropped: number;
  closes: number[];
}

interface Pending {
  method: string;
  frame: Uint8Array;
  retry: boolean;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const AUTH_CLOSES: ReadonlySet<number> = new Set([CloseCode.UNAUTHORIZED, CloseCode.TOKEN_REVOKED]);

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
  readonly stats: ClientStats = { reconnects: 0, resent: 0, duplicatesDropped: 0, closes: [] };
  private reconnecting: boolean;
  private readonly WebSocket: WebSocketClass;
  private readonly clientName: string;
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue = new EventQueue();
  private readonly listeners = new Map<string, Set<(event: ClientEvent) => void>>();
  private failure: CarehubError | undefined;
  private silence: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    url: string | readonly string[],
    readonly credentials: Credentials,
    options: ClientOptions = {},
  ) {
    this.urls = typeof url === "string" ? [url] : [...url];
    if (!this.urls.length) throw new CarehubError("no URL to connect to");
    this.url = this.urls[0] as string;
    this.cursor = options.resumeFrom;
    this.reconnecting = options.reconnect ?? true;
    this.clientName = options.clientName ?? "carehub-js/0.1";
    const WebSocketClass = options.webSocket ?? (globalThis.WebSocket as WebSocketClass | undefined);
    if (!WebSocketClass) throw new CarehubError("no WebSocket here: pass options.webSocket (in Node 20: ws)");
    this.WebSocket = WebSocketClass;
  }

  get userId(): number {
    return this.credentials.userId;
  }

  /** Connect and say hello; throws if this first attempt is refused. */
  async connect(): Promise<Welcome> {
    await this.open(false);
    return this.welcome as Welcome;
  }

  /** Close for good: pending calls fail with `Disconnected`. */
  async close(): Promise<void> {
    this.stopped = true;
    this.reconnecting = false;
    const socket = this.socket;
    if (socket && socket.readyState <= 1) {
      const closed = new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
      socket.close(CloseCode.NORMAL, "closed by the client");
      await closed;
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
  async nextEvent(types: string[] = [], timeoutMs = 10_000): Promise<ClientEvent> {
    return withTimeout(this.queue.next((event) => !types.length || types.includes(event.type)), timeoutMs);
  }

  /** Call `listener` on each event of `type` ("*": every event) as it
   * arrives; returns the function that stops it. */
  on(type: string, listener: (event: ClientEvent) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
    return () => set.delete(listener);
  }

  private request(method: string, params: unknown, retry: boolean, timeoutMs: number): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const frame = encodeFrame({ t: "call", id, method, params });
    const answer = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { method, frame, retry, resolve, reject });
    });
    if (this.socket?.readyState === 1) this.socket.send(frame);
    return withTimeout(answer, timeoutMs).finally(() => this.pending.delete(id));
  }

  /** Open a socket, say hello, wait for the welcome (or the close refusing it). */
  private open(again: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new this.WebSocket(this.url, [SUBPROTOCOL]);
      socket.binaryType = "arraybuffer";
      let welcomed = false;
      socket.addEventListener("open", () => {
        const hello: Record<string, unknown> = {
          t: "hello",
          versions: PROTOCOL_VERSIONS,
          token: this.credentials.token,
          device: this.credentials.deviceId,
          client: this.clientName,
        };
        if (this.cursor !== undefined) hello.resume_from = this.cursor;
        socket.send(encodeFrame(hello as never));
      });
      socket.addEventListener("message", (message) => {
        const frame = decodeFrame(new Uint8Array(message.data as ArrayBuffer));
        if (frame === null) return;
        this.heard(socket);
        if (welcomed) {
          this.dispatch(socket, frame);
          return;
        }
        if (frame.t !== "welcome") {
          socket.close(CloseCode.NORMAL, "expected welcome");
          reject(new CarehubError(`expected welcome, got ${frame.t}`));
          return;
        }
        welcomed = true;
        this.welcome = frame;
        this.cursor ??= frame.cursor;
        this.socket = socket;
        for (const pending of this.pending.values()) {
          socket.send(pending.frame); // the sends (and reads) not yet answered
          if (again) this.stats.resent += 1;
        }
        resolve();
      });
      // A refused or failed connection also closes: the close says what to do.
      socket.addEventListener("error", () => undefined);
      socket.addEventListener("close", (closed) => {
        clearTimeout(this.silence);
        const error = closeError(closed.code, closed.reason);
        if (!welcomed) reject(error);
        else void this.lost(error);
      });
    });
  }

  /** A frame arrived: the server is alive; too long a silence reconnects. */
  private heard(socket: WebSocket): void {
    clearTimeout(this.silence);
    const heartbeat = this.welcome?.heartbeat_ms ?? 30_000;
    this.silence = setTimeout(() => socket.close(CloseCode.HEARTBEAT_TIMEOUT, "server silent"), 2.5 * heartbeat);
  }

  private dispatch(socket: WebSocket, frame: ServerFrame): void {
    switch (frame.t) {
      case "result":
      case "error": {
        const pending = frame.id == null ? undefined : this.pending.get(frame.id);
        if (!pending) return;
        this.pending.delete(frame.id as number);
        if (frame.t === "error") pending.reject(new CallError(frame.code, frame.message, frame.details ?? {}));
        else pending.resolve(frame.value ?? null);
        return;
      }
      case "event": {
        if (frame.seq !== undefined) {
          if (this.cursor !== undefined && frame.seq <= this.cursor) {
            this.stats.duplicatesDropped += 1;
            return;
          }
          this.cursor = frame.seq;
        }
        if (frame.type === "sync.reset") this.cursor = (frame.data as { cursor: number }).cursor;
        const event: ClientEvent = { type: frame.type, data: frame.data ?? null };
        if (frame.seq !== undefined) event.seq = frame.seq;
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

  private emit(event: ClientEvent): void {
    this.queue.push(event);
    for (const type of [event.type, "*"]) {
      for (const listener of this.listeners.get(type) ?? []) listener(event);
    }
  }

  /** The socket closed after its welcome: reconnect, or stop for good. */
  private async lost(error: CarehubError): Promise<void> {
    this.socket = undefined;
    const code = error instanceof Disconnected ? error.code : null;
    this.stats.closes.push(code ?? 0);
    if (this.stopped || !this.reconnecting || error instanceof AuthError || (code !== null && !shouldReconnect(code))) {
      this.failAll(error);
      return;
    }
    for (const [id, pending] of this.pending) {
      if (pending.retry) continue;
      this.pending.delete(id);
      pending.reject(error);
    }
    for (let attempt = 1; !this.stopped; attempt += 1) {
      await sleep(backoffMs(attempt));
      if (attempt > 1 || code === CloseCode.SERVER_SHUTDOWN) this.url = otherUrl(this.urls, this.url);
      try {
        await this.open(true);
        this.stats.reconnects += 1;
        return;
      } catch (refused) {
        if (refused instanceof AuthError) {
          this.failAll(refused);
          return;
        }
      }
    }
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

function closeError(code: number, reason: string): CarehubError {
  if (AUTH_CLOSES.has(code)) return new AuthError(`closed ${code}: ${reason}`);
  return new Disconnected(code, reason);
}

/** Events waiting to be taken, and the takers waiting for one. */
class EventQueue {
  private readonly events: ClientEvent[] = [];
  private readonly takers: { wants: (event: ClientEvent) => boolean; resolve: (event: ClientEvent) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | undefined;

  push(event: ClientEvent): void {
    const index = this.takers.findIndex((taker) => taker.wants(event));
    const taker = index >= 0 ? this.takers.splice(index, 1)[0] : undefined;
    if (taker) taker.resolve(event);
    else this.events.push(event);
  }

  fail(error: Error): void {
    this.failure = error;
    for (const taker of this.takers.splice(0)) taker.reject(error);
  }

  /** The next event `wants` accepts; the ones before it are dropped. */
  next(wants: (event: ClientEvent) => boolean = () => true): Promise<ClientEvent> {
    while (this.events.length) {
      const event = this.events.shift() as ClientEvent;
      if (wants(event)) return Promise.resolve(event);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.takers.push({ wants, resolve, reject }));
  }

  async *iterate(): AsyncIterableIterator<ClientEvent> {
    while (true) yield await this.next();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
