// The SDK's client logic without a server: a scripted WebSocket plays the
// server's side frame by frame (the real-server tests are
// tests/integration/test_js_sdk.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import {
  CallError,
  Client,
  UNREADABLE,
  backoffMs,
  decodeFrames,
  otherUrl,
  shouldReconnect,
} from "../build/src/index.js";

const credentials = { token: "t", userId: 7, deviceId: 9, role: "patient", expiresAt: 0 };

/** A WebSocket whose server side the test writes. */
class ScriptedSocket extends EventTarget {
  static last;
  readyState = 0;
  sent = [];
  constructor(url, protocols) {
    super();
    this.url = url;
    this.protocols = protocols;
    ScriptedSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.dispatchEvent(new Event("open"));
    });
  }
  send(bytes) {
    this.sent.push(decode(bytes));
  }
  close(code = 1000, reason = "") {
    this.readyState = 3;
    const closed = new Event("close");
    Object.assign(closed, { code, reason });
    queueMicrotask(() => this.dispatchEvent(closed));
  }
  /** The server sends `frame`. */
  serve(frame) {
    const message = new Event("message");
    message.data = encode(frame).slice().buffer;
    this.dispatchEvent(message);
  }
}

const welcome = {
  t: "welcome", v: 1, user: 7, role: "patient", device: 9, session: "s", server_time: 0,
  cursor: 10, heartbeat_ms: 25_000, limits: {},
};

async function connected(options = {}) {
  const client = new Client("ws://server/ws", credentials, { webSocket: ScriptedSocket, ...options });
  const welcomed = client.connect();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const socket = ScriptedSocket.last;
  socket.serve(welcome);
  await welcomed;
  return { client, socket };
}

test("hello says who the device is, and the welcome's cursor is where it starts", async () => {
  const { client, socket } = await connected();
  assert.deepEqual(socket.protocols, ["carehub.v1"]);
  const [hello] = socket.sent;
  assert.equal(hello.t, "hello");
  assert.equal(hello.token, "t");
  assert.equal(hello.device, 9);
  assert.equal("resume_from" in hello, false);
  assert.equal(client.cursor, 10);
  await client.close();
});

test("durable events come once and in order; the cursor follows them", async () => {
  const { client, socket } = await connected();
  socket.serve({ t: "event", type: "receipt", data: { thread: 1 }, seq: 11 });
  socket.serve({ t: "event", type: "receipt", data: { thread: 1 }, seq: 11 }); // again
  socket.serve({ t: "event", type: "typing", data: { thread: 1 } }); // ephemeral
  socket.serve({ t: "event", type: "receipt", data: { thread: 2 }, seq: 12 });
  const events = [await client.nextEvent(), await client.nextEvent(), await client.nextEvent()];
  assert.deepEqual(events.map((e) => [e.type, e.seq]), [["receipt", 11], ["typing", undefined], ["receipt", 12]]);
  assert.equal(client.stats.duplicatesDropped, 1);
  assert.equal(client.cursor, 12);
  await client.close();
});

test("an event frame that does not validate is handed on as unreadable, in its place", async () => {
  const { client, socket } = await connected();
  const broken = { t: "event", type: 12, data: {}, seq: 12 };
  socket.serve([
    { t: "event", type: "receipt", data: { thread: 1 }, seq: 11 },
    broken,
    { t: "event", type: "receipt", data: { thread: 1 }, seq: "13" },
    { t: "event", type: "receipt", data: { thread: 1 }, seq: null }, // nil: no seq, as in Python
  ]);
  socket.serve(broken); // again
  const events = [await client.nextEvent(), await client.nextEvent(), await client.nextEvent(), await client.nextEvent()];
  assert.deepEqual(events.map((e) => [e.type, e.seq]), [
    ["receipt", 11],
    [UNREADABLE, 12],
    [UNREADABLE, undefined],
    ["receipt", undefined],
  ]);
  assert.deepEqual(events[1].data, { type: "", data: broken, reason: "its type is not a string" });
  assert.equal(events[2].data.type, "receipt");
  assert.equal(events[2].data.reason, "its seq is not an integer");
  assert.equal(client.stats.unreadable, 2);
  assert.equal(client.stats.duplicatesDropped, 1);
  assert.equal(client.cursor, 12);
  await client.close();
});

test("a message of several frames (version 2) is taken frame by frame", async () => {
  const { client, socket } = await connected();
  assert.deepEqual(socket.sent[0].versions, [1, 2]);
  const answer = client.call("threads.list");
  const call = socket.sent.at(-1);
  socket.serve([
    { t: "event", type: "receipt", data: { thread: 1 }, seq: 11 },
    { t: "result", id: call.id, value: { threads: [] } },
    { t: "event", type: "receipt", data: { thread: 1 }, seq: 11 }, // again
    { t: "ping", ts: 3, cursor: 20 },
  ]);
  assert.deepEqual(await answer, { threads: [] });
  const event = await client.nextEvent();
  assert.deepEqual([event.type, event.seq], ["receipt", 11]);
  assert.equal(client.stats.duplicatesDropped, 1);
  assert.deepEqual(socket.sent.at(-1), { t: "pong", ts: 3 });
  assert.equal(client.cursor, 20);
  await client.close();
});

test("a welcome that does not come alone is refused", async () => {
  const client = new Client("ws://server/ws", credentials, { webSocket: ScriptedSocket, reconnect: false });
  const welcomed = client.connect();
  await new Promise((resolve) => setTimeout(resolve, 0));
  ScriptedSocket.last.serve([welcome, { t: "event", type: "receipt", data: {}, seq: 11 }]);
  await assert.rejects(welcomed, /the welcome must come alone/);
  assert.equal(client.cursor, undefined);
});

test("a ping is answered, and its cursor moves an idle client's cursor forward only", async () => {
  const { client, socket } = await connected();
  socket.serve({ t: "ping", ts: 5, cursor: 40 });
  assert.deepEqual(socket.sent.at(-1), { t: "pong", ts: 5 });
  assert.equal(client.cursor, 40);
  socket.serve({ t: "ping", cursor: 30 });
  assert.equal(client.cursor, 40);
  await client.close();
});

test("a refused call rejects with the wire's code and details", async () => {
  const { client, socket } = await connected();
  const answer = client.call("messages.history", { thread: 3 });
  const call = socket.sent.at(-1);
  assert.equal(call.method, "messages.history");
  socket.serve({ t: "error", id: call.id, code: "rate_limited", message: "slow down", details: { retry_after_ms: 200 } });
  await assert.rejects(answer, (error) => error instanceof CallError && error.code === "rate_limited" && error.details.retry_after_ms === 200);
  const ok = client.call("threads.list");
  socket.serve({ t: "result", id: socket.sent.at(-1).id, value: { threads: [] } });
  assert.deepEqual(await ok, { threads: [] });
  await client.close();
});

test("an error frame that does not validate still rejects its call at once", async () => {
  const { client, socket } = await connected();
  const newer = client.call("threads.list");
  socket.serve({ t: "error", id: socket.sent.at(-1).id, code: "payment_required", message: "Abonnement requis", details: { plan: 2 } });
  await assert.rejects(newer, (error) => error.code === "payment_required" && error.details.plan === 2);
  const broken = client.call("threads.list");
  socket.serve({ t: "error", id: socket.sent.at(-1).id, code: 7, message: null, details: [1] });
  await assert.rejects(broken, (error) => error instanceof CallError && error.code === "internal" && error.description === "unreadable error" && Object.keys(error.details).length === 0);
  const blank = client.call("threads.list");
  socket.serve({ t: "error", id: socket.sent.at(-1).id, code: "", message: "?", details: new Uint8Array([1]) });
  await assert.rejects(blank, (error) => error.code === "internal" && !(error.details instanceof Uint8Array));
  await client.close();
});

test("frames that are not the server's are skipped", () => {
  assert.deepEqual(decodeFrames(encode([1, 2])), []);
  assert.deepEqual(decodeFrames(encode({ t: "hello" })), []);
  assert.deepEqual(decodeFrames(new Uint8Array([0xc1])), []);
  assert.deepEqual(decodeFrames(encode({ t: "pong", ts: 1 })), [{ t: "pong", ts: 1 }]);
});

test("a message of 17 frames packed by the Python side (tests/vectors: structures.server_message)", () => {
  const vectors = JSON.parse(readFileSync(new URL("../../../tests/vectors/e2e.json", import.meta.url), "utf8"));
  const { msgpack, fields } = vectors.structures.server_message;
  assert.equal(msgpack.slice(0, 6), "dc0011"); // an array of 16 or more: a 16-bit count
  assert.deepEqual(decodeFrames(Uint8Array.from(Buffer.from(msgpack, "hex"))), fields);
});

test("a message of several frames is read in order, past a frame it cannot read", () => {
  const frames = [{ t: "ping", ts: 1 }, { t: "future-frame" }, { t: "pong", ts: 2 }];
  assert.deepEqual(decodeFrames(encode(frames)), [frames[0], frames[2]]);
});

test("close codes: 4000-4099 and transient ones reconnect, 4100-4199 stop", () => {
  for (const code of [4000, 4002, 4005, 1006, 1011, 1012]) assert.equal(shouldReconnect(code), true, code);
  for (const code of [1000, 1008, 4100, 4101, 4104]) assert.equal(shouldReconnect(code), false, code);
});

test("back-off doubles to 5 s with jitter; failover picks another URL", () => {
  assert.equal(backoffMs(1, () => 1), 100);
  assert.equal(backoffMs(2, () => 0), 100);
  assert.equal(backoffMs(20, () => 1), 5000);
  assert.equal(otherUrl(["a", "b", "c"], "a", () => 0.99), "c");
  assert.equal(otherUrl(["a"], "a"), "a");
});

test("a listener that throws neither stops the others nor the socket", async () => {
  const reported = [];
  const { client, socket } = await connected({ onListenerError: (error) => reported.push(error.message) });
  const seen = [];
  client.on("typing", () => {
    throw new Error("the app's bug");
  });
  client.on("typing", (event) => seen.push(event.data.thread));
  socket.serve({ t: "event", type: "typing", data: { thread: 1 } });
  socket.serve({ t: "event", type: "receipt", data: { thread: 2 }, seq: 11 });
  assert.deepEqual(reported, ["the app's bug"]);
  assert.deepEqual(seen, [1]);
  assert.equal((await client.nextEvent(["receipt"])).seq, 11);
  await client.close();
});

test("a wait for an event that timed out takes nothing later", async () => {
  const { client, socket } = await connected();
  await assert.rejects(client.nextEvent(["message.new"], 5));
  socket.serve({ t: "event", type: "message.new", data: { id: 1 }, seq: 11 });
  assert.equal((await client.nextEvent(["message.new"])).seq, 11);
  await client.close();
});

test("closing while connecting stops the attempt", async () => {
  const client = new Client("ws://server/ws", credentials, { webSocket: ScriptedSocket });
  const connecting = client.connect();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await client.close();
  await assert.rejects(connecting, (error) => error.name === "Disconnected");
  assert.equal(ScriptedSocket.last.readyState, 3);
});

test("events nobody takes are bounded, the oldest dropped and counted", async () => {
  const { client, socket } = await connected();
  for (let seq = 11; seq <= 10_011; seq += 1) socket.serve({ t: "event", type: "receipt", data: {}, seq });
  assert.equal(client.stats.eventsDropped, 1);
  assert.equal((await client.nextEvent()).seq, 12);
  await client.close();
});
