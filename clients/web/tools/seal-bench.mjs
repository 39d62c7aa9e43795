// Sealing one message to 2, 50 and 500 devices with the SDK (libsodium.js)
// under Node: `node tools/seal-bench.mjs` after `npm run build`. The same in
// Chromium: `python -m benchmarks.webapp`.
import * as sdk from "../build/src/index.js";
import { sealTimings } from "./seal-timing.mjs";

for (const [devices, ms] of Object.entries(await sealTimings(sdk))) {
  console.log(`seal to ${devices} devices: ${ms.toFixed(2)} ms`);
}
