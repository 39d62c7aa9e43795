// The app shell, kept for offline use: the page, its script, style and icon.
// The build writes the version (a hash of the shell) and the file list.
// Calls to /v1 and the socket never go through the cache.
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `carehub-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

// Network first for the shell (a new build shows at once), the cache when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/v1/") || url.pathname === "/ws" || url.pathname === "/healthz") return;
  const key = event.request.mode === "navigate" ? "./" : event.request;
  event.respondWith(
    fetch(event.request)
      .then((answer) => {
        if (answer.ok) {
          const copy = answer.clone();
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return answer;
      })
      .catch(() => caches.match(key).then((cached) => cached ?? Response.error())),
  );
});
