/** The practitioner's agenda settings: their types of visit, opening hours
 * and booking rules (notice, cancelling, reminders). */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { Check, Table, TimeZoneField, withItem } from "../controls.js";
import { SubmitRow, checkedOf, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { savedEnd, shownEnd, weekdayName } from "../local-time.js";
import { Field } from "../ui.js";
import { type AgendaSettings, capitalized, complete } from "./booking-common.js";
import {
  type HoursDraft,
  type ReasonDraft,
  type SettingsDraft,
  draftOf,
  freshKey,
  settingsOf,
} from "./agenda-draft.js";

defineTexts({
  "agenda.reasons_title": ["Types de consultation", "Types of visit"],
  "agenda.no_reasons": [
    "Aucun type de consultation : les patients ne peuvent pas encore réserver.",
    "No type of visit: patients cannot book yet.",
  ],
  "agenda.reason_name": ["Nom", "Name"],
  "agenda.reason_minutes": ["Durée (minutes)", "Length (minutes)"],
  "agenda.reason_new": ["Ouvert aux nouveaux patients", "Open to new patients"],
  "agenda.reason_video": ["Possible en vidéo", "Possible by video"],
  "agenda.remove_reason": ["Retirer {name}", "Remove {name}"],
  "agenda.add_reason": ["Ajouter un type de consultation", "Add a type of visit"],
  "agenda.hours_title": ["Horaires d'ouverture", "Opening hours"],
  "agenda.time_zone": ["Fuseau horaire de l'agenda", "The agenda's time zone"],
  "agenda.closed_day": ["Fermé", "Closed"],
  "agenda.from": ["De", "From"],
  "agenda.to": ["À", "To"],
  "agenda.for_reasons": ["Consultations", "Visits"],
  "agenda.remove_hours": ["Retirer la plage de {start} à {end}", "Remove the hours from {start} to {end}"],
  "agenda.add_hours": ["Ajouter une plage", "Add hours"],
  "agenda.rules_title": ["Règles de réservation", "Booking rules"],
  "agenda.horizon": ["Réservation possible jusqu'à (jours à l'avance)", "Bookable up to (days ahead)"],
  "agenda.min_notice": ["Délai minimum avant un rendez-vous (heures)", "Shortest notice before an appointment (hours)"],
  "agenda.cancel_notice": [
    "Le patient peut annuler ou déplacer jusqu'à (heures avant)",
    "The patient may cancel or move until (hours before)",
  ],
  "agenda.reminders": ["Rappels au patient (heures avant le rendez-vous)", "Reminders to the patient (hours before)"],
  "agenda.reminder": ["Rappel {n}", "Reminder {n}"],
  "agenda.remove_reminder": ["Retirer le rappel {n}", "Remove reminder {n}"],
  "agenda.add_reminder": ["Ajouter un rappel", "Add a reminder"],
  "agenda.save": ["Enregistrer les réglages", "Save the settings"],
  "agenda.saved": ["Réglages enregistrés.", "Settings saved."],
});

const MAX_REMINDERS = 4;
const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];

export function SettingsForm(props: { initial: AgendaSettings; saved: () => void }) {
  const session = useSession();
  const [draft, setDraft] = useState(() => draftOf(props.initial));
  const [problems, setProblems] = useState<string[]>([]);
  const form = useSubmit(async () => {
    const checked = settingsOf(draft);
    setProblems(checked.problems);
    if (checked.problems.length) return;
    const stored = await session.call<Partial<AgendaSettings>>("agenda.set", checked.settings);
    setDraft(draftOf(complete(stored)));
    props.saved();
    return t("agenda.saved");
  });
  const change = (part: Partial<SettingsDraft>) => {
    form.edited();
    setDraft({ ...draft, ...part });
  };
  return (
    <form onSubmit={form.onSubmit}>
      <ReasonsEditor draft={draft} change={change} />
      <HoursEditor draft={draft} change={change} />
      <RulesEditor draft={draft} change={change} />
      {problems.length > 0 && (
        <ul class="error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <SubmitRow form={form} label={t("agenda.save")} />
    </form>
  );
}

interface EditorProps {
  draft: SettingsDraft;
  change: (part: Partial<SettingsDraft>) => void;
}

function ReasonsEditor({ draft, change }: EditorProps) {
  const update = (key: string, part: Partial<ReasonDraft>) =>
    change({ reasons: draft.reasons.map((r) => (r.key === key ? { ...r, ...part } : r)) });
  const remove = (key: string) =>
    change({
      reasons: draft.reasons.filter((r) => r.key !== key),
      hours: draft.hours.map((h) => ({ ...h, reasons: h.reasons.filter((k) => k !== key) })),
    });
  const add = () =>
    change({
      reasons: [
        ...draft.reasons,
        { key: freshKey(), code: "", label: "", minutes: "20", newPatients: true, video: false },
      ],
    });
  const head = [
    t("agenda.reason_name"),
    t("agenda.reason_minutes"),
    t("agenda.reason_new"),
    t("agenda.reason_video"),
    { hidden: t("agenda.actions") },
  ];
  return (
    <section class="card" aria-labelledby="agenda-reasons">
      <h2 id="agenda-reasons">{t("agenda.reasons_title")}</h2>
      {draft.reasons.length === 0 ? (
        <p class="muted">{t("agenda.no_reasons")}</p>
      ) : (
        <Table head={head}>
          {draft.reasons.map((r) => (
            <ReasonRow key={r.key} reason={r} update={(part) => update(r.key, part)} remove={() => remove(r.key)} />
          ))}
        </Table>
      )}
      <p>
        <button type="button" onClick={add}>
          {t("agenda.add_reason")}
        </button>
      </p>
    </section>
  );
}

function ReasonRow(props: { reason: ReasonDraft; update: (part: Partial<ReasonDraft>) => void; remove: () => void }) {
  const { reason: r, update } = props;
  return (
    <tr>
      <td>
        <input
          aria-label={t("agenda.reason_name")}
          maxLength={120}
          value={r.label}
          onInput={(e) => update({ label: valueOf(e) })}
        />
      </td>
      <td>
        <input
          aria-label={t("agenda.reason_minutes")}
          type="number"
          min={5}
          max={480}
          value={r.minutes}
          onInput={(e) => update({ minutes: valueOf(e) })}
        />
      </td>
      <td>
        <input
          aria-label={t("agenda.reason_new")}
          type="checkbox"
          checked={r.newPatients}
          onChange={(e) => update({ newPatients: checkedOf(e) })}
        />
      </td>
      <td>
        <input
          aria-label={t("agenda.reason_video")}
          type="checkbox"
          checked={r.video}
          onChange={(e) => update({ video: checkedOf(e) })}
        />
      </td>
      <td>
        <button type="button" class="link" onClick={props.remove}>
          {t("agenda.remove_reason", { name: r.label || "—" })}
        </button>
      </td>
    </tr>
  );
}

function HoursEditor({ draft, change }: EditorProps) {
  const update = (key: string, part: Partial<HoursDraft>) =>
    change({ hours: draft.hours.map((h) => (h.key === key ? { ...h, ...part } : h)) });
  const remove = (key: string) => change({ hours: draft.hours.filter((h) => h.key !== key) });
  const add = (weekday: number) => {
    // A morning first, then an afternoon: the usual day of a practice, adjusted from there.
    const [start, end] = draft.hours.some((h) => h.weekday === weekday) ? ["14:00", "18:00"] : ["09:00", "12:00"];
    const reasons = draft.reasons.map((r) => r.key);
    change({ hours: [...draft.hours, { key: freshKey(), weekday, start, end, reasons }] });
  };
  const choices = draft.reasons.map((r) => ({ key: r.key, label: r.label }));
  return (
    <section class="card" aria-labelledby="agenda-hours">
      <h2 id="agenda-hours">{t("agenda.hours_title")}</h2>
      <TimeZoneField
        label={t("agenda.time_zone")}
        value={draft.timeZone}
        onChange={(timeZone) => change({ timeZone })}
      />
      {WEEKDAYS.map((weekday) => {
        const rows = draft.hours.filter((h) => h.weekday === weekday);
        return (
          <fieldset key={weekday}>
            <legend>{capitalized(weekdayName(weekday))}</legend>
            {rows.length === 0 && <p class="muted">{t("agenda.closed_day")}</p>}
            {rows.map((h) => (
              <HoursRow
                key={h.key}
                hours={h}
                choices={choices.length > 1 ? choices : []}
                update={(part) => update(h.key, part)}
                remove={() => remove(h.key)}
              />
            ))}
            <button type="button" onClick={() => add(weekday)}>
              {t("agenda.add_hours")}
            </button>
          </fieldset>
        );
      })}
    </section>
  );
}

/** One span of opening hours, and its visit types when there is a choice. */
function HoursRow(props: {
  hours: HoursDraft;
  choices: { key: string; label: string }[];
  update: (part: Partial<HoursDraft>) => void;
  remove: () => void;
}) {
  const { hours: h, update } = props;
  return (
    <div class="row">
      <Field label={t("agenda.from")}>
        <input type="time" required value={h.start} onInput={(e) => update({ start: valueOf(e) })} />
      </Field>
      <Field label={t("agenda.to")}>
        <input type="time" required value={shownEnd(h.end)} onInput={(e) => update({ end: savedEnd(valueOf(e)) })} />
      </Field>
      {props.choices.length > 0 && (
        <fieldset>
          <legend>{t("agenda.for_reasons")}</legend>
          <ReasonChecks reasons={props.choices} chosen={h.reasons} change={(reasons) => update({ reasons })} />
        </fieldset>
      )}
      <button type="button" class="link" onClick={props.remove}>
        {t("agenda.remove_hours", { start: h.start, end: h.end })}
      </button>
    </div>
  );
}

/** Visit types to tick, side by side (a new one not yet named shows as "—"). */
export function ReasonChecks(props: {
  reasons: { key: string; label: string }[];
  chosen: string[];
  change: (chosen: string[]) => void;
}) {
  return (
    <span class="row">
      {props.reasons.map((reason) => (
        <Check
          key={reason.key}
          checked={props.chosen.includes(reason.key)}
          onChange={(on) => props.change(withItem(props.chosen, reason.key, on))}
        >
          {reason.label || "—"}
        </Check>
      ))}
    </span>
  );
}

function RulesEditor({ draft, change }: EditorProps) {
  return (
    <section class="card" aria-labelledby="agenda-rules">
      <h2 id="agenda-rules">{t("agenda.rules_title")}</h2>
      <NumberField
        label={t("agenda.horizon")}
        value={draft.horizonDays}
        set={(v) => change({ horizonDays: v })}
        min={1}
        max={365}
      />
      <NumberField
        label={t("agenda.min_notice")}
        value={draft.noticeHours}
        set={(v) => change({ noticeHours: v })}
        min={0}
        max={720}
        step={0.25}
      />
      <NumberField
        label={t("agenda.cancel_notice")}
        value={draft.cancelHours}
        set={(v) => change({ cancelHours: v })}
        min={0}
        max={336}
      />
      <Reminders reminders={draft.reminders} set={(reminders) => change({ reminders })} />
    </section>
  );
}

/** Hours before the appointment, a few at most. */
function Reminders(props: { reminders: string[]; set: (reminders: string[]) => void }) {
  const { reminders } = props;
  const setReminder = (index: number, value: string) => props.set(reminders.map((r, i) => (i === index ? value : r)));
  return (
    <fieldset>
      <legend>{t("agenda.reminders")}</legend>
      {reminders.map((hours, index) => (
        <div key={index} class="row">
          <span class="grow">
            <input
              type="number"
              required
              min={0.25}
              max={336}
              step={0.25}
              aria-label={t("agenda.reminder", { n: index + 1 })}
              value={hours}
              onInput={(e) => setReminder(index, valueOf(e))}
            />
          </span>
          <button type="button" class="link" onClick={() => props.set(reminders.filter((_, i) => i !== index))}>
            {t("agenda.remove_reminder", { n: index + 1 })}
          </button>
        </div>
      ))}
      <button
        type="button"
        disabled={reminders.length >= MAX_REMINDERS}
        onClick={() => props.set([...reminders, "1"])}
      >
        {t("agenda.add_reminder")}
      </button>
    </fieldset>
  );
}

function NumberField(props: {
  label: string;
  value: string;
  set: (value: string) => void;
  min: number;
  max: number;
  step?: number;
}) {
  return (
    <Field label={props.label}>
      <input
        type="number"
        required
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={props.value}
        onInput={(e) => props.set(valueOf(e))}
      />
    </Field>
  );
}
