/** This device's Web Push subscription (docs/push.md): made with the
 * server's key and handed to the server, with the device's choice of
 * previews; given up when notifications are turned off or the person signs
 * out here. */
import type { Session } from "./session.js";

export const pushSupported = () =>
  "serviceWorker" in navigator && "PushManager" in globalThis && "Notification" in globalThis;

/** null where there is no worker (yet): nothing can have been subscribed. */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration();
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/** Subscribe this browser (once) and tell the server, which keeps one
 * subscription per device: telling it again changes the preview choice. */
export async function subscribe(session: Session, preview: boolean): Promise<void> {
  const registration = await navigator.serviceWorker.ready;
  let made = await registration.pushManager.getSubscription();
  if (!made) {
    const { public_key } = await session.call<{ public_key: string }>("push.key", {});
    made = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: public_key });
  }
  const { endpoint, keys } = made.toJSON();
  await session.call("push.subscribe", { endpoint, p256dh: keys?.p256dh, auth: keys?.auth, preview });
  localStorage.setItem(previewKey(session), String(preview));
}

/** Turned off, or the person signs out here: the browser gives its
 * subscription up even when the server cannot be told (its pushes to a
 * subscription that is gone make the server forget it). */
export async function unsubscribe(session: Session): Promise<void> {
  const subscription = await currentSubscription();
  try {
    await session.call("push.unsubscribe", {});
  } finally {
    localStorage.removeItem(previewKey(session));
    await subscription?.unsubscribe();
  }
}

/** Whether this device asked for previews. The server keeps the choice but
 * has no call to read it back: the device remembers what it told it. */
export function previewChosen(session: Session): boolean {
  return localStorage.getItem(previewKey(session)) === "true";
}

function previewKey(session: Session): string {
  return `carehub.push.preview.${session.me}.${session.device}`;
}
