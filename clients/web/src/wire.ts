/**
 * The wire (`docs/protocol.md`): one binary MessagePack map per frame,
 * tagged by `t`; from version 2 on, a server's message after the welcome
 * may be an array of frames. Frames are plain objects; `encodeFrame` and
 * `decodeFrames` use @msgpack/msgpack's defaults, which the contract tests
 * check byte for byte against the Python side.
 */
import { decode, encode } from "@msgpack/msgpack";

export const SUBPROTOCOL = "carehub.v1";
export const PROTOCOL_VERSIONS = [1, 2];

export interface Hello {
  t: "hello";
  versions: number[];
  token: string;
  device: number;
  resume_from?: number;
  client?: string;
}

export interface Limits {
  frame_bytes: number;
  envelope_bytes: number;
  calls_per_second: number;
  call_burst: number;
  sends_per_second: number;
  send_burst: number;
  history_page: number;
}

export interface Welcome {
  t: "welcome";
  v: number;
  user: number;
  role: string;
  device: number;
  session: string;
  server_time: number;
  cursor: number;
  heartbeat_ms: number;
  limits: Limits;
  resumed?: boolean;
  locale?: string;
}

export interface Call {
  t: "call";
  id: number;
  method: string;
  params: unknown;
}

export interface Result {
  t: "result";
  id: number;
  value?: unknown;
}

export interface ErrorFrame {
  t: "error";
  id?: number | null;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface EventFrame {
  t: "event";
  type: string;
  data?: unknown;
  seq?: number;
}

export interface Ping {
  t: "ping";
  ts?: number;
  /** From the server: every durable event up to here meant for you was sent. */
  cursor?: number;
}

export interface Pong {
  t: "pong";
  ts?: number;
}

export type ServerFrame = Welcome | Result | ErrorFrame | EventFrame | Ping | Pong;
export type ClientFrame = Hello | Call | Ping | Pong;

const SERVER_TAGS = new Set(["welcome", "result", "error", "event", "ping", "pong"]);

export function encodeFrame(frame: ClientFrame): Uint8Array {
  return encode(frame);
}

/** The server frames of one message, in order: one, or several from a
 * version 2 server. What is not a server frame is left out (a newer
 * server's frame this client cannot read, as the Python SDK does). */
export function decodeFrames(bytes: Uint8Array): ServerFrame[] {
  let message: unknown;
  try {
    message = decode(bytes);
  } catch {
    return [];
  }
  const frames = Array.isArray(message) ? message : [message];
  return frames.filter(isServerFrame);
}

function isServerFrame(frame: unknown): frame is ServerFrame {
  if (typeof frame !== "object" || frame === null || frame instanceof Uint8Array) return false;
  const tag = (frame as { t?: unknown }).t;
  return typeof tag === "string" && SERVER_TAGS.has(tag);
}

/** WebSocket close codes: 4000-4099 reconnect and resume, 4100-4199 stop. */
export const CloseCode = {
  NORMAL: 1000,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  SLOW_CONSUMER: 4000,
  HEARTBEAT_TIMEOUT: 4001,
  SERVER_SHUTDOWN: 4002,
  HELLO_TIMEOUT: 4003,
  ACCESS_CHANGED: 4004,
  RESUME: 4005,
  UNAUTHORIZED: 4100,
  TOKEN_REVOKED: 4101,
  UNSUPPORTED_VERSION: 4102,
  BAD_HELLO: 4103,
  DEVICE_SOCKETS: 4104,
} as const;

const RECONNECT_STANDARD = new Set([1001, 1006, 1011, 1012, 1013, 1014]);

/** Whether a client that saw this close code should reconnect and resume. */
export function shouldReconnect(code: number): boolean {
  return (code >= 4000 && code < 4100) || RECONNECT_STANDARD.has(code);
}
