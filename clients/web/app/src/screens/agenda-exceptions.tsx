/** Time closed (an absence, a block) or opened outside the usual hours, as
 * the agenda shows it, and the form that adds some from the day on screen. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { type Option, SelectField } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatTime, t } from "../i18n.js";
import { addDays, localInput, midnight } from "../local-time.js";
import { Action, Field, Problem } from "../ui.js";
import { type AgendaSettings, type VisitReason, reasonLabelOf } from "./booking-common.js";
import { ReasonChecks } from "./agenda-settings.js";

defineTexts({
  "agenda.kind.absence": ["Absence", "Absence"],
  "agenda.kind.block": ["Temps bloqué", "Blocked time"],
  "agenda.kind.opening": ["Ouverture exceptionnelle", "Extra opening"],
  "agenda.all_day": ["toute la journée", "all day"],
  "agenda.remove": ["Retirer", "Remove"],
  "agenda.add_exception": ["Ajouter une absence ou une ouverture", "Add an absence or an opening"],
  "agenda.exception_title": ["Absence, temps bloqué ou ouverture", "Absence, blocked time or opening"],
  "agenda.kind": ["Type", "Kind"],
  "agenda.starts": ["Début", "Start"],
  "agenda.ends": ["Fin", "End"],
  "agenda.opening_reasons": ["Consultations proposées (toutes si aucune)", "Visits offered (all if none)"],
  "agenda.exception_note": ["Note (pour le cabinet)", "Note (for the practice)"],
  "agenda.ends_before": ["La fin doit venir après le début.", "The end must come after the start."],
});

type ExceptionKind = "absence" | "block" | "opening";
const EXCEPTION_KINDS: ExceptionKind[] = ["absence", "block", "opening"];

/** docs/protocol.schema.json `agenda.add_exception`, as the agenda lists it. */
export interface AgendaException {
  id: number;
  kind: ExceptionKind;
  starts_at: number;
  ends_at: number;
  reasons?: string[];
  note?: string;
}

/** An absence, a block or an opening as it meets `day`, and its removal. */
export function ExceptionItem(props: {
  exception: AgendaException;
  day: string;
  settings: AgendaSettings;
  removed: () => void;
}) {
  const session = useSession();
  const { exception } = props;
  const from = midnight(props.day);
  const to = midnight(addDays(props.day, 1));
  const whole = exception.starts_at <= from && exception.ends_at >= to;
  const when = whole
    ? t("agenda.all_day")
    : `${formatTime(Math.max(exception.starts_at, from))} – ${formatTime(Math.min(exception.ends_at, to))}`;
  const visits = (exception.reasons ?? []).map((code) => reasonLabelOf(props.settings, code)).join(", ");
  const what = [t(`agenda.kind.${exception.kind}`), when, visits, exception.note ?? ""].filter(Boolean).join(" · ");
  return (
    <span class="row">
      <span class="grow">{what}</span>
      <Action
        label={t("agenda.remove")}
        action={async () => {
          await session.call("agenda.remove_exception", { exception: exception.id });
          props.removed();
        }}
      />
    </span>
  );
}

interface ExceptionDraft {
  kind: ExceptionKind;
  start: string;
  end: string;
  reasons: string[];
  note: string;
}

interface ExceptionFormProps {
  /** Whose agenda: none for the caller's own. */
  owner: { practitioner?: number };
  day: string;
  reasons: VisitReason[];
  added: () => void;
}

/** Close time (an absence, a block) or open some, from the day on screen. */
export function ExceptionForm(props: ExceptionFormProps) {
  const [open, setOpen] = useState(false);
  if (open) return <ExceptionEditor {...props} close={() => setOpen(false)} />;
  return (
    <p>
      <button type="button" aria-expanded={false} onClick={() => setOpen(true)}>
        {t("agenda.add_exception")}
      </button>
    </p>
  );
}

/** The whole day, at first. */
function ExceptionEditor(props: ExceptionFormProps & { close: () => void }) {
  const session = useSession();
  const [draft, setDraft] = useState<ExceptionDraft>(() => ({
    kind: "absence",
    start: localInput(midnight(props.day)),
    end: localInput(midnight(addDays(props.day, 1))),
    reasons: [],
    note: "",
  }));
  const change = (part: Partial<ExceptionDraft>) => setDraft({ ...draft, ...part });
  const form = useSubmit(async () => {
    const startsAt = new Date(draft.start).getTime();
    const endsAt = new Date(draft.end).getTime();
    if (!(endsAt > startsAt)) throw new Problem(t("agenda.ends_before"));
    await session.call("agenda.add_exception", {
      ...props.owner,
      kind: draft.kind,
      starts_at: startsAt,
      ends_at: endsAt,
      ...(draft.kind === "opening" && draft.reasons.length ? { reasons: draft.reasons } : {}),
      ...(draft.note.trim() ? { note: draft.note.trim() } : {}),
    });
    props.close();
    props.added();
  });
  return (
    <form class="card" aria-labelledby="agenda-exception" onSubmit={form.onSubmit}>
      <h3 id="agenda-exception">{t("agenda.exception_title")}</h3>
      <SelectField
        label={t("agenda.kind")}
        value={draft.kind}
        options={EXCEPTION_KINDS.map((kind): Option => [kind, t(`agenda.kind.${kind}`)])}
        onChange={(kind) => change({ kind: kind as ExceptionKind })}
      />
      <div class="row">
        <Field label={t("agenda.starts")}>
          <input type="datetime-local" required value={draft.start} onInput={(e) => change({ start: valueOf(e) })} />
        </Field>
        <Field label={t("agenda.ends")}>
          <input type="datetime-local" required value={draft.end} onInput={(e) => change({ end: valueOf(e) })} />
        </Field>
      </div>
      {draft.kind === "opening" && props.reasons.length > 1 && (
        <fieldset>
          <legend>{t("agenda.opening_reasons")}</legend>
          <ReasonChecks
            reasons={props.reasons.map((r) => ({ key: r.code, label: r.label }))}
            chosen={draft.reasons}
            change={(reasons) => change({ reasons })}
          />
        </fieldset>
      )}
      <Field label={t("agenda.exception_note")}>
        <input maxLength={500} value={draft.note} onInput={(e) => change({ note: valueOf(e) })} />
      </Field>
      <SubmitRow form={form} label={t("common.add")} cancel={props.close} />
    </form>
  );
}
