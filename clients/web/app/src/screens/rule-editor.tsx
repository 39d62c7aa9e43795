/** Writing an away or automatic-reply rule: what it does and says, when
 * (a period, weekly slots in a time zone), the colleague it points to, and
 * the patients it leaves out. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { CheckField, type Option, SelectField, TimeZoneField } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { localInput } from "../local-time.js";
import { Action, Field, Problem } from "../ui.js";
import { type Span, WeeklySpans, spanProblem } from "../weekly-spans.js";
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
});

type RuleAction = "auto_reply" | "refuse";

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
/** docs/protocol.schema.json `Rule.weekly`: 64 at most. */
const MOST_SPANS = 64;

/** The rule's problems the server would refuse, in the reader's words. */
function ruleProblem(rule: RuleRecord): string | null {
  if (rule.starts != null && rule.ends != null && rule.ends <= rule.starts) return t("rules.ends_before");
  return spanProblem(rule.weekly);
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
      <WeeklySpans
        legend={t("rules.weekly")}
        hint={t("rules.weekly_hint")}
        spans={rule.weekly}
        most={MOST_SPANS}
        onChange={(weekly) => change({ weekly })}
      />
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
