/** The practitioner's patients, and choosing some of them by ticking them
 * (those a rule leaves out, those the inbox accepts). */
import { useState } from "preact/hooks";
import { Check, withItem } from "../controls.js";
import { valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import type { Session } from "../session.js";
import { Field } from "../ui.js";

defineTexts({
  "rules.patient_number": ["Patient n° {id}", "Patient no. {id}"],
  "inboxsettings.no_patients": ["Vous n'avez pas encore de patient.", "You have no patients yet."],
  "inboxsettings.filter": ["Filtrer par nom", "Filter by name"],
});

export interface PatientSummary {
  user: number;
  name: string;
}

/** Past this many, a filter by name helps. */
const FILTER_FROM = 8;

export async function loadPatients(session: Session): Promise<PatientSummary[]> {
  const { patients } = await session.call<{ patients: PatientSummary[] }>("patients.list", {});
  return patients;
}

/** A patient's name, or "Patient no. 42" for one no longer on the list. */
export function patientName(patients: PatientSummary[], user: number): string {
  return patients.find((p) => p.user === user)?.name ?? t("rules.patient_number", { id: user });
}

/** Patients chosen by ticking them; those already chosen stay listed even
 * when no longer on the patient list, so nothing is dropped unseen. */
export function PatientPicker(props: {
  legend: string;
  hint?: string;
  patients: PatientSummary[];
  chosen: number[];
  onChange: (chosen: number[]) => void;
}) {
  const [filter, setFilter] = useState("");
  const known = new Set(props.patients.map((p) => p.user));
  const gone = props.chosen.filter((id) => !known.has(id));
  const everyone = [...props.patients, ...gone.map((id) => ({ user: id, name: patientName(props.patients, id) }))];
  const wanted = filter.trim().toLocaleLowerCase();
  const matches = (p: PatientSummary) => !wanted || p.name.toLocaleLowerCase().includes(wanted);
  const shown = everyone.filter((p) => matches(p) || props.chosen.includes(p.user));
  return (
    <fieldset class="field">
      <legend class="label">{props.legend}</legend>
      {props.hint && <p class="hint">{props.hint}</p>}
      {everyone.length === 0 ? (
        <p class="muted">{t("inboxsettings.no_patients")}</p>
      ) : (
        <>
          {everyone.length > FILTER_FROM && (
            <Field label={t("inboxsettings.filter")}>
              <input type="search" value={filter} onInput={(e) => setFilter(valueOf(e))} />
            </Field>
          )}
          {shown.map((patient) => (
            <Check
              key={patient.user}
              checked={props.chosen.includes(patient.user)}
              onChange={(on) => props.onChange(withItem(props.chosen, patient.user, on))}
            >
              {patient.name}
            </Check>
          ))}
        </>
      )}
    </fieldset>
  );
}
