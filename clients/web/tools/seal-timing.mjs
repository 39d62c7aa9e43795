// Sealing one 200-character message to 2, 50 and 500 devices: the cost a
// sender pays per message in a group. Shared by the Node run
// (seal-bench.mjs) and the browser run (benchmarks/webapp.py), which hand in
// the SDK they loaded.
export async function sealTimings({ ready, DeviceKeys, sealEnvelope }) {
  await ready();
  const sender = DeviceKeys.generate(1);
  const timings = {};
  for (const devices of [2, 50, 500]) {
    const recipients = new Map();
    for (let d = 1; d <= devices; d++) recipients.set(d, DeviceKeys.generate(d).enc.publicKey);
    const body = { text: "x".repeat(200), subject: "", documents: [] };
    const runs = devices === 500 ? 20 : 200;
    const started = performance.now();
    for (let i = 0; i < runs; i++) sealEnvelope({ thread: 1, senderUser: 1, body, recipients, ts: Date.now() }, sender);
    timings[devices] = (performance.now() - started) / runs;
  }
  return timings;
}
