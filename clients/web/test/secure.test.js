// Secure's checks that need no server: what a sender's envelope may not make
// the receiver do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DocumentTampered, Keyring, Secure, ready } from "../build/src/index.js";

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
