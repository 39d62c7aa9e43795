// Builds the web app into dist/: one minified bundle (the SDK, Preact,
// libsodium.js), its stylesheet and static files, and a service worker whose
// cache name is the hash of everything it caches (a new build replaces the
// old shell at once). `carehub serve` serves dist/ at `/`.
// `node tools/build-app.mjs DIR` builds into DIR instead (CAREHUB_WEB_DIR=DIR serves it).
//
// The service worker is a bundle of its own (app/worker/sw.ts, with the
// SDK's envelope opening and libsodium.js for previews), a classic script as
// every browser runs one; its types are a worker's, not a page's, so it is
// type-checked here under its own tsconfig.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { build } from "esbuild";

const worker = new URL("../app/worker/", import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", worker], { stdio: "inherit" });

const out = process.argv[2]
  ? new URL(`file://${resolve(process.argv[2])}/`)
  : new URL("../dist/", import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
const bundled = {
  bundle: true,
  minify: true,
  target: "es2022",
  platform: "browser",
  // libsodium.js reaches for Node's modules only when it runs under Node.
  external: ["crypto", "path", "fs"],
  legalComments: "none",
  logLevel: "warning",
};
await build({
  ...bundled,
  entryPoints: [new URL("../app/src/main.tsx", import.meta.url).pathname],
  format: "esm",
  jsx: "automatic",
  jsxImportSource: "preact",
  outfile: new URL("app.js", out).pathname,
});
cpSync(new URL("../app/static/", import.meta.url), out, { recursive: true });

const shell = readdirSync(out).sort();
const hash = createHash("sha256");
for (const name of shell) hash.update(name).update(readFileSync(new URL(name, out)));
await build({
  ...bundled,
  entryPoints: [`${worker}sw.ts`],
  format: "iife",
  define: {
    __VERSION__: JSON.stringify(hash.digest("hex").slice(0, 16)),
    __SHELL__: JSON.stringify(shell.map((name) => (name === "index.html" ? "./" : `./${name}`))),
  },
  outfile: new URL("sw.js", out).pathname,
});
