/**
 * The service worker: the app shell kept for offline use (the page, its
 * script, style and icon), and pushes shown as notifications. Calls to /v1
 * and the socket never go through the cache. tools/build-app.mjs bundles it
 * and sets the version (a hash of the shell) and the shell's files.
 *
 * A push (docs/push.md) says a thread, a count and a kind: the notification
 * is generic, in the language the app last used, one per thread; a click
 * opens the thread. During quiet hours it makes no sound and sets the app's
 * badge. On a device that chose previews, the push carries the newest
 * message sealed: it is opened here, and its first words are shown.
 */
import { savedLanguage, savedSignedIn } from "../src/worker-settings.js";
import { previewOf } from "./preview.js";
import { type Pushed, headline, readPush } from "./pushed.js";

declare const self: ServiceWorkerGlobalScope;
declare const __VERSION__: string;
declare const __SHELL__: string[];

const CACHE = `carehub-shell-${__VERSION__}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(__SHELL__))
      .then(() => self.skipWaiting()),
  );
});

// Older shells go; the app's settings for the worker ("carehub-settings") stay.
const isOldShell = (name: string) => name.startsWith("carehub-shell-") && name !== CACHE;

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter(isOldShell).map((name) => caches.delete(name))))
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
          void caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return answer;
      })
      .catch(() => caches.match(key).then((cached) => cached ?? Response.error())),
  );
});

// One push at a time, in the order they came: a thread's newer count must
// not be replaced by an older push still opening its envelope; and a repeat's
// check (getNotifications) never starts while a notification is being shown,
// which would make Chromium drop that one from the list (not from the screen).
let showing: Promise<void> = Promise.resolve();

self.addEventListener("push", (event) => {
  const pushed = readPush(payload(event.data));
  const shown = showing.then(() => notify(pushed));
  showing = shown.catch(() => undefined);
  event.waitUntil(shown);
});

function payload(data: PushMessageData | null): unknown {
  try {
    return data?.json();
  } catch {
    return null; // not ours, or damaged: still say something came
  }
}

/** `renotify` is in the standard, not yet in TypeScript's library. */
interface Shown extends NotificationOptions {
  renotify: boolean;
}

async function notify(pushed: Pushed): Promise<void> {
  const tag = pushed.thread ? `thread-${pushed.thread}` : "carehub";
  if (await alreadyShown(pushed, tag)) return; // a retry of a push shown: nothing changes
  const language = await savedLanguage();
  const words = headline(pushed, language);
  if (pushed.quiet) await setBadge(pushed.count);
  const preview = pushed.quiet ? null : await previewFor(pushed);
  const options: Shown = {
    body: preview ?? words,
    tag,
    renotify: !pushed.quiet, // a new push sounds again, unless it is a quiet one
    silent: pushed.quiet,
    lang: language,
    icon: "icon.svg",
    data: { thread: pushed.thread, id: pushed.id },
  };
  await self.registration.showNotification(preview ? words : "carehub", options);
}

async function alreadyShown(pushed: Pushed, tag: string): Promise<boolean> {
  if (!pushed.id) return false;
  const shown = await self.registration.getNotifications({ tag });
  return shown.some((notification) => (notification.data as { id?: number } | null)?.id === pushed.id);
}

async function previewFor(pushed: Pushed): Promise<string | null> {
  if (!pushed.envelope || !pushed.thread) return null;
  const signedIn = await savedSignedIn();
  return signedIn ? previewOf(pushed.envelope, pushed.thread, signedIn) : null;
}

/** The app's badge where the platform has one (an installed app). */
async function setBadge(count: number): Promise<void> {
  if (!("setAppBadge" in self.navigator)) return;
  await self.navigator.setAppBadge(count).catch(() => undefined); // not installed: no badge to set
}

// A click opens the thread: in a tab of the app if one is open, else a new one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const thread = (event.notification.data as { thread?: number } | null)?.thread;
  event.waitUntil(openApp(thread ? `./#/threads/${thread}` : "./"));
});

async function openApp(path: string): Promise<void> {
  const target = new URL(path, self.registration.scope).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url.startsWith(self.registration.scope));
  if (!open) {
    await self.clients.openWindow(target);
    return;
  }
  const moved = await open.navigate(target);
  await (moved ?? open).focus();
}
