/** Notifications when the app is closed (docs/push.md): this device's Web
 * Push subscription, made with the server's key and handed to the server.
 * What a push says is generic; the service worker words it. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { defineTexts, t } from "../i18n.js";
import type { Session } from "../session.js";
import { Action, ErrorLine, Problem, useLoad } from "../ui.js";

defineTexts({
  "push.title": ["Notifications quand l'application est fermée", "Notifications when the app is closed"],
  "push.explain": [
    "Un avis « Nouveau message » sur cet appareil, sans nom ni contenu : le message reste chiffré jusqu'à ce que vous ouvriez carehub.",
    "A “New message” notice on this device, with no name and no content: the message stays encrypted until you open carehub.",
  ],
  "push.on": ["Notifications activées sur cet appareil.", "Notifications are on for this device."],
  "push.off": ["Notifications désactivées sur cet appareil.", "Notifications are off for this device."],
  "push.enable": ["Activer les notifications", "Turn notifications on"],
  "push.disable": ["Désactiver les notifications", "Turn notifications off"],
  "push.unsupported": [
    "Ce navigateur ne reçoit pas de notifications quand l'application est fermée.",
    "This browser cannot receive notifications while the app is closed.",
  ],
  "push.denied": [
    "Les notifications sont bloquées pour carehub dans ce navigateur : autorisez-les dans ses réglages.",
    "Notifications are blocked for carehub in this browser: allow them in its settings.",
  ],
});

const supported = () => "serviceWorker" in navigator && "PushManager" in globalThis && "Notification" in globalThis;

async function subscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.ready;
  return registration.pushManager.getSubscription();
}

async function enable(session: Session): Promise<void> {
  if ((await Notification.requestPermission()) !== "granted") throw new Problem(t("push.denied"));
  const registration = await navigator.serviceWorker.ready;
  const { public_key } = await session.call<{ public_key: string }>("push.key", {});
  const made = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: public_key });
  const { endpoint, keys } = made.toJSON();
  await session.call("push.subscribe", { endpoint, p256dh: keys?.p256dh, auth: keys?.auth });
}

async function disable(session: Session): Promise<void> {
  await session.call("push.unsubscribe", {});
  await (await subscription())?.unsubscribe();
}

export function PushSwitch() {
  const session = useSession();
  const [round, setRound] = useState(0);
  const current = useLoad(() => (supported() ? subscription() : Promise.resolve(null)), [round]);
  const changed = () => setRound((r) => r + 1);
  return (
    <section class="card" aria-labelledby="push-title">
      <h2 id="push-title">{t("push.title")}</h2>
      <p class="muted">{t("push.explain")}</p>
      <ErrorLine error={current.error} />
      {!supported() ? (
        <p>{t("push.unsupported")}</p>
      ) : current.value ? (
        <>
          <p role="status">{t("push.on")}</p>
          <Action label={t("push.disable")} action={() => disable(session).finally(changed)} />
        </>
      ) : (
        <>
          <p role="status">{t("push.off")}</p>
          <Action kind="primary" label={t("push.enable")} action={() => enable(session).then(changed)} />
        </>
      )}
    </section>
  );
}
