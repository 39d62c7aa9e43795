/** The inbox: conversations sorted unread first, and the open one beside them
 * (on a phone, one or the other). */
import { useState } from "preact/hooks";
import type { ThreadInfo } from "../api.js";
import { useSession } from "../context.js";
import { defineTexts, formatWhen, t } from "../i18n.js";
import type { Session } from "../session.js";
import { type ThreadState, lastActivity } from "../store.js";
import { Conversation } from "./conversation.js";

defineTexts({
  "inbox.title": ["Conversations", "Conversations"],
  "inbox.empty": ["Aucune conversation pour l'instant.", "No conversations yet."],
  "inbox.empty_patient": [
    "Écrivez à l'un de vos praticiens depuis « Nouvelle demande ».",
    "Write to one of your practitioners from “New request”.",
  ],
  "inbox.pick": ["Choisissez une conversation.", "Pick a conversation."],
  "inbox.unread": ["{count} non lu(s)", "{count} unread"],
  "inbox.closed": ["clôturée", "closed"],
  "inbox.muted": ["en sourdine", "muted"],
  "inbox.for": ["pour {name}", "for {name}"],
  "inbox.notify": ["Activer les notifications", "Turn on notifications"],
});

export function Inbox({ thread }: { thread?: number }) {
  const session = useSession();
  const threads = session.store.inbox();
  return (
    <main class={`layout${thread ? " open" : ""}`}>
      <section class="list" aria-labelledby="inbox-title">
        <div class="list-head">
          <h1 id="inbox-title">{t("inbox.title")}</h1>
          <NotificationsSwitch />
        </div>
        {threads.length === 0 ? (
          <div class="page">
            <p>{t("inbox.empty")}</p>
            {session.role === "patient" && <p class="muted">{t("inbox.empty_patient")}</p>}
          </div>
        ) : (
          <ul class="threads">
            {threads.map((state) => (
              <ThreadLink key={state.info.id} state={state} current={state.info.id === thread} />
            ))}
          </ul>
        )}
      </section>
      <section class="pane">
        {thread ? <Conversation key={thread} thread={thread} /> : <p class="page muted">{t("inbox.pick")}</p>}
      </section>
    </main>
  );
}

/** Offer the system's notifications (while the app is open in a background tab). */
function NotificationsSwitch() {
  const [permission, setPermission] = useState(globalThis.Notification?.permission ?? "denied");
  if (permission !== "default") return null;
  return (
    <button type="button" class="link" onClick={async () => setPermission(await Notification.requestPermission())}>
      {t("inbox.notify")}
    </button>
  );
}

function ThreadLink({ state, current }: { state: ThreadState; current: boolean }) {
  const session = useSession();
  const { info } = state;
  const unread = info.unread ?? 0;
  return (
    <li class={unread ? "unread" : ""}>
      <a href={`#/threads/${info.id}`} aria-current={current ? "page" : undefined}>
        <span class="title">
          <span>{threadTitle(session, info)}</span>
          {unread > 0 && (
            <span class="badge" aria-label={t("inbox.unread", { count: unread })}>
              {unread}
            </span>
          )}
        </span>
        <span class="muted">
          {info.reason ? reasonLabel(info.reason) : ""}
          {info.closed ? ` · ${t("inbox.closed")}` : ""}
          {info.muted ? ` · ${t("inbox.muted")}` : ""}
          {` · ${formatWhen(lastActivity(state))}`}
        </span>
      </a>
    </li>
  );
}

/** The others in the conversation, by name; a delegate sees whose inbox it is. */
export function threadTitle(session: Session, info: ThreadInfo): string {
  const others = info.members.filter((m) => m.user !== session.me && m.user !== info.via);
  const names = others.map((m) => m.name).join(", ") || session.name;
  const via = info.via ? info.members.find((m) => m.user === info.via)?.name : undefined;
  return via ? `${names} (${t("inbox.for", { name: via })})` : names;
}

/** A request reason's label: the practitioner's own words travel with the
 * thread as a code; the default ones have texts here. */
export function reasonLabel(code: string): string {
  const key = `reason.${code}`;
  const text = t(key);
  return text === key ? code.replaceAll("_", " ") : text;
}

defineTexts({
  "reason.prescription_renewal": ["Renouvellement d'ordonnance", "Prescription renewal"],
  "reason.exam_results": ["Résultats d'examens", "Test results"],
  "reason.admin_document": ["Document administratif", "Administrative document"],
  "reason.after_visit": ["Question après une consultation", "Question after a visit"],
});
