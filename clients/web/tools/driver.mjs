// The JavaScript SDK as a puppet for the Python test suite: one JSON command
// per line on stdin, one JSON answer per line on stdout, so that pytest can
// run a JS user beside Python users against a real server
// (tests/support/jsclient.py). Bytes travel as {"$bytes": "<hex>"}.
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { Client, Keyring, Secure, login, logout, ready } from "../build/src/index.js";

const toHex = (bytes) => Buffer.from(bytes).toString("hex");

function toJson(value) {
  if (value instanceof Uint8Array) return { $bytes: toHex(value) };
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    if (typeof value.$bytes === "string") return Uint8Array.from(Buffer.from(value.$bytes, "hex"));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

function refusal(error) {
  return { name: error.name, code: error.code ?? null, details: error.details ?? null, text: error.message };
}

let base;
let credentials;
let client;
let secure;

const ops = {
  async login({ baseUrl, username, password, deviceId }) {
    base = baseUrl;
    credentials = await login(base, username, password, { deviceName: "node", deviceId });
    return credentials;
  },
  async connect({ urls, resumeFrom }) {
    client = new Client(urls, credentials, { webSocket: WebSocket, resumeFrom });
    return client.connect();
  },
  call: ({ method, params, idempotent }) => client.call(method, fromJson(params), { idempotent }),
  nextEvent: ({ types, timeoutMs }) => client.nextEvent(types, timeoutMs),
  // The link drops under the client (as a network would): it must reconnect and resume.
  drop: async ({ code }) => {
    client.socket.close(code ?? 4000, "dropped by the test");
    return null;
  },
  state: async () => ({ cursor: client.cursor, url: client.url, stats: client.stats }),
  // End to end: this device is the user's first (it makes the identity key).
  // senderKeysAbove: from how many devices it uses sender keys (default 16).
  async secureSetup({ senderKeysAbove }) {
    await ready();
    const keys = Keyring.create(credentials.userId, credentials.deviceId, { withIdentity: true });
    secure = new Secure(client, keys, Date.now, { senderKeysAbove });
    await secure.setup();
    return null;
  },
  send: ({ thread, text, documents, reason, actingFor }) =>
    secure.send(thread, text, { documents: fromJson(documents ?? []), reason, actingFor }),
  upload: ({ thread, data, name, mime }) => secure.upload(thread, fromJson(data), name, mime),
  async nextMessage({ timeoutMs }) {
    const event = await client.nextEvent(["message.new"], timeoutMs);
    const opened = await secure.read(event.data);
    const documents = [];
    for (const ref of opened.body?.documents ?? []) {
      const pieces = [];
      for await (const piece of secure.download(ref)) pieces.push(piece);
      documents.push({ name: ref.name, mime: ref.mime, data: Buffer.concat(pieces) });
    }
    return { id: event.data.id, sender: event.data.sender, opened, documents };
  },
  logout: () => logout(base, credentials),
  close: () => client.close(),
};

// Commands run concurrently (a test waits for an event while it calls):
// each answer carries its command's id.
async function handle(line) {
  const { id, op, ...args } = JSON.parse(line);
  let answer;
  try {
    answer = { id, ok: toJson((await ops[op](args)) ?? null) };
  } catch (error) {
    answer = { id, error: refusal(error) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

createInterface({ input: process.stdin })
  .on("line", (line) => void handle(line))
  .on("close", () => process.exit(0)); // the test is done with this user
