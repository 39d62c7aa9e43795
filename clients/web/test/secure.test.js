// Secure's logic that needs no real server: what a sender's envelope may not
// make the receiver do; when sender keys are made, distributed and fetched.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CallError,
  DocumentTampered,
  Keyring,
  NotForThisDevice,
  Secure,
  decodeEnvelope,
  decodeSenderKey,
  entryFor,
  equal,
  ready,
} from "../build/src/index.js";

test("a document id from an envelope never becomes another URL path", async () => {
  await ready();
  const keys = Keyring.create(1, 1, { withIdentity: true });
  const client = { credentials: { token: "t" } };
  const secure = new Secure(client, keys);
  const fetched = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url) => {
    fetched.push(url);
    throw new Error("no request may leave for a bad id");
  };
  try {
    for (const file of ["../threads/1/audit", "ABCDEF0123456789abcdef0123456789", "0".repeat(31), "0".repeat(33)]) {
      const ref = { file, key: new Uint8Array(32), size: 1, mime: "text/plain", name: "x", hash: new Uint8Array(32) };
      await assert.rejects(secure.downloadHttp("http://127.0.0.1:1", ref).next(), DocumentTampered);
    }
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(fetched, []);
});

const THREAD = 7;
const YEAR = 365 * 24 * 3600 * 1000;

/** The calls Secure makes, answered in memory for one thread whose members
 * are `keyrings`' users (one device each, lists published): it keeps the
 * sender keys distributed and the envelopes sent. */
function fakeServer(keyrings) {
  const lists = new Map(
    keyrings.map((k) => {
      const entry = entryFor(k.device.request(k.user), k.user, Date.now() + YEAR);
      return [k.user, k.identity.signList(k.user, 1, Date.now(), [entry])];
    }),
  );
  const server = { calls: [], distributed: [], sent: [], refuseNextSend: null };
  const senderKey = ({ thread, device, key_id }, reader) => {
    const found = server.distributed.find(({ sender, params }) => {
      const named = decodeSenderKey(params.key).senderKey;
      return params.thread === thread && sender === device && equal(named.keyId, key_id);
    });
    const wrapped = found?.params.recipients.find(([to]) => to === reader)?.[1];
    if (!wrapped) throw new CallError("not_found", "no sender key sealed to this device");
    return { key: found.params.key, wrapped };
  };
  server.clientOf = (keys) => ({
    async call(method, params) {
      server.calls.push(method);
      if (method === "threads.list")
        return { threads: [{ id: THREAD, members: keyrings.map((k) => ({ user: k.user })) }] };
      if (method === "keys.fetch") return { lists: params.users.map((user) => ({ user, list: lists.get(user) })) };
      if (method === "keys.distribute") {
        server.distributed.push({ sender: keys.device.device, params });
        return {};
      }
      if (method === "keys.sender_key") return senderKey(params, keys.device.device);
      throw new Error(`no call ${method} expected`);
    },
    async send(thread, envelope) {
      const refusal = server.refuseNextSend;
      server.refuseNextSend = null;
      if (refusal) throw refusal;
      const id = server.sent.length + 1;
      server.sent.push({ id, thread, sender: keys.user, sender_device: keys.device.device, envelope });
      return { message_id: id, thread_seq: id, sent_at: Date.now() };
    },
  });
  return server;
}

function people() {
  const patient = Keyring.create(1, 11, { withIdentity: true });
  const doctor = Keyring.create(2, 21, { withIdentity: true });
  return { patient, doctor, server: fakeServer([patient, doctor]) };
}

const keyIdOf = (message) => decodeEnvelope(message.envelope).header.senderKey;

test("above senderKeysAbove devices: one sender key, kept until a stale_devices refusal renews it", async () => {
  await ready();
  const { patient, doctor, server } = people();
  const sender = new Secure(server.clientOf(patient), patient, Date.now, { senderKeysAbove: 1 });
  await sender.send(THREAD, "one");
  await sender.send(THREAD, "two");
  server.refuseNextSend = new CallError("stale_devices", "a device list moved");
  await sender.send(THREAD, "three");
  assert.equal(server.distributed.length, 2);
  const [one, two, three] = server.sent;
  assert.ok(equal(keyIdOf(one), keyIdOf(two)) && !equal(keyIdOf(two), keyIdOf(three)));
  assert.deepEqual(
    server.distributed.map(({ params }) => params.recipients.map(([device]) => device)),
    [
      [11, 21],
      [11, 21],
    ],
  );

  const reader = new Secure(server.clientOf(doctor), doctor);
  const opened = [];
  for (const message of [...server.sent, one]) opened.push((await reader.open(message)).body.text);
  assert.deepEqual(opened, ["one", "two", "three", "one"]);
  assert.equal(server.calls.filter((method) => method === "keys.sender_key").length, 2); // once per key
});

test("up to senderKeysAbove devices (16 by default), messages stay version 1", async () => {
  await ready();
  const { patient, server } = people();
  await new Secure(server.clientOf(patient), patient).send(THREAD, "hello");
  assert.deepEqual(server.distributed, []);
  assert.deepEqual(
    decodeEnvelope(server.sent[0].envelope).header.recipients.map((r) => r.device),
    [11, 21],
  );
});

test("a sender key the server has none of for this device: not for this device", async () => {
  await ready();
  const { patient, doctor, server } = people();
  await new Secure(server.clientOf(patient), patient, Date.now, { senderKeysAbove: 0 }).send(THREAD, "hello");
  server.distributed.length = 0;
  const reader = new Secure(server.clientOf(doctor), doctor);
  await assert.rejects(reader.open(server.sent[0]), NotForThisDevice);
});
