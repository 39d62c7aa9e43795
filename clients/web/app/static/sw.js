// The app shell, kept for offline use: the page, its script, style and icon.
// The build writes the version (a hash of the shell) and the file list.
// Calls to /v1 and the socket never go through the cache.
//
// Pushes (docs/push.md) say only a thread, a count and a kind: the
// notification is generic, in the language the app last used; a click
// opens the thread.
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

const SETTINGS = "carehub-settings"; // the app writes "/language" here (fr or en)
const WORDS = {
  fr: {
    message: (count) => (count > 1 ? `${count} nouveaux messages` : "Nouveau message"),
    appointment: () => "Un rendez-vous a changé",
    reminder: () => "Rappel de rendez-vous",
  },
  en: {
    message: (count) => (count > 1 ? `${count} new messages` : "New message"),
    appointment: () => "An appointment changed",
    reminder: () => "Appointment reminder",
  },
};

async function language() {
  const saved = await caches.open(SETTINGS).then((cache) => cache.match("/language"));
  const text = saved ? await saved.text() : "fr";
  return text in WORDS ? text : "fr";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {}; // not ours, or damaged: still say something came
  }
  const thread = Number.isInteger(data.thread) ? data.thread : 0;
  const count = Number.isInteger(data.count) && data.count > 0 ? data.count : 1;
  const kind = data.kind in WORDS.fr ? data.kind : "message";
  event.waitUntil(
    language().then((lang) =>
      self.registration.showNotification("carehub", {
        body: WORDS[lang][kind](count),
        tag: thread ? `thread-${thread}` : "carehub",
        renotify: true,
        lang,
        icon: "icon.svg",
        data: { thread },
      }),
    ),
  );
});

// A click opens the thread: in a tab of the app if one is open, else a new one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const thread = event.notification.data?.thread;
  const target = new URL(thread ? `./#/threads/${thread}` : "./", self.registration.scope).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((client) => client.url.startsWith(self.registration.scope));
      return open ? open.navigate(target).then((client) => (client ?? open).focus()) : self.clients.openWindow(target);
    }),
  );
});
