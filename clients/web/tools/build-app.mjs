// Builds the web app into dist/: one minified bundle (the SDK, Preact,
// libsodium.js), its stylesheet and static files, and a service worker whose
// cache name is the hash of everything it caches (a new build replaces the
// old shell at once). `carehub serve` serves dist/ at `/`.
// `node tools/build-app.mjs DIR` builds into DIR instead (CAREHUB_WEB_DIR=DIR serves it).
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const out = process.argv[2]
  ? new URL(`file://${resolve(process.argv[2])}/`)
  : new URL("../dist/", import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
await build({
  entryPoints: [new URL("../app/src/main.tsx", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  // libsodium.js reaches for Node's modules only when it runs under Node.
  external: ["crypto", "path", "fs"],
  legalComments: "none",
  outfile: new URL("app.js", out).pathname,
  logLevel: "warning",
});
cpSync(new URL("../app/static/", import.meta.url), out, { recursive: true });

const shell = readdirSync(out).filter((name) => name !== "sw.js").sort();
const hash = createHash("sha256");
for (const name of shell) hash.update(name).update(readFileSync(new URL(name, out)));
const worker = readFileSync(new URL("sw.js", out), "utf8")
  .replace("__VERSION__", hash.digest("hex").slice(0, 16))
  .replace("__SHELL__", JSON.stringify(shell.map((name) => (name === "index.html" ? "./" : `./${name}`))));
writeFileSync(new URL("sw.js", out), worker);
