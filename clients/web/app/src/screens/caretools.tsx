/** The care side's tools in a conversation: answer from a template (its
 * variables filled, shown before sending), say the answer takes no reply,
 * close or reopen, the "inappropriate request" answer, the audit trail. */
import { useState } from "preact/hooks";
import { type Template, TemplateError, render, variablesOf } from "../../../src/index.js";
import { useSession } from "../context.js";
import { defineTexts, formatDate, formatTime, t, tn } from "../i18n.js";
import type { Session } from "../session.js";
import { Action, ErrorLine, Field, Problem, useLoad } from "../ui.js";
import type { RequestReason, ThreadInfo } from "../api.js";

defineTexts({
  "care.reply": ["Modèles et options de réponse", "Templates and answer options"],
  "care.template": ["Modèle", "Template"],
  "care.no_template": ["— Aucun —", "— None —"],
  "care.text": ["Réponse", "Answer"],
  "care.no_reply": ["Ce message n'attend pas de réponse", "This message takes no reply"],
  "care.close_after": ["Clore la conversation après l'envoi", "Close the conversation after sending"],
  "care.send": ["Envoyer la réponse", "Send the answer"],
  "care.close": ["Clore", "Close"],
  "care.reopen": ["Rouvrir", "Reopen"],
  "care.inappropriate": ["Demande inappropriée", "Inappropriate request"],
  "care.audit": ["Journal", "Audit trail"],
  "care.tools": ["Outils de réponse", "Answer tools"],
  "care.missing": ["Complétez : {names}", "Fill in: {names}"],
  "care.hours.one": ["{count} heure", "{count} hour"],
  "care.hours.other": ["{count} heures", "{count} hours"],
  "care.days.one": ["{count} jour", "{count} day"],
  "care.days.other": ["{count} jours", "{count} days"],
});

export function CareTools({ thread }: { thread: number }) {
  const session = useSession();
  const info = session.store.thread(thread)?.info as ThreadInfo;
  const [open, setOpen] = useState(false);
  const templates = useLoad(() => session.call<{ templates: Template[] }>("templates.list", {}), []);
  const known = useKnown(session);
  const inappropriate = templates.value?.templates.find((tpl) => tpl.code === "inappropriate_request");
  return (
    <div class="row" role="group" aria-label={t("care.tools")}>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {t("care.reply")}
      </button>
      {inappropriate && !info.closed && (
        <Action
          label={t("care.inappropriate")}
          action={() => sendTemplate(session, info, inappropriate, known)}
        />
      )}
      {info.closed ? (
        <Action label={t("care.reopen")} action={() => session.call("threads.reopen", { thread })} />
      ) : (
        <Action label={t("care.close")} kind="danger" action={() => session.call("threads.close", { thread })} />
      )}
      {session.role === "practitioner" && <a href={`#/threads/${thread}/audit`}>{t("care.audit")}</a>}
      {open && (
        <ReplyPanel info={info} known={known} templates={templates.value?.templates ?? []} done={() => setOpen(false)} />
      )}
    </div>
  );
}

function ReplyPanel(props: { info: ThreadInfo; known: Known; templates: Template[]; done: () => void }) {
  const session = useSession();
  const { info } = props;
  const [text, setText] = useState("");
  const [noReply, setNoReply] = useState(false);
  const [closeAfter, setCloseAfter] = useState(false);
  const [error, setError] = useState<unknown>();
  const choose = (index: number) => {
    const template = props.templates[index];
    if (!template) return setText("");
    setNoReply(template.reply_allowed === false);
    setCloseAfter(template.closes_thread ?? false);
    try {
      setText(render(template.text, values(session, info, props.known)));
      setError(undefined);
    } catch (failure) {
      if (!(failure instanceof TemplateError)) throw failure;
      setText(template.text); // a variable we cannot fill: the practitioner completes it
      setError(new Problem(t("care.missing", { names: [...variablesOf(template.text)].join(", ") })));
    }
  };
  return (
    <form
      class="card grow"
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          await session.send(info.id, text, [], { replyAllowed: !noReply, closeThread: closeAfter });
          props.done();
        } catch (failure) {
          setError(failure);
        }
      }}
    >
      <Field label={t("care.template")}>
        <select
          aria-label={t("care.template")}
          onChange={(event) => choose(Number((event.target as HTMLSelectElement).value))}
        >
          <option value={-1}>{t("care.no_template")}</option>
          {props.templates.map((template, index) => (
            <option key={index} value={index}>
              {template.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("care.text")}>
        <textarea rows={4} required value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      </Field>
      <label class="row">
        <input type="checkbox" checked={noReply} onChange={(e) => setNoReply((e.target as HTMLInputElement).checked)} />
        {t("care.no_reply")}
      </label>
      <label class="row">
        <input type="checkbox" checked={closeAfter} onChange={(e) => setCloseAfter((e.target as HTMLInputElement).checked)} />
        {t("care.close_after")}
      </label>
      <ErrorLine error={error} />
      <button class="primary" type="submit">
        {t("care.send")}
      </button>
    </form>
  );
}

/** What the practitioner's settings add to a template's variables: the
 * practice's name, and the delay announced for the thread's reason. */
interface Known {
  practice?: string;
  reasons: RequestReason[];
}

function useKnown(session: Session): Known {
  const loaded = useLoad(async () => {
    if (session.role !== "practitioner") return { reasons: [] };
    const [inbox, practices] = await Promise.all([
      session.call<{ reasons: RequestReason[] }>("inbox.get", {}),
      session.call<{ practices: { name: string }[] }>("practices.list", {}),
    ]);
    const practice = practices.practices[0]?.name;
    return { reasons: inbox.reasons, ...(practice ? { practice } : {}) };
  }, []);
  return loaded.value ?? { reasons: [] };
}

/** A template's variables, from what the conversation and the settings know. */
function values(session: Session, info: ThreadInfo, known: Known): Record<string, string> {
  const patient = info.members.find((m) => m.role === "patient");
  const practitioner =
    info.members.find((m) => m.user === (info.via ?? session.me)) ?? info.members.find((m) => m.role === "practitioner");
  const now = Date.now();
  const found: Record<string, string> = { date: formatDate(now), time: formatTime(now) };
  if (patient) {
    found.patient_name = patient.name;
    found.patient_first_name = patient.name.split(/\s+/)[0] ?? patient.name;
  }
  if (practitioner) found.practitioner_name = practitioner.name;
  if (known.practice) found.practice_name = known.practice;
  const hours = known.reasons.find((reason) => reason.code === info.reason)?.response_hours;
  if (hours) found.response_delay = hours % 24 === 0 ? tn("care.days", hours / 24) : tn("care.hours", hours);
  return found;
}

/** A template sent as it is: rendered here (strictly: every variable filled). */
function sendTemplate(session: Session, info: ThreadInfo, template: Template, known: Known): Promise<void> {
  return session.send(info.id, render(template.text, values(session, info, known)), [], {
    replyAllowed: template.reply_allowed ?? true,
    closeThread: template.closes_thread ?? false,
  });
}
