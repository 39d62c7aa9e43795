// The browser run's bundle entry (benchmarks/webapp.py bundles it with esbuild).
import * as sdk from "../src/index.ts";
import { sealTimings } from "./seal-timing.mjs";

globalThis.sealTimings = () => sealTimings(sdk);
