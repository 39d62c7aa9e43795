/** A practitioner's patients: the list, inviting one by account number,
 * and one message to several of them (each in a conversation of their own). */
import { useState } from "preact/hooks";
import type { BroadcastResult } from "../../../src/index.js";
import { useSession } from "../context.js";
import { Check, Table, withItem } from "../controls.js";
import { FormOutcome, SubmitRow, unlessNotFound, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatDateTime, t, tn } from "../i18n.js";
import { nameOrNumber } from "../names.js";
import { useTopic } from "../store.js";
import { Field, Loading, Page, Problem, useLoad } from "../ui.js";

defineTexts({
  "practice.account_number": ["Numéro de compte", "Account number"],
  "patients.title": ["Mes patients", "My patients"],
  "patients.none": [
    "Aucun patient pour l'instant : ajoutez-en un ci-dessous, ou attendez un premier rendez-vous.",
    "No patients yet: add one below, or wait for a first appointment.",
  ],
  "patients.name": ["Nom", "Name"],
  "patients.since": ["Depuis", "Since"],
  "patients.source": ["Origine", "Source"],
  "patients.source.added": ["Ajouté par vous", "Added by you"],
  "patients.source.appointment": ["Rendez-vous", "Appointment"],
  "patients.waiting": [
    "En attente de leur réponse : {numbers}",
    "Waiting for their answer: {numbers}",
  ],
  "patients.add_title": ["Ajouter un patient", "Add a patient"],
  "patients.find_title": ["Retrouver un patient", "Find a patient"],
  "patients.find_name": ["Nom", "Name"],
  "patients.find_born": ["Date de naissance", "Date of birth"],
  "patients.find": ["Rechercher", "Search"],
  "patients.found": ["Patients trouvés", "Patients found"],
  "patients.found_none": [
    "Aucun de vos patients ne porte ce nom avec cette date de naissance.",
    "None of your patients has this name and date of birth.",
  ],
  "patients.add_number": ["Numéro de compte du patient", "The patient's account number"],
  "patients.add_hint": [
    "Pour l'instant, un patient s'ajoute par son numéro de compte carehub, qu'il vous communique ; la recherche par nom viendra plus tard. Il devient votre patient quand il accepte.",
    "For now, you add a patient by their carehub account number, which they give you; finding them by name comes later. They become your patient once they accept.",
  ],
  "patients.add": ["Inviter ce patient", "Invite this patient"],
  "patients.not_a_number": ["Saisissez un numéro de compte (des chiffres).", "Enter an account number (digits)."],
  "patients.no_such_patient": ["Aucun patient n'a ce numéro de compte.", "No patient has this account number."],
  "patients.invited": [
    "Invitation envoyée : le patient n° {id} deviendra votre patient quand il l'aura acceptée.",
    "Invitation sent: patient no. {id} becomes your patient once they accept it.",
  ],
  "patients.already": ["Le patient n° {id} est déjà votre patient.", "Patient no. {id} already is your patient."],
  "patients.broadcast_title": ["Message à plusieurs patients", "Message to several patients"],
  "patients.broadcast_help": [
    "Chaque patient le reçoit dans une conversation à part, chiffré pour lui seul, sans pouvoir y répondre. Ceux qui ont refusé vos messages groupés ne le reçoivent pas.",
    "Each patient gets it in a conversation of their own, encrypted for them alone, without being able to reply. Those who turned down your group messages do not get it.",
  ],
  "patients.recipients": ["Destinataires", "Recipients"],
  "patients.select_all": ["Tout sélectionner", "Select all"],
  "patients.reason": ["Motif (facultatif)", "Reason (optional)"],
  "patients.reason_hint": [
    "Un code court pour retrouver la campagne, par exemple flu_vaccine : lettres minuscules, chiffres et « _ ».",
    "A short code to find the campaign again, for example flu_vaccine: lowercase letters, digits and “_”.",
  ],
  "patients.bad_reason": [
    "Le motif ne peut contenir que des lettres minuscules sans accent, des chiffres et « _ ».",
    "The reason may hold only lowercase letters without accents, digits and “_”.",
  ],
  "patients.text": ["Message", "Message"],
  "patients.send_none": ["Envoyer", "Send"],
  "patients.send.one": ["Envoyer à {count} patient", "Send to {count} patient"],
  "patients.send.other": ["Envoyer à {count} patients", "Send to {count} patients"],
  "patients.reached.one": ["Message envoyé à {count} patient.", "Message sent to {count} patient."],
  "patients.reached.other": ["Message envoyé à {count} patients.", "Message sent to {count} patients."],
  "patients.skipped": ["Non envoyé à :", "Not sent to:"],
  "patients.skip.opted_out": [
    "{name} ne souhaite pas recevoir vos messages groupés",
    "{name} does not want your group messages",
  ],
  "patients.skip.not_a_patient": ["{name} n'est pas (ou plus) votre patient", "{name} is not (or no longer) your patient"],
  "patients.skip.other": ["{name} : non envoyé", "{name}: not sent"],
});

/** docs/protocol.schema.json `patients.list`. */
interface PatientInfo {
  user: number;
  name: string;
  source: string;
  since: number;
}

interface PatientsList {
  patients: PatientInfo[];
  invited: number[];
}

const REASON_CODE = /^[a-z0-9_]{1,32}$/;

/** An account number typed by a person; our sentence if it is not one. */
export function accountNumber(text: string): number {
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value <= 0) throw new Problem(t("patients.not_a_number"));
  return value;
}

export function Patients() {
  const session = useSession();
  const version = useTopic(session.store, "patients");
  const list = useLoad(() => session.call<PatientsList>("patients.list", {}), [version]);
  return (
    <Page title={t("patients.title")}>
      {list.value ? (
        <>
          <FindPatient />
          <PatientTable list={list.value} />
          <AddPatient added={list.reload} />
          {list.value.patients.length > 0 && <Broadcast patients={list.value.patients} />}
        </>
      ) : (
        <Loading error={list.error} />
      )}
    </Page>
  );
}

function PatientTable({ list }: { list: PatientsList }) {
  const waiting = list.invited.map((id) => t("practice.number", { id })).join(", ");
  const head = [t("patients.name"), t("practice.account_number"), t("patients.source"), t("patients.since")];
  return (
    <section class="card" aria-labelledby="patients-list">
      <h2 id="patients-list" class="visually-hidden">
        {t("patients.title")}
      </h2>
      {list.patients.length === 0 ? (
        <p>{t("patients.none")}</p>
      ) : (
        <Table head={head}>
          {list.patients.map((patient) => (
            <tr key={patient.user}>
              <td>{patient.name}</td>
              <td>{patient.user}</td>
              <td>{t(`patients.source.${patient.source}`)}</td>
              <td>{formatDateTime(patient.since)}</td>
            </tr>
          ))}
        </Table>
      )}
      {list.invited.length > 0 && <p class="muted">{t("patients.waiting", { numbers: waiting })}</p>}
    </section>
  );
}

/** Which of two namesakes: by name and date of birth, among one's own patients only. */
function FindPatient() {
  const session = useSession();
  const [fields, setFields] = useState({ name: "", born: "" });
  const [found, setFound] = useState<PatientInfo[]>();
  const form = useSubmit(async () => {
    const answer = await session.call<{ patients: PatientInfo[] }>("patients.find", {
      name: fields.name.trim(),
      birth_date: fields.born,
    });
    setFound(answer.patients);
  });
  const edit = (change: Partial<typeof fields>) => {
    setFields({ ...fields, ...change });
    setFound(undefined);
    form.edited();
  };
  return (
    <section class="card" aria-labelledby="patients-find">
      <h2 id="patients-find">{t("patients.find_title")}</h2>
      <form onSubmit={form.onSubmit} class="row">
        <Field label={t("patients.find_name")}>
          <input name="find-name" required minLength={2} value={fields.name} onInput={(e) => edit({ name: valueOf(e) })} />
        </Field>
        <Field label={t("patients.find_born")}>
          <input name="find-born" type="date" required value={fields.born} onInput={(e) => edit({ born: valueOf(e) })} />
        </Field>
        <SubmitRow form={form} label={t("patients.find")} />
      </form>
      {found && (
        <ul aria-label={t("patients.found")}>
          {found.length === 0 && <li>{t("patients.found_none")}</li>}
          {found.map((patient) => (
            <li key={patient.user}>
              {patient.name} — {t("practice.number", { id: patient.user })}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function AddPatient({ added }: { added: () => void }) {
  const session = useSession();
  const [number, setNumber] = useState("");
  const form = useSubmit(async () => {
    const user = accountNumber(number);
    const call = session.call<{ status: string }>("patients.add", { user });
    const result = await unlessNotFound(call, t("patients.no_such_patient"));
    setNumber("");
    added();
    return t(result.status === "patient" ? "patients.already" : "patients.invited", { id: user });
  });
  return (
    <form class="card" aria-labelledby="patients-add" onSubmit={form.onSubmit}>
      <h2 id="patients-add">{t("patients.add_title")}</h2>
      <Field label={t("patients.add_number")} hint={t("patients.add_hint")}>
        <input inputMode="numeric" autoComplete="off" required value={number} onInput={(e) => setNumber(valueOf(e))} />
      </Field>
      <FormOutcome form={form} />
      <button class="primary" type="submit" disabled={form.busy}>
        {t("patients.add")}
      </button>
    </form>
  );
}

function Broadcast({ patients }: { patients: PatientInfo[] }) {
  const session = useSession();
  const [chosen, setChosen] = useState<number[]>([]);
  const [reason, setReason] = useState("");
  const [text, setText] = useState("");
  const [outcome, setOutcome] = useState<BroadcastResult>();
  const form = useSubmit(async () => {
    setOutcome(undefined);
    const code = reason.trim();
    if (code && !REASON_CODE.test(code)) throw new Problem(t("patients.bad_reason"));
    const result = await session.secure.broadcast(chosen, text, code ? { reason: code } : {});
    session.saveKeys();
    setOutcome(result);
    setText("");
    setChosen([]);
  });
  return (
    <form class="card" aria-labelledby="patients-broadcast" onSubmit={form.onSubmit}>
      <h2 id="patients-broadcast">{t("patients.broadcast_title")}</h2>
      <p class="muted">{t("patients.broadcast_help")}</p>
      <Recipients patients={patients} chosen={chosen} choose={setChosen} />
      <Field label={t("patients.reason")} hint={t("patients.reason_hint")}>
        <input value={reason} maxLength={32} onInput={(e) => setReason(valueOf(e))} />
      </Field>
      <Field label={t("patients.text")}>
        <textarea rows={4} required maxLength={4000} value={text} onInput={(e) => setText(valueOf(e))} />
      </Field>
      <FormOutcome form={form} />
      {outcome && <BroadcastOutcome result={outcome} patients={patients} />}
      <button class="primary" type="submit" disabled={form.busy || chosen.length === 0}>
        {chosen.length === 0 ? t("patients.send_none") : tn("patients.send", chosen.length)}
      </button>
    </form>
  );
}

function Recipients(props: { patients: PatientInfo[]; chosen: number[]; choose: (chosen: number[]) => void }) {
  const { patients, chosen, choose } = props;
  const all = patients.every((patient) => chosen.includes(patient.user));
  return (
    <fieldset>
      <legend>{t("patients.recipients")}</legend>
      <Check checked={all} onChange={(on) => choose(on ? patients.map((patient) => patient.user) : [])}>
        <strong>{t("patients.select_all")}</strong>
      </Check>
      {patients.map((patient) => (
        <Check
          key={patient.user}
          checked={chosen.includes(patient.user)}
          onChange={(on) => choose(withItem(chosen, patient.user, on))}
        >
          {patient.name}
        </Check>
      ))}
    </fieldset>
  );
}

function BroadcastOutcome({ result, patients }: { result: BroadcastResult; patients: PatientInfo[] }) {
  const names = new Map(patients.map((patient) => [patient.user, patient.name]));
  const why = (reason: string, name: string) => {
    const key = `patients.skip.${reason}`;
    const text = t(key, { name });
    return text === key ? t("patients.skip.other", { name }) : text;
  };
  return (
    <div role="status">
      <p class="ok">{tn("patients.reached", result.threads.length)}</p>
      {result.skipped.length > 0 && (
        <>
          <p>{t("patients.skipped")}</p>
          <ul>
            {result.skipped.map((skip) => (
              <li key={skip.patient}>{why(skip.reason, nameOrNumber(names, skip.patient))}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
