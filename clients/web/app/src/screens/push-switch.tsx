/** Notifications when the app is closed (docs/push.md): this device's Web
 * Push subscription, and whether its notifications show a preview of the
 * message, opened on this device. Otherwise what a push says is generic;
 * the service worker words it. */
import { useState } from "preact/hooks";
import { Check } from "../controls.js";
import { useSession } from "../context.js";
import { defineTexts, t } from "../i18n.js";
import { currentSubscription, previewChosen, pushSupported, subscribe, unsubscribe } from "../push.js";
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
  "push.preview": ["Afficher un aperçu du message", "Show a message preview"],
  "push.preview_hint": [
    "Le message est ouvert sur cet appareil seulement, avec ses clés ; ses premiers mots s'affichent dans la notification, même écran verrouillé.",
    "The message is opened on this device only, with its keys; its first words show in the notification, even on the lock screen.",
  ],
  "push.preview_on": ["Aperçu affiché sur cet appareil.", "Previews are shown on this device."],
  "push.preview_off": ["Aperçu masqué sur cet appareil.", "Previews are hidden on this device."],
  "push.settings": ["Heures calmes, ne pas déranger, e-mail…", "Quiet hours, do not disturb, email…"],
  "push.unsupported": [
    "Ce navigateur ne reçoit pas de notifications quand l'application est fermée.",
    "This browser cannot receive notifications while the app is closed.",
  ],
  "push.denied": [
    "Les notifications sont bloquées pour carehub dans ce navigateur : autorisez-les dans ses réglages.",
    "Notifications are blocked for carehub in this browser: allow them in its settings.",
  ],
});

async function enable(session: Session): Promise<void> {
  if ((await Notification.requestPermission()) !== "granted") throw new Problem(t("push.denied"));
  await subscribe(session, false); // no preview until the person asks for one
}

export function PushSwitch() {
  const session = useSession();
  const [round, setRound] = useState(0);
  const current = useLoad(currentSubscription, [round]);
  const changed = () => setRound((r) => r + 1);
  return (
    <section class="card" aria-labelledby="push-title">
      <h2 id="push-title">{t("push.title")}</h2>
      <p class="muted">{t("push.explain")}</p>
      <ErrorLine error={current.error} />
      {!pushSupported() ? (
        <p>{t("push.unsupported")}</p>
      ) : current.value ? (
        <>
          <p role="status">{t("push.on")}</p>
          <PreviewChoice />
          <Action label={t("push.disable")} action={() => unsubscribe(session).finally(changed)} />
        </>
      ) : (
        <>
          <p role="status">{t("push.off")}</p>
          <Action kind="primary" label={t("push.enable")} action={() => enable(session).then(changed)} />
        </>
      )}
      <p>
        <a href="#/notifications">{t("push.settings")}</a>
      </p>
    </section>
  );
}

/** Previews, per device: the server then puts the newest message, sealed,
 * in this device's pushes, and the service worker opens it. */
function PreviewChoice() {
  const session = useSession();
  const [preview, setPreview] = useState(() => previewChosen(session));
  const [state, setState] = useState<{ busy?: boolean; saved?: boolean; error?: unknown }>({});
  const choose = async (wanted: boolean) => {
    setPreview(wanted);
    setState({ busy: true });
    try {
      await subscribe(session, wanted);
      setState({ saved: true });
    } catch (error) {
      setPreview(!wanted); // the server kept the previous choice
      setState({ error });
    }
  };
  return (
    <div class="field">
      <Check checked={preview} disabled={state.busy} onChange={(wanted) => void choose(wanted)}>
        {t("push.preview")}
      </Check>
      <span class="hint">{t("push.preview_hint")}</span>
      {state.saved && (
        <p class="ok" role="status">
          {t(preview ? "push.preview_on" : "push.preview_off")}
        </p>
      )}
      <ErrorLine error={state.error} />
    </div>
  );
}
