/** A conversation's audit trail: every event in order, as the server
 * recorded it, page by page, and the whole of it to download. */
import { useEffect, useRef, useState } from "preact/hooks";
import { CallError } from "../../../src/index.js";
import { useSession } from "../context.js";
import { saveAs } from "../download.js";
import { Table } from "../controls.js";
import { currentLanguage, defineTexts, formatDateTime, t } from "../i18n.js";
import { nameOrNumber, useNames } from "../names.js";
import type { Session } from "../session.js";
import { Action, ErrorLine, Loading, Page } from "../ui.js";
import { reasonLabel, threadTitle } from "./inbox.js";

defineTexts({
  "audit.title": ["Journal de la conversation", "Conversation audit trail"],
  "audit.with": ["Conversation : {title}", "Conversation: {title}"],
  "audit.back": ["← Retour à la conversation", "← Back to the conversation"],
  "audit.help": [
    "Chaque événement de la conversation, dans l'ordre, tel que le serveur l'a enregistré. Rien n'y est jamais modifié ni effacé ; le contenu des messages, chiffré, n'y figure pas.",
    "Every event of the conversation, in order, as the server recorded it. Nothing in it is ever changed or erased; the messages' content, encrypted, is not in it.",
  ],
  "audit.download": ["Télécharger (JSON)", "Download (JSON)"],
  "audit.more": ["Entrées suivantes", "Next entries"],
  "audit.empty": ["Aucune entrée.", "No entries."],
  "audit.when": ["Date et heure", "Date and time"],
  "audit.action": ["Action", "Action"],
  "audit.actor": ["Par", "By"],
  "audit.details": ["Détails", "Details"],
  "audit.for": ["{name} pour {whom}", "{name} for {whom}"],
  "audit.automatic": ["Automatique", "Automatic"],
  "audit.action.opened": ["Conversation ouverte", "Conversation opened"],
  "audit.action.sent": ["Message envoyé", "Message sent"],
  "audit.action.read": ["Lu", "Read"],
  "audit.action.closed": ["Conversation close", "Conversation closed"],
  "audit.action.reopened": ["Conversation rouverte", "Conversation reopened"],
  "audit.action.member_added": ["Membre ajouté", "Member added"],
  "audit.action.member_removed": ["Membre retiré", "Member removed"],
  "audit.action.auto_reply": ["Réponse automatique", "Automatic reply"],
  "audit.action.retracted": ["Message retiré", "Message withdrawn"],
  "audit.action.filed": ["Classé au dossier du patient", "Filed into the patient's record"],
  "audit.action.expired": ["Effacé (durée de conservation)", "Erased (retention period)"],
  "audit.detail.reason": ["Motif : {reason}", "Reason: {reason}"],
  "audit.detail.seq": ["n° {seq} de la conversation", "no. {seq} in the conversation"],
  "audit.detail.read_up_to": ["jusqu'au n° {seq}", "up to no. {seq}"],
  "audit.detail.user": ["{name}", "{name}"],
  "audit.detail.rule": ["règle n° {rule}", "rule no. {rule}"],
});

/** docs/protocol.schema.json `audit.list`. */
interface AuditEntry {
  id: number;
  thread: number;
  at: number;
  action: string;
  actor?: number | null;
  acting_for?: number | null;
  thread_seq?: number | null;
  user?: number | null;
  rule?: number | null;
  detail?: string;
}

const AUDIT_PAGE = 200;

export function Audit({ thread }: { thread: number }) {
  const session = useSession();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>();
  const shown = useRef(thread); // a page that arrives for another thread is dropped
  const loadAfter = async (after: number) => {
    const page = await session.call<{ entries: AuditEntry[]; has_more: boolean }>("audit.list", {
      thread,
      after,
      limit: AUDIT_PAGE,
    });
    if (shown.current !== thread) return;
    setEntries((before) => [...before, ...page.entries]);
    setHasMore(page.has_more);
    setLoaded(true);
  };
  useEffect(() => {
    shown.current = thread;
    setEntries([]);
    setLoaded(false);
    setError(undefined);
    loadAfter(0).catch(setError);
  }, [thread]);
  const names = useMentionedNames(session, thread, entries);
  const info = session.store.thread(thread)?.info;
  return (
    <Page
      title={t("audit.title")}
      actions={<Action label={t("audit.download")} action={() => downloadTrail(session, thread)} />}
    >
      <p>
        <a href={`#/threads/${thread}`}>{t("audit.back")}</a>
      </p>
      {info && <p>{t("audit.with", { title: threadTitle(session, info) })}</p>}
      <p class="muted">{t("audit.help")}</p>
      {!loaded ? (
        <Loading error={error} />
      ) : (
        <>
          <AuditTable entries={entries} names={names} />
          <ErrorLine error={error} />
          {hasMore && <Action label={t("audit.more")} action={() => loadAfter(entries[entries.length - 1]?.id ?? 0)} />}
        </>
      )}
    </Page>
  );
}

/** Names for everyone the entries mention: the thread's members, and the
 * others (a delegate, someone since removed) asked of the server. */
function useMentionedNames(session: Session, thread: number, entries: AuditEntry[]): Map<number, string> {
  const members = session.store.thread(thread)?.info.members ?? [];
  const known = new Map(members.map((member) => [member.user, member.name]));
  const mentioned = entries.flatMap((e) => [e.actor, e.acting_for, e.user]).filter((u): u is number => !!u);
  return useNames(session, known, mentioned).names;
}

function AuditTable({ entries, names }: { entries: AuditEntry[]; names: Map<number, string> }) {
  if (entries.length === 0) return <p>{t("audit.empty")}</p>;
  const nameOf = (user: number) => nameOrNumber(names, user);
  return (
    <Table head={[t("audit.when"), t("audit.action"), t("audit.actor"), t("audit.details")]}>
      {entries.map((entry) => (
        <tr key={entry.id}>
          <td>
            <time dateTime={new Date(entry.at).toISOString()}>{formatDateTime(entry.at)}</time>
          </td>
          <td>{actionLabel(entry.action)}</td>
          <td>{actorText(entry, nameOf)}</td>
          <td>{detailsText(entry, nameOf)}</td>
        </tr>
      ))}
    </Table>
  );
}

function actionLabel(action: string): string {
  const key = `audit.action.${action}`;
  const text = t(key);
  return text === key ? action : text;
}

function actorText(entry: AuditEntry, nameOf: (user: number) => string): string {
  if (!entry.actor) return t("audit.automatic");
  const name = nameOf(entry.actor);
  return entry.acting_for ? t("audit.for", { name, whom: nameOf(entry.acting_for) }) : name;
}

function detailsText(entry: AuditEntry, nameOf: (user: number) => string): string {
  const parts: string[] = [];
  if (entry.action === "opened" && entry.detail) parts.push(t("audit.detail.reason", { reason: reasonLabel(entry.detail) }));
  else if (entry.detail) parts.push(entry.detail);
  if (entry.thread_seq) {
    const key = entry.action === "read" ? "audit.detail.read_up_to" : "audit.detail.seq";
    parts.push(t(key, { seq: entry.thread_seq }));
  }
  if (entry.user) parts.push(t("audit.detail.user", { name: nameOf(entry.user) }));
  if (entry.rule) parts.push(t("audit.detail.rule", { rule: entry.rule }));
  return parts.join(" · ");
}

/** The whole trail as the server exports it, saved as a file. */
async function downloadTrail(session: Session, thread: number): Promise<void> {
  const response = await fetch(`${location.origin}/v1/threads/${thread}/audit`, {
    headers: {
      authorization: `Bearer ${session.saved.credentials.token}`,
      "accept-language": currentLanguage(),
    },
  });
  if (!response.ok) throw await refusal(response);
  const trail = new Blob([await response.blob()], { type: "application/json" });
  saveAs(trail, `carehub-conversation-${thread}-journal.json`);
}

/** An HTTP refusal as the call errors the screens already word. */
async function refusal(response: Response): Promise<CallError> {
  try {
    const body = (await response.json()) as { code?: string; message?: string; details?: Record<string, unknown> };
    return new CallError(body.code ?? "internal", body.message ?? "", body.details ?? {});
  } catch {
    return new CallError(response.status === 401 ? "unauthorized" : "internal", response.statusText);
  }
}
