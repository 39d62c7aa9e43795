// Sealing one message to 2, 50 and 500 devices with the SDK (libsodium.js):
// `node tools/seal-bench.mjs` after `npm run build`. Under Node; the browser
// measurement comes with the web app (issue 19).
import { ready, DeviceKeys, sealEnvelope } from "../build/src/index.js";
await ready();
const sender = DeviceKeys.generate(1);
for (const n of [2, 50, 500]) {
  const recipients = new Map();
  for (let d = 1; d <= n; d++) recipients.set(d, DeviceKeys.generate(d).enc.publicKey);
  const body = { text: "x".repeat(200), subject: "", documents: [] };
  const runs = n === 500 ? 20 : 200;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) sealEnvelope({ thread: 1, senderUser: 1, body, recipients, ts: Date.now() }, sender);
  const ms = (performance.now() - t0) / runs;
  console.log(`seal to ${n} devices: ${ms.toFixed(2)} ms`);
}
