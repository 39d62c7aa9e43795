// Every structure a client produces or parses (tests/vectors/e2e.json,
// written by the Python side) must survive @msgpack/msgpack's *default*
// decoder and encoder byte for byte: decoded into plain objects and arrays,
// encoded back to the same bytes. No Map, no custom extension, no option.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";

const vectors = JSON.parse(
  readFileSync(new URL("../../../tests/vectors/e2e.json", import.meta.url), "utf8"),
);
const structures = Object.entries(vectors.structures).filter(([, v]) => v.msgpack);

const fromHex = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");

function plain(value) {
  if (value instanceof Map) throw new Error("decoded a Map: integer map keys?");
  if (Array.isArray(value)) value.forEach(plain);
  else if (value && typeof value === "object" && !(value instanceof Uint8Array))
    Object.values(value).forEach(plain);
}

test("there are structures to check", () => {
  assert.ok(structures.length >= 10);
});

for (const [name, { msgpack }] of structures) {
  test(`${name} round-trips through the default decoder and encoder`, () => {
    const decoded = decode(fromHex(msgpack));
    plain(decoded);
    assert.equal(toHex(encode(decoded)), msgpack);
  });
}

test("nested MessagePack (the envelope's header) round-trips too", () => {
  const [header] = decode(fromHex(vectors.structures.envelope.msgpack));
  const fields = decode(header);
  plain(fields);
  assert.equal(toHex(encode(fields)), toHex(header));
});
