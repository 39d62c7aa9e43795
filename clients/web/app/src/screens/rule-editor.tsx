/** Writing an away or automatic-reply rule: what it does and says, when
 * (a period, weekly slots in a time zone), the colleague it points to, and
 * the patients it leaves out. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { CheckField, type Option, SelectField, TimeZoneField } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { localInput, savedEnd, shownEnd } from "../local-time.js";
import { Action, Field, Problem } from "../ui.js";
import { colleagueName } from "./colleagues.js";
import { PatientPicker, type PatientSummary } from "./patient-picker.js";

defineTexts({
  "rules.action.auto_reply": ["Réponse automatique", "Automatic reply"],
  "rules.action.auto_reply.explain": [
    "Le message du patient est reçu normalement, et la conversation reçoit votre texte une fois par période.",
    "The patient's message is received as usual, and the conversation gets your text once per period.",
  ],
  "rules.action.refuse": ["Refus des nouveaux messages", "Refuse new messages"],
  "rules.action.refuse.explain": [
    "Les patients ne peuvent ni écrire ni ouvrir de demande : ils lisent votre texte, la date de retour et le confrère à contacter.",
    "Patients can neither write nor open a request: they read your text, the return date and the colleague to contact.",
  ],
  "rules.edit_title": ["Modifier « {name} »", "Edit “{name}”"],
  "rules.name": ["Nom de la règle", "Rule name"],
  "rules.name_hint": ["Pour vous seul, par exemple « Congés d'été ».", "For you only, for example “Summer leave”."],
  "rules.action": ["Ce que fait la règle", "What the rule does"],
  "rules.text": ["Texte montré aux patients", "Text shown to patients"],
  "rules.period": ["Période", "Period"],
  "rules.period_hint": [
    "Laissez vide pour une règle sans date de début ou de fin.",
    "Leave empty for a rule with no start or end date.",
  ],
  "rules.starts": ["Début", "Starts"],
  "rules.ends": ["Fin", "Ends"],
  "rules.weekly": ["Chaque semaine", "Every week"],
  "rules.weekly_hint": [
    "Sans créneau, la règle vaut à toute heure de la période. Une fin avant le début passe minuit ; 00:00 en fin veut dire minuit.",
    "Without a slot, the rule holds at any hour of the period. An end before the start runs past midnight; 00:00 as an end means midnight.",
  ],
  "rules.slot": ["Créneau {n}", "Slot {n}"],
  "rules.slot_day": ["Jour", "Day"],
  "rules.slot_start": ["De", "From"],
  "rules.slot_end": ["À", "To"],
  "rules.slot_remove": ["Retirer le créneau {n}", "Remove slot {n}"],
  "rules.slot_add": ["Ajouter un créneau", "Add a slot"],
  "rules.add_evenings": ["Ajouter les soirs de semaine (19:00–08:00)", "Add weekday evenings (19:00–08:00)"],
  "rules.add_weekend": ["Ajouter le week-end", "Add the weekend"],
  "rules.timezone": ["Fuseau horaire des créneaux", "Time zone of the slots"],
  "rules.redirect": ["Orienter vers un confrère", "Point to a colleague"],
  "rules.redirect_none": ["— Personne —", "— Nobody —"],
  "rules.search": ["Chercher un confrère par son nom", "Search a colleague by name"],
  "rules.search_go": ["Chercher", "Search"],
  "rules.colleague": ["Confrère indiqué aux patients", "Colleague shown to patients"],
  "rules.search_none": ["Aucun praticien trouvé.", "No practitioner found."],
  "rules.emergency": [
    "Rappeler que carehub n'est pas un service d'urgence (15 ou 112)",
    "Remind that carehub is not an emergency service (15 or 112)",
  ],
  "rules.enabled": ["Règle active", "Rule on"],
  "rules.exempt": ["Patients non concernés", "Patients not concerned"],
  "rules.exempt_hint": [
    "Ils vous écrivent normalement pendant cette règle.",
    "They write to you as usual while this rule holds.",
  ],
  "rules.create": ["Créer la règle", "Create the rule"],
  "rules.save": ["Enregistrer la règle", "Save the rule"],
  "rules.ends_before": ["La fin doit venir après le début.", "The end must come after the start."],
  "rules.slot_empty": [
    "Le créneau {n} finit à l'heure où il commence : pour une journée entière, indiquez de 00:00 à 00:00.",
    "Slot {n} ends when it starts: for a whole day, enter 00:00 to 00:00.",
  ],
  "rules.day.0": ["Lundi", "Monday"],
  "rules.day.1": ["Mardi", "Tuesday"],
  "rules.day.2": ["Mercredi", "Wednesday"],
  "rules.day.3": ["Jeudi", "Thursday"],
  "rules.day.4": ["Vendredi", "Friday"],
  "rules.day.5": ["Samedi", "Saturday"],
  "rules.day.6": ["Dimanche", "Sunday"],
});

type RuleAction = "auto_reply" | "refuse";
/** Wall-clock hours of a weekday (0 Monday) in the rule's zone. */
type Span = [day: number, start: string, end: string];

/** docs/protocol.schema.json `rules.list`, the defaults filled in. */
export interface RuleRecord {
  id: number;
  position: number;
  name: string;
  text: string;
  action: RuleAction;
  starts: number | null;
  ends: number | null;
  weekly: Span[];
  timezone: string;
  exempt: number[];
  redirect_to: number | null;
  emergency_notice: boolean;
  enabled: boolean;
}

export interface RulesData {
  rules: RuleRecord[];
  patients: PatientSummary[];
  /** practitioners the caller may point patients to, and those rules name */
  colleagues: Map<number, string>;
}

export const ACTIONS: RuleAction[] = ["auto_reply", "refuse"];
const DAYS = [0, 1, 2, 3, 4, 5, 6];
const EVENINGS: Span[] = [0, 1, 2, 3, 4].map((day) => [day, "19:00", "08:00"]);
const WEEKEND: Span[] = [
  [5, "00:00", "24:00"],
  [6, "00:00", "24:00"],
];
/** docs/protocol.schema.json `Rule.weekly`: 64 at most. */
const MOST_SPANS = 64;

/** The rule's problems the server would refuse, in the reader's words. */
function ruleProblem(rule: RuleRecord): string | null {
  if (rule.starts != null && rule.ends != null && rule.ends <= rule.starts) return t("rules.ends_before");
  const empty = rule.weekly.findIndex(([, start, end]) => start === end);
  return empty >= 0 ? t("rules.slot_empty", { n: empty + 1 }) : null;
}

export function RuleEditor(props: { rule: RuleRecord; data: RulesData; saved: () => void; cancel: () => void }) {
  const session = useSession();
  const [rule, setRule] = useState(props.rule);
  const form = useSubmit(async () => {
    const problem = ruleProblem(rule);
    if (problem) throw new Problem(problem);
    await session.call(rule.id ? "rules.update" : "rules.add", { ...rule, name: rule.name.trim() });
    props.saved();
  });
  const change = (part: Partial<RuleRecord>) => {
    setRule({ ...rule, ...part });
    form.edited();
  };
  return (
    <form class="card" onSubmit={form.onSubmit} aria-labelledby="rule-editor">
      <h2 id="rule-editor" class="first">
        {rule.id ? t("rules.edit_title", { name: props.rule.name }) : t("rules.new")}
      </h2>
      <Field label={t("rules.name")} hint={t("rules.name_hint")}>
        <input required maxLength={120} value={rule.name} onInput={(e) => change({ name: valueOf(e) })} />
      </Field>
      <ActionChoice action={rule.action} choose={(action) => change({ action })} />
      <Field label={t("rules.text")}>
        <textarea required rows={3} maxLength={2000} value={rule.text} onInput={(e) => change({ text: valueOf(e) })} />
      </Field>
      <Period rule={rule} change={change} />
      <WeeklySpans spans={rule.weekly} onChange={(weekly) => change({ weekly })} />
      {rule.weekly.length > 0 && (
        <TimeZoneField
          label={t("rules.timezone")}
          value={rule.timezone}
          onChange={(timezone) => change({ timezone })}
        />
      )}
      <ColleagueField
        value={rule.redirect_to}
        known={props.data.colleagues}
        onChange={(redirect_to) => change({ redirect_to })}
      />
      {rule.action === "auto_reply" && (
        <CheckField
          label={t("rules.emergency")}
          checked={rule.emergency_notice}
          onChange={(emergency_notice) => change({ emergency_notice })}
        />
      )}
      <CheckField label={t("rules.enabled")} checked={rule.enabled} onChange={(enabled) => change({ enabled })} />
      <PatientPicker
        legend={t("rules.exempt")}
        hint={t("rules.exempt_hint")}
        patients={props.data.patients}
        chosen={rule.exempt}
        onChange={(exempt) => change({ exempt })}
      />
      <SubmitRow form={form} label={rule.id ? t("rules.save") : t("rules.create")} cancel={props.cancel} />
    </form>
  );
}

function ActionChoice(props: { action: RuleAction; choose: (action: RuleAction) => void }) {
  return (
    <fieldset class="field">
      <legend class="label">{t("rules.action")}</legend>
      {ACTIONS.map((action) => (
        <label key={action} class="row align-top nowrap">
          <input
            type="radio"
            name="rule-action"
            checked={props.action === action}
            onChange={() => props.choose(action)}
          />
          <span>
            <strong>{t(`rules.action.${action}`)}</strong> — {t(`rules.action.${action}.explain`)}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

/** `ms` as a `datetime-local` value, none for no date. */
function toLocalInput(ms: number | null): string {
  return ms == null ? "" : localInput(ms);
}

/** A `datetime-local` value (read in the browser's time zone) as UTC ms. */
function fromLocalInput(value: string): number | null {
  return value ? new Date(value).getTime() : null;
}

function Period(props: { rule: RuleRecord; change: (part: Partial<RuleRecord>) => void }) {
  const { rule, change } = props;
  return (
    <fieldset class="field">
      <legend class="label">{t("rules.period")}</legend>
      <p class="hint">{t("rules.period_hint")}</p>
      <div class="row">
        <Field label={t("rules.starts")}>
          <input
            type="datetime-local"
            value={toLocalInput(rule.starts)}
            onInput={(e) => change({ starts: fromLocalInput(valueOf(e)) })}
          />
        </Field>
        <Field label={t("rules.ends")}>
          <input
            type="datetime-local"
            value={toLocalInput(rule.ends)}
            onInput={(e) => change({ ends: fromLocalInput(valueOf(e)) })}
          />
        </Field>
      </div>
    </fieldset>
  );
}

function WeeklySpans(props: { spans: Span[]; onChange: (spans: Span[]) => void }) {
  const { spans } = props;
  const set = (index: number, span: Span) => props.onChange(spans.map((s, i) => (i === index ? span : s)));
  const add = (more: Span[]) => props.onChange([...spans, ...more].slice(0, MOST_SPANS));
  return (
    <fieldset class="field">
      <legend class="label">{t("rules.weekly")}</legend>
      <p class="hint">{t("rules.weekly_hint")}</p>
      {spans.map((span, index) => (
        <SpanRow
          key={index}
          n={index + 1}
          span={span}
          set={(changed) => set(index, changed)}
          remove={() => props.onChange(spans.filter((_, i) => i !== index))}
        />
      ))}
      <div class="row">
        <button type="button" onClick={() => add([[0, "09:00", "12:00"]])}>
          {t("rules.slot_add")}
        </button>
        <button type="button" onClick={() => add(EVENINGS)}>
          {t("rules.add_evenings")}
        </button>
        <button type="button" onClick={() => add(WEEKEND)}>
          {t("rules.add_weekend")}
        </button>
      </div>
    </fieldset>
  );
}

function SpanRow(props: { n: number; span: Span; set: (span: Span) => void; remove: () => void }) {
  const [day, start, end] = props.span;
  return (
    <fieldset class="row bare bottom">
      <legend class="visually-hidden">{t("rules.slot", { n: props.n })}</legend>
      <SelectField
        label={t("rules.slot_day")}
        value={String(day)}
        options={DAYS.map((d): Option => [String(d), t(`rules.day.${d}`)])}
        onChange={(chosen) => props.set([Number(chosen), start, end])}
      />
      <Field label={t("rules.slot_start")}>
        <input type="time" required value={start} onInput={(e) => props.set([day, valueOf(e), end])} />
      </Field>
      <Field label={t("rules.slot_end")}>
        <input
          type="time"
          required
          value={shownEnd(end)}
          onInput={(e) => props.set([day, start, savedEnd(valueOf(e))])}
        />
      </Field>
      <button type="button" class="link" onClick={props.remove}>
        {t("rules.slot_remove", { n: props.n })}
      </button>
    </fieldset>
  );
}

/** A colleague to point patients to: one of the practice's practitioners, or
 * any verified practitioner found by name. */
function ColleagueField(props: {
  value: number | null;
  known: Map<number, string>;
  onChange: (id: number | null) => void;
}) {
  const session = useSession();
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<Map<number, string>>(new Map());
  const [searched, setSearched] = useState(false);
  const choices = new Map([...props.known, ...found]);
  choices.delete(session.me);
  if (props.value != null && !choices.has(props.value)) {
    choices.set(props.value, colleagueName(props.known, props.value));
  }
  const search = async () => {
    const text = query.trim();
    const { practitioners } = await session.call<{ practitioners: { id: number; name: string }[] }>(
      "practitioners.search",
      { text },
    );
    setFound(new Map(practitioners.filter((p) => p.id !== session.me).map((p) => [p.id, p.name])));
    setSearched(true);
  };
  return (
    <fieldset class="field">
      <legend class="label">{t("rules.redirect")}</legend>
      <div class="row bottom">
        <div class="grow">
          <Field label={t("rules.search")}>
            <input type="search" value={query} onInput={(e) => setQuery(valueOf(e))} />
          </Field>
        </div>
        <Action label={t("rules.search_go")} disabled={query.trim().length < 2} action={search} />
      </div>
      {searched && found.size === 0 && <p class="muted">{t("rules.search_none")}</p>}
      <SelectField
        label={t("rules.colleague")}
        value={String(props.value ?? "")}
        options={[["", t("rules.redirect_none")], ...[...choices].map(([id, name]): Option => [String(id), name])]}
        onChange={(chosen) => props.onChange(chosen ? Number(chosen) : null)}
      />
    </fieldset>
  );
}
