/** The care side's settings: reply templates (with their variables and a
 * preview), away and automatic-reply rules, and the inbox settings (who may
 * write, about what, how much). */
import { useEffect, useRef, useState } from "preact/hooks";
import { TemplateError, VARIABLES, render, variablesOf } from "../../../src/index.js";
import type { Member, RequestReason, UserProfile } from "../api.js";
import { useSession } from "../context.js";
import { defineTexts, formatDate, formatDateTime, formatTime, t, timeZone } from "../i18n.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";

defineTexts({
  "templates.title": ["Modèles de réponse", "Reply templates"],
  "templates.new": ["Nouveau modèle", "New template"],
  "templates.edit_title": ["Modifier « {name} »", "Edit “{name}”"],
  "templates.intro": [
    "Un modèle se remplit au moment de l'envoi : les variables entre accolades prennent les valeurs de la conversation.",
    "A template is filled in when it is sent: the variables in braces take the conversation's values.",
  ],
  "templates.none": ["Vous n'avez pas encore de modèle à vous.", "You have no templates of your own yet."],
  "templates.no_home": [
    "Seul un praticien, ou un assistant à qui il a délégué ses modèles, peut en créer.",
    "Only a practitioner, or an assistant they delegated their templates to, can create them.",
  ],
  "templates.builtin": ["Intégré", "Built in"],
  "templates.builtin_hint": ["Fourni par carehub : il ne se modifie pas.", "Provided by carehub: it cannot be changed."],
  "templates.mine": ["Mes modèles", "My templates"],
  "templates.of_practice": ["Cabinet {name}", "Practice {name}"],
  "templates.of_practitioner": ["Modèles de {name}", "{name}'s templates"],
  "templates.read_only": ["Lecture seule", "Read only"],
  "templates.takes_no_reply": ["N'attend pas de réponse", "Takes no reply"],
  "templates.closes": ["Clôt la conversation", "Closes the conversation"],
  "templates.name": ["Nom du modèle", "Template name"],
  "templates.text": ["Texte", "Text"],
  "templates.reply_allowed": ["Attend une réponse", "Expects a reply"],
  "templates.reply_allowed_hint": [
    "Décochez pour un message d'information : le patient ne pourra pas y répondre.",
    "Untick for an information message: the patient will not be able to answer it.",
  ],
  "templates.closes_thread": ["Clôt la conversation", "Closes the conversation"],
  "templates.closes_thread_hint": [
    "Envoyer ce modèle clôt aussi la conversation.",
    "Sending this template also closes the conversation.",
  ],
  "templates.home": ["Pour qui", "For whom"],
  "templates.home_mine": ["Moi seul", "Only me"],
  "templates.home_practice": ["Tout le cabinet {name}", "The whole practice {name}"],
  "templates.variables": ["Variables disponibles", "Available variables"],
  "templates.insert": ["Insérer {name}", "Insert {name}"],
  "templates.insert_short": ["Insérer", "Insert"],
  "templates.variable.patient_first_name": ["Le prénom du patient.", "The patient's first name."],
  "templates.variable.patient_name": ["Le nom complet du patient.", "The patient's full name."],
  "templates.variable.practitioner_name": ["Le nom du praticien.", "The practitioner's name."],
  "templates.variable.practice_name": ["Le nom du cabinet.", "The practice's name."],
  "templates.variable.date": ["La date du jour de l'envoi.", "The date it is sent."],
  "templates.variable.time": ["L'heure de l'envoi.", "The time it is sent."],
  "templates.variable.response_delay": [
    "Le délai de réponse annoncé (par exemple « 3 jours »).",
    "The announced response time (for example “3 days”).",
  ],
  "templates.preview": ["Aperçu", "Preview"],
  "templates.preview_hint": ["Avec des valeurs d'exemple.", "With example values."],
  "templates.sample.first_name": ["Camille", "Camille"],
  "templates.sample.full_name": ["Camille Dupont", "Camille Dupont"],
  "templates.sample.practice": ["Cabinet des Lilas", "Lilac Practice"],
  "templates.sample.delay": ["3 jours", "3 days"],
  "templates.unknown": [
    "Variable inconnue : {names}. Choisissez parmi les variables ci-dessous.",
    "Unknown variable: {names}. Choose from the variables below.",
  ],
  "templates.malformed": [
    "Une accolade n'est pas fermée ou une variable est mal écrite. Pour une accolade seule, doublez-la : {{ ou }}.",
    "A brace is not closed or a variable is misspelt. For a brace on its own, double it: {{ or }}.",
  ],
  "templates.create": ["Créer le modèle", "Create the template"],
  "templates.save": ["Enregistrer le modèle", "Save the template"],
  "templates.edit": ["Modifier {name}", "Edit {name}"],
  "templates.delete": ["Supprimer {name}", "Delete {name}"],
  "templates.confirm_delete": ["Supprimer « {name} » ?", "Delete “{name}”?"],
  "templates.list": ["Vos modèles", "Your templates"],

  "rules.title": ["Absences et réponses automatiques", "Away and automatic replies"],
  "rules.new": ["Nouvelle règle", "New rule"],
  "rules.edit_title": ["Modifier « {name} »", "Edit “{name}”"],
  "rules.intro": [
    "Les règles s'appliquent dans l'ordre de la liste : la première active qui concerne le patient l'emporte.",
    "Rules apply in the order of the list: the first active one that concerns the patient wins.",
  ],
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
  "rules.none": ["Aucune règle : vos patients vous écrivent normalement.", "No rules: your patients write to you as usual."],
  "rules.list": ["Vos règles, dans l'ordre", "Your rules, in order"],
  "rules.disabled": ["Désactivée", "Disabled"],
  "rules.enabled_pill": ["Active", "On"],
  "rules.always": ["En permanence", "At all times"],
  "rules.between": ["Du {from} au {to}", "From {from} to {to}"],
  "rules.from": ["À partir du {from}", "From {from}"],
  "rules.until": ["Jusqu'au {to}", "Until {to}"],
  "rules.span": ["{day} de {start} à {end}", "{day} from {start} to {end}"],
  "rules.all_day": ["{day}, toute la journée", "{day}, all day"],
  "rules.in_zone": ["heure de {zone}", "{zone} time"],
  "rules.redirects": ["Oriente vers {name}", "Points to {name}"],
  "rules.repeats_emergency": ["Rappelle le numéro d'urgence", "Repeats the emergency number"],
  "rules.exempts": ["Sauf : {names}", "Except: {names}"],
  "rules.colleague_number": ["Confrère n° {id}", "Colleague no. {id}"],
  "rules.patient_number": ["Patient n° {id}", "Patient no. {id}"],
  "rules.up": ["Monter {name}", "Move {name} up"],
  "rules.down": ["Descendre {name}", "Move {name} down"],
  "rules.enable": ["Activer {name}", "Turn {name} on"],
  "rules.disable": ["Désactiver {name}", "Turn {name} off"],
  "rules.edit": ["Modifier {name}", "Edit {name}"],
  "rules.delete": ["Supprimer {name}", "Delete {name}"],
  "rules.confirm_delete": ["Supprimer la règle « {name} » ?", "Delete the rule “{name}”?"],
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

  "inboxsettings.title": ["Réglages de la boîte de réception", "Inbox settings"],
  "inboxsettings.accepting": ["Qui peut vous écrire", "Who may write to you"],
  "inboxsettings.accepting.off": [
    "Personne : vos patients ne peuvent pas ouvrir de demande (vous pouvez toujours leur écrire).",
    "Nobody: your patients cannot open a request (you can still write to them).",
  ],
  "inboxsettings.accepting.patients": ["Tous mes patients", "All my patients"],
  "inboxsettings.accepting.list": ["Seulement les patients choisis ci-dessous", "Only the patients chosen below"],
  "inboxsettings.accept_list": ["Patients autorisés", "Patients allowed"],
  "inboxsettings.no_patients": ["Vous n'avez pas encore de patient.", "You have no patients yet."],
  "inboxsettings.filter": ["Filtrer par nom", "Filter by name"],
  "inboxsettings.reasons": ["Motifs de demande", "Request reasons"],
  "inboxsettings.reasons_hint": [
    "Le patient choisit un motif avant d'écrire ; le délai annoncé lui est montré.",
    "The patient picks a reason before writing; the announced delay is shown to them.",
  ],
  "inboxsettings.no_reasons": [
    "Sans motif, vos patients ne peuvent pas ouvrir de demande.",
    "Without a reason, your patients cannot open a request.",
  ],
  "inboxsettings.reason": ["Motif {n}", "Reason {n}"],
  "inboxsettings.reason_label": ["Libellé", "Label"],
  "inboxsettings.reason_hours": ["Délai de réponse annoncé (heures)", "Announced response time (hours)"],
  "inboxsettings.reason_remove": ["Retirer le motif {n}", "Remove reason {n}"],
  "inboxsettings.reason_add": ["Ajouter un motif", "Add a reason"],
  "inboxsettings.limits": ["Limites par patient", "Limits per patient"],
  "inboxsettings.max_open_threads": ["Demandes ouvertes en même temps", "Requests open at the same time"],
  "inboxsettings.max_daily_messages": ["Messages sur 24 heures", "Messages in 24 hours"],
  "inboxsettings.save": ["Enregistrer les réglages", "Save the settings"],
});

// -- shared pieces -------------------------------------------------------------

/** What an input, select or textarea holds now. */
const valueOf = (event: Event) => (event.target as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement).value;
/** What a number input holds now: NaN while it is empty. */
const numberOf = (event: Event) => (event.target as HTMLInputElement).valueAsNumber;

interface PracticeSummary {
  id: number;
  name: string;
  members: Member[];
}

interface PatientSummary {
  user: number;
  name: string;
}

type SaveState = { busy: boolean; error?: unknown; done: boolean };

/** A form's submission: busy while it runs, then saved or the refusal;
 * `edited` clears "saved" once the form differs from what was saved. */
function useSaving(): [SaveState, (work: () => Promise<unknown>) => Promise<void>, () => void] {
  const [state, setState] = useState<SaveState>({ busy: false, done: false });
  const run = async (work: () => Promise<unknown>) => {
    setState({ busy: true, done: false });
    try {
      await work();
      setState({ busy: false, done: true });
    } catch (error) {
      setState({ busy: false, done: false, error });
    }
  };
  const edited = () => setState((current) => (current.done ? { busy: false, done: false } : current));
  return [state, run, edited];
}

function SaveLine(props: { state: SaveState; label: string; problem?: string | null; cancel?: () => void }) {
  return (
    <div class="row">
      <button class="primary" type="submit" disabled={props.state.busy}>
        {props.label}
      </button>
      {props.cancel && (
        <button type="button" onClick={props.cancel}>
          {t("common.cancel")}
        </button>
      )}
      {props.state.done && (
        <span class="ok" role="status">
          {t("common.saved")}
        </span>
      )}
      {props.problem ? (
        <p class="error" role="alert">
          {props.problem}
        </p>
      ) : (
        <ErrorLine error={props.state.error} />
      )}
    </div>
  );
}

function Checkbox(props: { label: string; checked: boolean; onChange: (checked: boolean) => void; hint?: string }) {
  return (
    <div class="field">
      <label class="row">
        <input
          type="checkbox"
          checked={props.checked}
          onChange={(event) => props.onChange((event.target as HTMLInputElement).checked)}
        />
        {props.label}
      </label>
      {props.hint && <span class="hint">{props.hint}</span>}
    </div>
  );
}

/** Delete, once the person confirms it. */
function ConfirmDelete(props: { label: string; question: string; remove: () => Promise<unknown> }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="row" role="group" aria-label={props.question}>
      <span>{props.question}</span>
      <Action label={t("common.delete")} kind="danger" action={props.remove} />
      <button type="button" onClick={() => setAsking(false)}>
        {t("common.cancel")}
      </button>
    </span>
  );
}

/** Patients chosen by ticking them; those already chosen stay listed even
 * when no longer on the patient list, so nothing is dropped unseen. */
function PatientPicker(props: {
  legend: string;
  hint?: string;
  patients: PatientSummary[];
  chosen: number[];
  onChange: (chosen: number[]) => void;
}) {
  const [filter, setFilter] = useState("");
  const known = new Set(props.patients.map((p) => p.user));
  const everyone = [
    ...props.patients,
    ...props.chosen.filter((id) => !known.has(id)).map((id) => ({ user: id, name: t("rules.patient_number", { id }) })),
  ];
  const wanted = filter.trim().toLocaleLowerCase();
  const matches = (p: PatientSummary) => !wanted || p.name.toLocaleLowerCase().includes(wanted);
  const shown = everyone.filter((p) => matches(p) || props.chosen.includes(p.user));
  const toggle = (user: number, on: boolean) =>
    props.onChange(on ? [...props.chosen, user] : props.chosen.filter((id) => id !== user));
  return (
    <fieldset class="field">
      <legend class="label">{props.legend}</legend>
      {props.hint && <p class="hint">{props.hint}</p>}
      {everyone.length === 0 ? (
        <p class="muted">{t("inboxsettings.no_patients")}</p>
      ) : (
        <>
          {everyone.length > 8 && (
            <Field label={t("inboxsettings.filter")}>
              <input type="search" value={filter} onInput={(e) => setFilter(valueOf(e))} />
            </Field>
          )}
          {shown.map((patient) => (
            <Checkbox
              key={patient.user}
              label={patient.name}
              checked={props.chosen.includes(patient.user)}
              onChange={(on) => toggle(patient.user, on)}
            />
          ))}
        </>
      )}
    </fieldset>
  );
}

async function loadPatients(session: Session): Promise<PatientSummary[]> {
  const { patients } = await session.call<{ patients: PatientSummary[] }>("patients.list", {});
  return patients;
}

/** Editors open above their list: bring the one just opened into view. */
function scrollToTop(): void {
  window.scrollTo({ top: 0 });
}

// -- templates -----------------------------------------------------------------

interface TemplateRecord {
  id: number;
  name: string;
  text: string;
  practice?: number | null;
  owner?: number | null;
  reply_allowed?: boolean;
  closes_thread?: boolean;
  builtin?: boolean;
  code?: string | null;
}

/** Where a new template is kept: the practitioner's own, a practice's, or,
 * for an assistant, the practitioner's whose templates they keep. */
interface Home {
  key: string;
  label: string;
  practice?: number;
  owner?: number;
  /** who `{practitioner_name}` will be, for the preview */
  practitionerName: string;
  practiceName?: string;
}

interface TemplatesData {
  templates: TemplateRecord[];
  homes: Home[];
  practices: PracticeSummary[];
}

export function Templates() {
  const session = useSession();
  const practices = useTopic(session.store, "practices");
  const delegations = useTopic(session.store, "delegations");
  const [round, setRound] = useState(0);
  const loaded = useLoad(() => loadTemplates(session), [practices, delegations, round]);
  const [editing, setEditing] = useState<TemplateRecord | "new" | null>(null);
  const data = loaded.value;
  const saved = () => {
    setEditing(null);
    setRound((r) => r + 1);
  };
  const start = (what: TemplateRecord | "new") => {
    setEditing(what);
    scrollToTop();
  };
  return (
    <Page
      title={t("templates.title")}
      actions={
        data && data.homes.length > 0 && editing === null ? (
          <button type="button" class="primary" onClick={() => start("new")}>
            {t("templates.new")}
          </button>
        ) : undefined
      }
    >
      <p class="muted">{t("templates.intro")}</p>
      {!data ? (
        <Loading error={loaded.error} />
      ) : (
        <>
          {data.homes.length === 0 && <p class="muted">{t("templates.no_home")}</p>}
          {editing !== null && (
            <TemplateEditor
              key={editing === "new" ? "new" : editing.id}
              template={editing === "new" ? undefined : editing}
              homes={data.homes}
              saved={saved}
              cancel={() => setEditing(null)}
            />
          )}
          <TemplateList data={data} edit={start} changed={() => setRound((r) => r + 1)} />
        </>
      )}
    </Page>
  );
}

async function loadTemplates(session: Session): Promise<TemplatesData> {
  const [{ templates }, { practices }] = await Promise.all([
    session.call<{ templates: TemplateRecord[] }>("templates.list", {}),
    session.call<{ practices: PracticeSummary[] }>("practices.list", {}),
  ]);
  const homes =
    session.role === "practitioner" ? practitionerHomes(session, practices) : await assistantHomes(session, practices);
  return { templates, homes, practices };
}

function practitionerHomes(session: Session, practices: PracticeSummary[]): Home[] {
  return [
    { key: "mine", label: t("templates.home_mine"), practitionerName: session.name },
    ...practices.map((practice) => ({
      key: `practice-${practice.id}`,
      label: t("templates.home_practice", { name: practice.name }),
      practice: practice.id,
      practitionerName: session.name,
      practiceName: practice.name,
    })),
  ];
}

/** An assistant keeps the templates of the practitioners who delegated
 * `templates` to them (and whose delegation has not expired). */
async function assistantHomes(session: Session, practices: PracticeSummary[]): Promise<Home[]> {
  type Received = { principal: number; scope: string[]; expires?: number | null };
  const { received } = await session.call<{ received: Received[] }>("delegations.list", {});
  const now = Date.now();
  const names = new Map(practices.flatMap((p) => p.members.map((m) => [m.user, m.name] as const)));
  return received
    .filter((d) => d.scope.includes("templates") && (d.expires == null || d.expires > now))
    .map((d) => {
      const name = names.get(d.principal) ?? t("rules.colleague_number", { id: d.principal });
      const label = t("templates.of_practitioner", { name });
      return { key: `owner-${d.principal}`, label, owner: d.principal, practitionerName: name };
    });
}

/** Whether the caller may change `template`: never a built-in one; a
 * practice's by its practitioners; an own one by its owner or their keeper. */
function editable(session: Session, data: TemplatesData, template: TemplateRecord): boolean {
  if (template.builtin) return false;
  if (template.practice) {
    return session.role === "practitioner" && data.practices.some((p) => p.id === template.practice);
  }
  return data.homes.some((home) => home.practice === undefined && (home.owner ?? session.me) === template.owner);
}

function whose(session: Session, data: TemplatesData, template: TemplateRecord): string {
  if (template.builtin) return t("templates.builtin");
  if (template.practice) {
    const name = data.practices.find((p) => p.id === template.practice)?.name ?? "";
    return t("templates.of_practice", { name });
  }
  if (template.owner === session.me) return t("templates.mine");
  const names = new Map(data.practices.flatMap((p) => p.members.map((m) => [m.user, m.name] as const)));
  const owner = template.owner ?? 0;
  return t("templates.of_practitioner", { name: names.get(owner) ?? t("rules.colleague_number", { id: owner }) });
}

function TemplateList(props: { data: TemplatesData; edit: (template: TemplateRecord) => void; changed: () => void }) {
  const session = useSession();
  const { data } = props;
  const own = data.templates.filter((template) => !template.builtin);
  return (
    <section aria-labelledby="templates-list">
      <h2 id="templates-list">{t("templates.list")}</h2>
      {own.length === 0 && <p class="muted">{t("templates.none")}</p>}
      {data.templates.map((template) => {
        const canEdit = editable(session, data, template);
        return (
          <article class="card" key={template.builtin ? `builtin-${template.code}` : template.id}>
            <div class="row">
              <h3 class="grow subhead">
                {template.name}
              </h3>
              <span class="pill">{whose(session, data, template)}</span>
              {template.reply_allowed === false && <span class="pill">{t("templates.takes_no_reply")}</span>}
              {template.closes_thread && <span class="pill">{t("templates.closes")}</span>}
              {!canEdit && !template.builtin && <span class="pill">{t("templates.read_only")}</span>}
            </div>
            <p class="prose">
              {template.text}
            </p>
            {template.builtin && <p class="muted">{t("templates.builtin_hint")}</p>}
            {canEdit && (
              <div class="row">
                <button type="button" onClick={() => props.edit(template)}>
                  {t("templates.edit", { name: template.name })}
                </button>
                <ConfirmDelete
                  label={t("templates.delete", { name: template.name })}
                  question={t("templates.confirm_delete", { name: template.name })}
                  remove={async () => {
                    await session.call("templates.delete", { template: template.id });
                    props.changed();
                  }}
                />
              </div>
            )}
          </article>
        );
      })}
    </section>
  );
}

/** Why `text` is not a template, in the reader's words; null if it is one. */
function templateProblem(text: string): string | null {
  try {
    variablesOf(text);
    return null;
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    const unknown = unknownVariables(text);
    return unknown.length ? t("templates.unknown", { names: unknown.join(", ") }) : t("templates.malformed");
  }
}

/** The `{names}` in `text` that are not variables (`{{` and `}}` are braces). */
function unknownVariables(text: string): string[] {
  const named = [...text.replace(/\{\{|\}\}/g, "").matchAll(/\{([^{}]*)\}/g)].map((match) => match[1] ?? "");
  return [...new Set(named.filter((name) => !VARIABLES.has(name)))].map((name) => `{${name}}`);
}

function homeOf(template: TemplateRecord | undefined, homes: Home[], me: number): Home | undefined {
  if (!template) return homes[0];
  if (template.practice) return homes.find((home) => home.practice === template.practice);
  return homes.find((home) => home.practice === undefined && (home.owner ?? me) === template.owner);
}

function TemplateEditor(props: {
  template: TemplateRecord | undefined;
  homes: Home[];
  saved: () => void;
  cancel: () => void;
}) {
  const session = useSession();
  const existing = props.template;
  const [name, setName] = useState(existing?.name ?? "");
  const [text, setText] = useState(existing?.text ?? "");
  const [replyAllowed, setReplyAllowed] = useState(existing?.reply_allowed ?? true);
  const [closes, setCloses] = useState(existing?.closes_thread ?? false);
  const [homeKey, setHomeKey] = useState(homeOf(existing, props.homes, session.me)?.key ?? "");
  const [saving, run] = useSaving();
  const textarea = useRef<HTMLTextAreaElement>(null);
  const home = props.homes.find((h) => h.key === homeKey) ?? props.homes[0];
  const problem = templateProblem(text);

  const insert = (variable: string) => {
    const field = textarea.current;
    const at = field ? field.selectionStart : text.length;
    const end = field ? field.selectionEnd : text.length;
    const written = `{${variable}}`;
    setText(text.slice(0, at) + written + text.slice(end));
    requestAnimationFrame(() => {
      field?.focus();
      field?.setSelectionRange(at + written.length, at + written.length);
    });
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (problem) {
      textarea.current?.focus(); // the preview says what is wrong: nothing reaches the server
      return;
    }
    if (!home) return;
    const template = {
      ...(existing ? { id: existing.id } : {}),
      name: name.trim(),
      text,
      reply_allowed: replyAllowed,
      closes_thread: closes,
      ...(home.practice ? { practice: home.practice } : {}),
      ...(home.owner ? { owner: home.owner } : {}),
    };
    await run(async () => {
      await session.call(existing ? "templates.update" : "templates.create", template);
      props.saved();
    });
  };

  return (
    <form class="card" onSubmit={save} aria-labelledby="template-editor">
      <h2 id="template-editor" class="first">
        {existing ? t("templates.edit_title", { name: existing.name }) : t("templates.new")}
      </h2>
      <Field label={t("templates.name")}>
        <input required maxLength={120} value={name} onInput={(e) => setName(valueOf(e))} />
      </Field>
      {!existing && props.homes.length > 1 && (
        <Field label={t("templates.home")}>
          <select value={homeKey} onChange={(e) => setHomeKey(valueOf(e))}>
            {props.homes.map((h) => (
              <option key={h.key} value={h.key}>
                {h.label}
              </option>
            ))}
          </select>
        </Field>
      )}
      <Field label={t("templates.text")}>
        <textarea
          ref={textarea}
          required
          rows={5}
          maxLength={2000}
          value={text}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? "template-problem" : undefined}
          onInput={(e) => setText(valueOf(e))}
        />
      </Field>
      <VariableHelp insert={insert} />
      <Preview text={text} problem={problem} home={home} />
      <Checkbox
        label={t("templates.reply_allowed")}
        hint={t("templates.reply_allowed_hint")}
        checked={replyAllowed}
        onChange={setReplyAllowed}
      />
      <Checkbox
        label={t("templates.closes_thread")}
        hint={t("templates.closes_thread_hint")}
        checked={closes}
        onChange={setCloses}
      />
      <SaveLine state={saving} label={existing ? t("templates.save") : t("templates.create")} cancel={props.cancel} />
    </form>
  );
}

function VariableHelp({ insert }: { insert: (variable: string) => void }) {
  return (
    <section aria-labelledby="template-variables">
      <h3 id="template-variables" class="subhead spaced">
        {t("templates.variables")}
      </h3>
      <table>
        <tbody>
          {[...VARIABLES].map((variable) => (
            <tr key={variable}>
              <td>
                <code>{`{${variable}}`}</code>
              </td>
              <td>{t(`templates.variable.${variable}`)}</td>
              <td>
                <button
                  type="button"
                  class="link"
                  aria-label={t("templates.insert", { name: `{${variable}}` })}
                  onClick={() => insert(variable)}
                >
                  {t("templates.insert_short")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function sampleValues(home: Home | undefined): Record<string, string> {
  const now = Date.now();
  return {
    patient_first_name: t("templates.sample.first_name"),
    patient_name: t("templates.sample.full_name"),
    practitioner_name: home?.practitionerName ?? "",
    practice_name: home?.practiceName ?? t("templates.sample.practice"),
    date: formatDate(now),
    time: formatTime(now),
    response_delay: t("templates.sample.delay"),
  };
}

function Preview(props: { text: string; problem: string | null; home: Home | undefined }) {
  return (
    <section class="card preview" aria-labelledby="template-preview">
      <h3 id="template-preview" class="subhead">
        {t("templates.preview")}
      </h3>
      <p class="muted">{t("templates.preview_hint")}</p>
      {props.problem ? (
        <p class="error" role="alert" id="template-problem">
          {props.problem}
        </p>
      ) : (
        <p class="prose">
          {render(props.text, sampleValues(props.home))}
        </p>
      )}
    </section>
  );
}

// -- rules ---------------------------------------------------------------------

type RuleAction = "auto_reply" | "refuse";
type Span = [day: number, start: string, end: string];

interface RuleRecord {
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

interface RulesData {
  rules: RuleRecord[];
  patients: PatientSummary[];
  /** practitioners the caller may point patients to, and those rules name */
  colleagues: Map<number, string>;
}

const ACTIONS: RuleAction[] = ["auto_reply", "refuse"];
const DAYS = [0, 1, 2, 3, 4, 5, 6];
const EVENINGS: Span[] = [0, 1, 2, 3, 4].map((day) => [day, "19:00", "08:00"]);
const WEEKEND: Span[] = [
  [5, "00:00", "24:00"],
  [6, "00:00", "24:00"],
];

/** A rule as the server sent it, which omits the fields left at their
 * defaults (the protocol's: a rule without a zone is in UTC). */
function ruleOf(sent: Partial<RuleRecord>): RuleRecord {
  return {
    id: 0,
    position: 0,
    name: "",
    text: "",
    action: "auto_reply",
    starts: null,
    ends: null,
    weekly: [],
    timezone: "UTC",
    exempt: [],
    redirect_to: null,
    emergency_notice: false,
    enabled: true,
    ...sent,
  };
}

/** A new rule, last in order; its weekly slots are read in the browser's zone. */
function newRule(rules: RuleRecord[]): RuleRecord {
  const position = rules.length ? Math.max(...rules.map((r) => r.position)) + 1 : 0;
  return ruleOf({ position, timezone: timeZone() });
}

export function Rules() {
  const session = useSession();
  const topic = useTopic(session.store, "rules");
  const loaded = useLoad(() => loadRules(session), [topic]);
  const [editing, setEditing] = useState<RuleRecord | null>(null);
  const data = loaded.value;
  const start = (rule: RuleRecord) => {
    setEditing(rule);
    scrollToTop();
  };
  return (
    <Page
      title={t("rules.title")}
      actions={
        data && editing === null ? (
          <button type="button" class="primary" onClick={() => start(newRule(data.rules))}>
            {t("rules.new")}
          </button>
        ) : undefined
      }
    >
      <p class="muted">{t("rules.intro")}</p>
      <dl>
        {ACTIONS.map((action) => (
          <div key={action}>
            <dt>
              <strong>{t(`rules.action.${action}`)}</strong>
            </dt>
            <dd class="muted">{t(`rules.action.${action}.explain`)}</dd>
          </div>
        ))}
      </dl>
      {!data ? (
        <Loading error={loaded.error} />
      ) : (
        <>
          {editing && (
            <RuleEditor
              key={editing.id || "new"}
              rule={editing}
              data={data}
              saved={() => {
                setEditing(null);
                loaded.reload();
              }}
              cancel={() => setEditing(null)}
            />
          )}
          <RuleList data={data} edit={start} changed={loaded.reload} />
        </>
      )}
    </Page>
  );
}

async function loadRules(session: Session): Promise<RulesData> {
  const [{ rules }, patients, { practices }] = await Promise.all([
    session.call<{ rules: Partial<RuleRecord>[] }>("rules.list", {}),
    loadPatients(session),
    session.call<{ practices: PracticeSummary[] }>("practices.list", {}),
  ]);
  const colleagues = new Map<number, string>();
  for (const practice of practices) {
    for (const m of practice.members) {
      if (m.role === "practitioner" && m.user !== session.me) colleagues.set(m.user, m.name);
    }
  }
  const full = rules.map(ruleOf);
  const redirects = new Set(full.flatMap((r) => (r.redirect_to ? [r.redirect_to] : [])));
  const named = [...redirects].filter((id) => !colleagues.has(id));
  if (named.length) {
    const { users } = await session.call<{ users: UserProfile[] }>("users.get", { users: named });
    for (const user of users) colleagues.set(user.user, user.name);
  }
  return { rules: full, patients, colleagues };
}

function colleagueName(colleagues: Map<number, string>, id: number): string {
  return colleagues.get(id) ?? t("rules.colleague_number", { id });
}

/** A rule's period and hours, in a sentence. */
function when(rule: RuleRecord): string[] {
  const parts: string[] = [];
  const from = rule.starts != null ? formatDateTime(rule.starts) : undefined;
  const to = rule.ends != null ? formatDateTime(rule.ends) : undefined;
  if (from && to) parts.push(t("rules.between", { from, to }));
  else if (from) parts.push(t("rules.from", { from }));
  else if (to) parts.push(t("rules.until", { to }));
  for (const [day, start, end] of rule.weekly) {
    const name = t(`rules.day.${day}`);
    const allDay = start === "00:00" && end === "24:00";
    parts.push(allDay ? t("rules.all_day", { day: name }) : t("rules.span", { day: name, start, end }));
  }
  if (rule.weekly.length) parts.push(t("rules.in_zone", { zone: rule.timezone }));
  if (!parts.length) parts.push(t("rules.always"));
  return parts;
}

function RuleList(props: { data: RulesData; edit: (rule: RuleRecord) => void; changed: () => void }) {
  const { rules } = props.data;
  return (
    <section aria-labelledby="rules-list">
      <h2 id="rules-list">{t("rules.list")}</h2>
      {rules.length === 0 ? (
        <p class="muted">{t("rules.none")}</p>
      ) : (
        <ol class="compact">
          {rules.map((rule, index) => (
            <RuleItem key={rule.id} data={props.data} index={index} edit={props.edit} changed={props.changed} />
          ))}
        </ol>
      )}
    </section>
  );
}

function RuleItem(props: { data: RulesData; index: number; edit: (rule: RuleRecord) => void; changed: () => void }) {
  const session = useSession();
  const { rules, patients, colleagues } = props.data;
  const rule = rules[props.index] as RuleRecord;
  const update = async (changed: RuleRecord) => {
    await session.call("rules.update", changed);
    props.changed();
  };
  const move = async (by: number) => {
    await reorder(session, rules, props.index, props.index + by);
    props.changed();
  };
  const exempted = rule.exempt.map(
    (id) => patients.find((p) => p.user === id)?.name ?? t("rules.patient_number", { id }),
  );
  return (
    <li class="card">
      <div class="row">
        <h3 class="grow subhead">
          {rule.name}
        </h3>
        <span class="pill">{t(`rules.action.${rule.action}`)}</span>
        <span class="pill">{rule.enabled ? t("rules.enabled_pill") : t("rules.disabled")}</span>
      </div>
      <ul class="muted">
        {when(rule).map((part) => (
          <li key={part}>{part}</li>
        ))}
        {rule.redirect_to != null && (
          <li>{t("rules.redirects", { name: colleagueName(colleagues, rule.redirect_to) })}</li>
        )}
        {rule.emergency_notice && <li>{t("rules.repeats_emergency")}</li>}
        {exempted.length > 0 && <li>{t("rules.exempts", { names: exempted.join(", ") })}</li>}
      </ul>
      <p class="prose">
        {rule.text}
      </p>
      <div class="row">
        <button type="button" onClick={() => props.edit(rule)}>
          {t("rules.edit", { name: rule.name })}
        </button>
        <Action
          label={t(rule.enabled ? "rules.disable" : "rules.enable", { name: rule.name })}
          action={() => update({ ...rule, enabled: !rule.enabled })}
        />
        {props.index > 0 && <Action label={t("rules.up", { name: rule.name })} action={() => move(-1)} />}
        {props.index < rules.length - 1 && (
          <Action label={t("rules.down", { name: rule.name })} action={() => move(1)} />
        )}
        <ConfirmDelete
          label={t("rules.delete", { name: rule.name })}
          question={t("rules.confirm_delete", { name: rule.name })}
          remove={async () => {
            await session.call("rules.delete", { rule: rule.id });
            props.changed();
          }}
        />
      </div>
    </li>
  );
}

/** Move one rule, then number them all by their new order: positions may
 * tie (rules added by other means), so swapping two would not be enough. */
async function reorder(session: Session, rules: RuleRecord[], from: number, to: number): Promise<void> {
  const order = [...rules];
  const [moved] = order.splice(from, 1);
  if (!moved) return;
  order.splice(to, 0, moved);
  for (const [position, rule] of order.entries()) {
    if (rule.position !== position) await session.call("rules.update", { ...rule, position });
  }
}

/** `ms` as a `datetime-local` value, in the browser's time zone. */
function toLocalInput(ms: number | null): string {
  if (ms == null) return "";
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A `datetime-local` value (read in the browser's time zone) as UTC ms. */
function fromLocalInput(value: string): number | null {
  return value ? new Date(value).getTime() : null;
}

/** The rule's problems the server would refuse, in the reader's words. */
function ruleProblem(rule: RuleRecord): string | null {
  if (rule.starts != null && rule.ends != null && rule.ends <= rule.starts) return t("rules.ends_before");
  const empty = rule.weekly.findIndex(([, start, end]) => start === end);
  return empty >= 0 ? t("rules.slot_empty", { n: empty + 1 }) : null;
}

function RuleEditor(props: { rule: RuleRecord; data: RulesData; saved: () => void; cancel: () => void }) {
  const session = useSession();
  const [rule, setRule] = useState(props.rule);
  const [saving, run] = useSaving();
  const [problem, setProblem] = useState<string | null>(null);
  const change = (part: Partial<RuleRecord>) => {
    setRule({ ...rule, ...part });
    setProblem(null);
  };
  const save = async (event: Event) => {
    event.preventDefault();
    const found = ruleProblem(rule);
    setProblem(found);
    if (found) return;
    await run(async () => {
      await session.call(rule.id ? "rules.update" : "rules.add", { ...rule, name: rule.name.trim() });
      props.saved();
    });
  };
  return (
    <form class="card" onSubmit={save} aria-labelledby="rule-editor">
      <h2 id="rule-editor" class="first">
        {rule.id ? t("rules.edit_title", { name: props.rule.name }) : t("rules.new")}
      </h2>
      <Field label={t("rules.name")} hint={t("rules.name_hint")}>
        <input required maxLength={120} value={rule.name} onInput={(e) => change({ name: valueOf(e) })} />
      </Field>
      <fieldset class="field">
        <legend class="label">{t("rules.action")}</legend>
        {ACTIONS.map((action) => (
          <label key={action} class="row align-top nowrap">
            <input
              type="radio"
              name="rule-action"
                  checked={rule.action === action}
              onChange={() => change({ action })}
            />
            <span>
              <strong>{t(`rules.action.${action}`)}</strong> — {t(`rules.action.${action}.explain`)}
            </span>
          </label>
        ))}
      </fieldset>
      <Field label={t("rules.text")}>
        <textarea required rows={3} maxLength={2000} value={rule.text} onInput={(e) => change({ text: valueOf(e) })} />
      </Field>
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
      <WeeklySpans spans={rule.weekly} onChange={(weekly) => change({ weekly })} />
      {rule.weekly.length > 0 && (
        <Field label={t("rules.timezone")}>
          <TimeZoneSelect value={rule.timezone} onChange={(timezone) => change({ timezone })} />
        </Field>
      )}
      <ColleagueField
        value={rule.redirect_to}
        known={props.data.colleagues}
        onChange={(redirect_to) => change({ redirect_to })}
      />
      {rule.action === "auto_reply" && (
        <Checkbox
          label={t("rules.emergency")}
          checked={rule.emergency_notice}
          onChange={(emergency_notice) => change({ emergency_notice })}
        />
      )}
      <Checkbox label={t("rules.enabled")} checked={rule.enabled} onChange={(enabled) => change({ enabled })} />
      <PatientPicker
        legend={t("rules.exempt")}
        hint={t("rules.exempt_hint")}
        patients={props.data.patients}
        chosen={rule.exempt}
        onChange={(exempt) => change({ exempt })}
      />
      <SaveLine
        state={saving}
        label={rule.id ? t("rules.save") : t("rules.create")}
        problem={problem}
        cancel={props.cancel}
      />
    </form>
  );
}

/** A span's end as the time input shows it: the server's "24:00" (the end of
 * the day) is midnight, and a midnight end is saved as "24:00", which means
 * the same for any start and makes 00:00–00:00 the whole day. */
const shownEnd = (end: string) => (end === "24:00" ? "00:00" : end);
const savedEnd = (end: string) => (end === "00:00" ? "24:00" : end);

function WeeklySpans(props: { spans: Span[]; onChange: (spans: Span[]) => void }) {
  const { spans } = props;
  const set = (index: number, span: Span) => props.onChange(spans.map((s, i) => (i === index ? span : s)));
  const add = (more: Span[]) => props.onChange([...spans, ...more].slice(0, 64));
  return (
    <fieldset class="field">
      <legend class="label">{t("rules.weekly")}</legend>
      <p class="hint">{t("rules.weekly_hint")}</p>
      {spans.map(([day, start, end], index) => (
        <fieldset key={index} class="row bare bottom">
          <legend class="visually-hidden">{t("rules.slot", { n: index + 1 })}</legend>
          <Field label={t("rules.slot_day")}>
            <select value={day} onChange={(e) => set(index, [Number(valueOf(e)), start, end])}>
              {DAYS.map((d) => (
                <option key={d} value={d}>
                  {t(`rules.day.${d}`)}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t("rules.slot_start")}>
            <input type="time" required value={start} onInput={(e) => set(index, [day, valueOf(e), end])} />
          </Field>
          <Field label={t("rules.slot_end")}>
            <input
              type="time"
              required
              value={shownEnd(end)}
              onInput={(e) => set(index, [day, start, savedEnd(valueOf(e))])}
            />
          </Field>
          <button type="button" class="link" onClick={() => props.onChange(spans.filter((_, i) => i !== index))}>
            {t("rules.slot_remove", { n: index + 1 })}
          </button>
        </fieldset>
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

function TimeZoneSelect(props: { value: string; onChange: (zone: string) => void }) {
  const zones = Intl.supportedValuesOf("timeZone");
  const all = zones.includes(props.value) ? zones : [props.value, ...zones];
  return (
    <select value={props.value} onChange={(e) => props.onChange(valueOf(e))}>
      {all.map((zone) => (
        <option key={zone} value={zone}>
          {zone}
        </option>
      ))}
    </select>
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
      <Field label={t("rules.colleague")}>
        <select
          value={props.value ?? ""}
          onChange={(e) => {
            const chosen = valueOf(e);
            props.onChange(chosen ? Number(chosen) : null);
          }}
        >
          <option value="">{t("rules.redirect_none")}</option>
          {[...choices].map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </select>
      </Field>
    </fieldset>
  );
}

// -- inbox settings --------------------------------------------------------------

type Accepting = "off" | "patients" | "list";

interface Settings {
  accepting: Accepting;
  accept_list: number[];
  reasons: RequestReason[];
  max_open_threads: number;
  max_daily_messages: number;
}

const ACCEPTING: Accepting[] = ["patients", "list", "off"];
const MAX_REASONS = 32;

/** The server omits the fields left at their defaults. */
function settingsOf(sent: Partial<Settings>): Settings {
  return { accepting: "patients", accept_list: [], reasons: [], max_open_threads: 3, max_daily_messages: 20, ...sent };
}

export function InboxSettings() {
  const session = useSession();
  const topic = useTopic(session.store, "inbox");
  const loaded = useLoad(
    () => Promise.all([session.call<Partial<Settings>>("inbox.get", {}).then(settingsOf), loadPatients(session)]),
    [topic],
  );
  return (
    <Page title={t("inboxsettings.title")}>
      {loaded.value ? (
        <InboxForm settings={loaded.value[0]} patients={loaded.value[1]} />
      ) : (
        <Loading error={loaded.error} />
      )}
    </Page>
  );
}

function InboxForm(props: { settings: Settings; patients: PatientSummary[] }) {
  const session = useSession();
  const [settings, setSettings] = useState(props.settings);
  const [saving, run, edited] = useSaving();
  useEffect(() => setSettings(props.settings), [props.settings]);
  const change = (part: Partial<Settings>) => {
    setSettings({ ...settings, ...part });
    edited();
  };
  const save = (event: Event) => {
    event.preventDefault();
    void run(() => session.call("inbox.set", { ...settings, reasons: withCodes(settings.reasons) }));
  };
  return (
    <form onSubmit={save}>
      <fieldset class="card field">
        <legend class="label">{t("inboxsettings.accepting")}</legend>
        {ACCEPTING.map((accepting) => (
          <label key={accepting} class="row">
            <input
              type="radio"
              name="accepting"
                  checked={settings.accepting === accepting}
              onChange={() => change({ accepting })}
            />
            {t(`inboxsettings.accepting.${accepting}`)}
          </label>
        ))}
        {settings.accepting === "list" && (
          <PatientPicker
            legend={t("inboxsettings.accept_list")}
            patients={props.patients}
            chosen={settings.accept_list}
            onChange={(accept_list) => change({ accept_list })}
          />
        )}
      </fieldset>
      <Reasons reasons={settings.reasons} onChange={(reasons) => change({ reasons })} />
      <fieldset class="card field">
        <legend class="label">{t("inboxsettings.limits")}</legend>
        <div class="row">
        <Field label={t("inboxsettings.max_open_threads")}>
          <input
            type="number"
            required
            min={1}
            max={100}
            value={shownNumber(settings.max_open_threads)}
            onInput={(e) => change({ max_open_threads: numberOf(e) })}
          />
        </Field>
        <Field label={t("inboxsettings.max_daily_messages")}>
          <input
            type="number"
            required
            min={1}
            max={100000}
            value={shownNumber(settings.max_daily_messages)}
            onInput={(e) => change({ max_daily_messages: numberOf(e) })}
          />
        </Field>
        </div>
      </fieldset>
      <SaveLine state={saving} label={t("inboxsettings.save")} />
    </form>
  );
}

/** A number input's value while it is being typed: empty, not "NaN". */
const shownNumber = (value: number) => (Number.isFinite(value) ? value : "");

function Reasons(props: { reasons: RequestReason[]; onChange: (reasons: RequestReason[]) => void }) {
  const { reasons } = props;
  const set = (index: number, part: Partial<RequestReason>) =>
    props.onChange(reasons.map((reason, i) => (i === index ? { ...reason, ...part } : reason)));
  return (
    <fieldset class="card field">
      <legend class="label">{t("inboxsettings.reasons")}</legend>
      <p class="hint">{t("inboxsettings.reasons_hint")}</p>
      {reasons.length === 0 && (
        <p class="error" role="status">
          {t("inboxsettings.no_reasons")}
        </p>
      )}
      {reasons.map((reason, index) => (
        <fieldset key={index} class="row bare bottom">
          <legend class="visually-hidden">{t("inboxsettings.reason", { n: index + 1 })}</legend>
          <div class="grow">
            <Field label={t("inboxsettings.reason_label")}>
              <input required maxLength={120} value={reason.label} onInput={(e) => set(index, { label: valueOf(e) })} />
            </Field>
          </div>
          <Field label={t("inboxsettings.reason_hours")}>
            <input
              type="number"
              min={1}
              max={24 * 60}
              value={reason.response_hours ?? ""}
              onInput={(e) => {
                const hours = numberOf(e);
                set(index, { response_hours: Number.isFinite(hours) ? hours : null });
              }}
            />
          </Field>
          <button type="button" class="link" onClick={() => props.onChange(reasons.filter((_, i) => i !== index))}>
            {t("inboxsettings.reason_remove", { n: index + 1 })}
          </button>
        </fieldset>
      ))}
      <div class="row">
        <button
          type="button"
          disabled={reasons.length >= MAX_REASONS}
          onClick={() => props.onChange([...reasons, { code: "", label: "" }])}
        >
          {t("inboxsettings.reason_add")}
        </button>
      </div>
    </fieldset>
  );
}

/** The reasons as the server takes them: a new one gets a code made from its
 * label (kept when it is renamed later, since threads name it); codes are unique. */
function withCodes(reasons: RequestReason[]): RequestReason[] {
  const taken = new Set(reasons.map((r) => r.code).filter(Boolean));
  return reasons.map((reason) => {
    const label = reason.label.trim();
    const hours = reason.response_hours ? { response_hours: reason.response_hours } : {};
    if (reason.code) return { code: reason.code, label, ...hours };
    const code = uniqueCode(codeOf(label), taken);
    taken.add(code);
    return { code, label, ...hours };
  });
}

/** "Certificat médical" -> "certificat_medical" (the wire's `^[a-z0-9_]+$`, 32 at most). */
function codeOf(label: string): string {
  const plain = label
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 28);
  return plain || "reason";
}

function uniqueCode(code: string, taken: Set<string>): string {
  let candidate = code;
  for (let n = 2; taken.has(candidate); n++) candidate = `${code}_${n}`;
  return candidate;
}
