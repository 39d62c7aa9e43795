/** New-message popups while the app is open: who wrote and how many are unread, never the text. */
import { useSession } from "../context.js";
import { defineTexts, ofName, t, tn } from "../i18n.js";

defineTexts({
  "popup.from": ["Nouveau message {of_name}", "New message from {name}"],
  "popup.unread.one": ["{count} non lu", "{count} unread"],
  "popup.unread.other": ["{count} non lus", "{count} unread"],
  "popup.open": ["Ouvrir", "Open"],
  "popup.dismiss": ["Ignorer", "Dismiss"],
  "popup.region": ["Notifications", "Notifications"],
});

export function Popups() {
  const session = useSession();
  const { popups } = session.store;
  return (
    <section class="popups" aria-label={t("popup.region")} aria-live="polite">
      {popups.map((popup) => (
        <div class="popup" key={popup.id} role="status">
          <span>
            {t("popup.from", { name: popup.from, of_name: ofName(popup.from) })} · {tn("popup.unread", popup.unread)}
          </span>
          <a href={`#/threads/${popup.thread}`} onClick={() => session.store.dismiss(popup.id)}>
            {t("popup.open")}
          </a>
          <button type="button" onClick={() => session.store.dismiss(popup.id)}>
            {t("popup.dismiss")}
          </button>
        </div>
      ))}
    </section>
  );
}
