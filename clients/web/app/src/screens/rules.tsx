/** Away and automatic-reply rules, in the order they apply: the first
 * active one that concerns a patient wins. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { ConfirmAction } from "../controls.js";
import { defineTexts, formatDateTime, t, timeZone } from "../i18n.js";
import { fetchNames } from "../names.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, Loading, Page, useLoad } from "../ui.js";
import { dayName } from "../weekly-spans.js";
import { type PracticeInfo, colleagueName } from "./colleagues.js";
import { loadPatients, patientName } from "./patient-picker.js";
import { ACTIONS, RuleEditor, type RuleRecord, type RulesData } from "./rule-editor.js";

defineTexts({
  "rules.title": ["Absences et réponses automatiques", "Away and automatic replies"],
  "rules.new": ["Nouvelle règle", "New rule"],
  "rules.intro": [
    "Les règles s'appliquent dans l'ordre de la liste : la première active qui concerne le patient l'emporte.",
    "Rules apply in the order of the list: the first active one that concerns the patient wins.",
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
  "rules.up": ["Monter {name}", "Move {name} up"],
  "rules.down": ["Descendre {name}", "Move {name} down"],
  "rules.enable": ["Activer {name}", "Turn {name} on"],
  "rules.disable": ["Désactiver {name}", "Turn {name} off"],
  "rules.edit": ["Modifier {name}", "Edit {name}"],
  "rules.delete": ["Supprimer {name}", "Delete {name}"],
  "rules.confirm_delete": ["Supprimer la règle « {name} » ?", "Delete the rule “{name}”?"],
});

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
    window.scrollTo({ top: 0 }); // the editor opens above the list
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
    session.call<{ practices: PracticeInfo[] }>("practices.list", {}),
  ]);
  const colleagues = new Map<number, string>();
  for (const practice of practices) {
    for (const m of practice.members) {
      if (m.role === "practitioner" && m.user !== session.me) colleagues.set(m.user, m.name);
    }
  }
  const full = rules.map(ruleOf);
  const redirects = full.flatMap((r) => (r.redirect_to ? [r.redirect_to] : []));
  const named = await fetchNames(session, redirects.filter((id) => !colleagues.has(id)));
  return { rules: full, patients, colleagues: new Map([...colleagues, ...named]) };
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
    const name = dayName(day);
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
  const { rules, patients, colleagues } = props.data;
  const rule = rules[props.index] as RuleRecord;
  const exempted = rule.exempt.map((id) => patientName(patients, id));
  return (
    <li class="card">
      <div class="row">
        <h3 class="grow subhead">{rule.name}</h3>
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
      <p class="prose">{rule.text}</p>
      <RuleActions rules={rules} index={props.index} edit={props.edit} changed={props.changed} />
    </li>
  );
}

function RuleActions(props: {
  rules: RuleRecord[];
  index: number;
  edit: (rule: RuleRecord) => void;
  changed: () => void;
}) {
  const session = useSession();
  const { rules, index } = props;
  const rule = rules[index] as RuleRecord;
  const toggle = async () => {
    await session.call("rules.update", { ...rule, enabled: !rule.enabled });
    props.changed();
  };
  const move = async (by: number) => {
    await reorder(session, rules, index, index + by);
    props.changed();
  };
  return (
    <div class="row">
      <button type="button" onClick={() => props.edit(rule)}>
        {t("rules.edit", { name: rule.name })}
      </button>
      <Action label={t(rule.enabled ? "rules.disable" : "rules.enable", { name: rule.name })} action={toggle} />
      {index > 0 && <Action label={t("rules.up", { name: rule.name })} action={() => move(-1)} />}
      {index < rules.length - 1 && <Action label={t("rules.down", { name: rule.name })} action={() => move(1)} />}
      <ConfirmAction
        label={t("rules.delete", { name: rule.name })}
        question={t("rules.confirm_delete", { name: rule.name })}
        confirm={t("common.delete")}
        action={async () => {
          await session.call("rules.delete", { rule: rule.id });
          props.changed();
        }}
      />
    </div>
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
