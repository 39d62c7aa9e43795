/** The practice side: a practitioner's patients (adding one, a campaign to
 * several), the practices and the care team (colleagues, care-team groups,
 * delegates), and a conversation's audit trail. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type BroadcastResult, CallError, Scope } from "../../../src/index.js";
import type { Member, Role, ThreadKind, UserProfile } from "../api.js";
import { go, useSession } from "../context.js";
import { currentLanguage, defineTexts, formatDateTime, t, tn } from "../i18n.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";
import { reasonLabel, threadTitle } from "./inbox.js";

defineTexts({
  "practice.confirm": ["Confirmer : {action}", "Confirm: {action}"],
  "practice.account_number": ["Numéro de compte", "Account number"],
  "practice.number": ["n° {id}", "no. {id}"],
  "practice.until": ["jusqu'au {date}", "until {date}"],
  "practice.no_end": ["sans date de fin", "no end date"],
  "practice.expired": ["expirée le {date}", "expired on {date}"],
  "practice.role.practitioner": ["Praticien", "Practitioner"],
  "practice.role.assistant": ["Assistant(e)", "Assistant"],
  "practice.role.bot": ["Robot", "Bot"],
  "practice.role.patient": ["Patient", "Patient"],
  "practice.role.admin": ["Administrateur", "Administrator"],
  "practice.scope.read": ["Lire", "Read"],
  "practice.scope.read.help": [
    "Lire vos conversations avec les patients, leurs documents et leur journal, à partir de maintenant.",
    "Read your conversations with patients, their documents and their audit trail, from now on.",
  ],
  "practice.scope.reply": ["Répondre", "Reply"],
  "practice.scope.reply.help": [
    "Répondre à votre place, toujours signé « pour vous » ; clore et rouvrir les conversations. Nécessite la lecture.",
    "Answer in your place, always signed “for you”; close and reopen conversations. Needs reading.",
  ],
  "practice.scope.templates": ["Modèles", "Templates"],
  "practice.scope.templates.help": [
    "Créer, modifier et supprimer vos modèles de réponse.",
    "Create, change and delete your answer templates.",
  ],
  "practice.scope.agenda": ["Agenda", "Agenda"],
  "practice.scope.agenda.help": ["Gérer votre agenda et vos rendez-vous.", "Manage your agenda and appointments."],
});

// -- the wire's shapes (docs/protocol.schema.json) ------------------------------

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

interface PracticeInfo {
  id: number;
  name: string;
  created_by: number;
  members: Member[];
  invited: Member[];
}

interface PracticeInvitation {
  practice: number;
  name: string;
  invited_by: Member;
  at: number;
}

interface PracticesList {
  practices: PracticeInfo[];
  invitations: PracticeInvitation[];
}

interface Delegation {
  principal: number;
  delegate: number;
  scope: Scope[];
  expires?: number | null;
}

interface DelegationsList {
  given: Delegation[];
  received: Delegation[];
}

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

// -- shared pieces ---------------------------------------------------------------

/** A button for what cannot be undone: a second click confirms it. */
function ConfirmAction(props: { label: string; action: () => Promise<unknown> }) {
  const [asked, setAsked] = useState(false);
  if (!asked) {
    return (
      <button type="button" class="danger" onClick={() => setAsked(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="action">
      <Action kind="danger" label={t("practice.confirm", { action: props.label })} action={props.action} />
      <button type="button" onClick={() => setAsked(false)}>
        {t("common.cancel")}
      </button>
    </span>
  );
}

/** A checkbox with its label beside it (and an explanation under it). */
function Check(props: { checked: boolean; onChange: (checked: boolean) => void; children: ComponentChildren }) {
  return (
    <label class="row">
      <input
        type="checkbox"
        checked={props.checked}
        onChange={(event) => props.onChange((event.target as HTMLInputElement).checked)}
      />
      <span class="grow">{props.children}</span>
    </label>
  );
}

/** A form that submits through `submit`, shows it is busy, and reports how it went. */
function useSubmit(submit: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await submit();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, onSubmit };
}

/** An account number typed by a person, or undefined if it is not one. */
function accountNumber(text: string): number | undefined {
  const value = Number(text.trim());
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

function roleLabel(role: Role): string {
  return t(`practice.role.${role}`);
}

function expiryText(expires: number | null | undefined, now = Date.now()): string {
  if (!expires) return t("practice.no_end");
  const date = formatDateTime(expires);
  return expires <= now ? t("practice.expired", { date }) : t("practice.until", { date });
}

function scopesText(scopes: Iterable<string>): string {
  return [...scopes].map((scope) => t(`practice.scope.${scope}`)).join(", ");
}

// -- Patients ------------------------------------------------------------------------

defineTexts({
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

const REASON_CODE = /^[a-z0-9_]{1,32}$/;

export function Patients() {
  const session = useSession();
  const version = useTopic(session.store, "patients");
  const list = useLoad(() => session.call<PatientsList>("patients.list", {}), [version]);
  return (
    <Page title={t("patients.title")}>
      {list.value ? (
        <>
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
  return (
    <section class="card" aria-labelledby="patients-list">
      <h2 id="patients-list" class="visually-hidden">
        {t("patients.title")}
      </h2>
      {list.patients.length === 0 ? (
        <p>{t("patients.none")}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("patients.name")}</th>
              <th scope="col">{t("practice.account_number")}</th>
              <th scope="col">{t("patients.source")}</th>
              <th scope="col">{t("patients.since")}</th>
            </tr>
          </thead>
          <tbody>
            {list.patients.map((patient) => (
              <tr key={patient.user}>
                <td>{patient.name}</td>
                <td>{patient.user}</td>
                <td>{t(`patients.source.${patient.source}`)}</td>
                <td>{formatDateTime(patient.since)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.invited.length > 0 && <p class="muted">{t("patients.waiting", { numbers: waiting })}</p>}
    </section>
  );
}

function AddPatient({ added }: { added: () => void }) {
  const session = useSession();
  const [number, setNumber] = useState("");
  const [outcome, setOutcome] = useState<string>();
  const form = useSubmit(async () => {
    setOutcome(undefined);
    const user = accountNumber(number);
    if (user === undefined) throw new Error(t("patients.not_a_number"));
    try {
      const result = await session.call<{ status: string }>("patients.add", { user });
      setOutcome(t(result.status === "patient" ? "patients.already" : "patients.invited", { id: user }));
      setNumber("");
      added();
    } catch (failure) {
      if (failure instanceof CallError && failure.code === "not_found") throw new Error(t("patients.no_such_patient"));
      throw failure;
    }
  });
  return (
    <form class="card" aria-labelledby="patients-add" onSubmit={form.onSubmit}>
      <h2 id="patients-add">{t("patients.add_title")}</h2>
      <Field label={t("patients.add_number")} hint={t("patients.add_hint")}>
        <input
          inputMode="numeric"
          autoComplete="off"
          required
          value={number}
          onInput={(event) => setNumber((event.target as HTMLInputElement).value)}
        />
      </Field>
      <FormOutcome error={form.error} done={outcome} />
      <button class="primary" type="submit" disabled={form.busy}>
        {t("patients.add")}
      </button>
    </form>
  );
}

/** A failure (the server's refusal, or a sentence of ours), or what was done. */
function FormOutcome({ error, done }: { error: unknown; done?: string | undefined }) {
  if (error instanceof Error && !(error instanceof CallError)) {
    return (
      <p class="error" role="alert">
        {error.message}
      </p>
    );
  }
  if (error) return <ErrorLine error={error} />;
  return done ? (
    <p class="ok" role="status">
      {done}
    </p>
  ) : null;
}

function Broadcast({ patients }: { patients: PatientInfo[] }) {
  const session = useSession();
  const [chosen, setChosen] = useState<ReadonlySet<number>>(new Set());
  const [reason, setReason] = useState("");
  const [text, setText] = useState("");
  const [outcome, setOutcome] = useState<BroadcastResult>();
  const allChosen = patients.every((patient) => chosen.has(patient.user));
  const choose = (user: number, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(user);
    else next.delete(user);
    setChosen(next);
  };
  const form = useSubmit(async () => {
    setOutcome(undefined);
    const code = reason.trim();
    if (code && !REASON_CODE.test(code)) throw new Error(t("patients.bad_reason"));
    const result = await session.secure.broadcast([...chosen], text, code ? { reason: code } : {});
    session.saveKeys();
    setOutcome(result);
    setText("");
    setChosen(new Set());
  });
  return (
    <form class="card" aria-labelledby="patients-broadcast" onSubmit={form.onSubmit}>
      <h2 id="patients-broadcast">{t("patients.broadcast_title")}</h2>
      <p class="muted">{t("patients.broadcast_help")}</p>
      <fieldset>
        <legend>{t("patients.recipients")}</legend>
        <Check
          checked={allChosen}
          onChange={(on) => setChosen(new Set(on ? patients.map((patient) => patient.user) : []))}
        >
          <strong>{t("patients.select_all")}</strong>
        </Check>
        {patients.map((patient) => (
          <Check key={patient.user} checked={chosen.has(patient.user)} onChange={(on) => choose(patient.user, on)}>
            {patient.name}
          </Check>
        ))}
      </fieldset>
      <Field label={t("patients.reason")} hint={t("patients.reason_hint")}>
        <input value={reason} maxLength={32} onInput={(event) => setReason((event.target as HTMLInputElement).value)} />
      </Field>
      <Field label={t("patients.text")}>
        <textarea
          rows={4}
          required
          maxLength={4000}
          value={text}
          onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
        />
      </Field>
      <FormOutcome error={form.error} />
      {outcome && <BroadcastOutcome result={outcome} patients={patients} />}
      <button class="primary" type="submit" disabled={form.busy || chosen.size === 0}>
        {chosen.size === 0 ? t("patients.send_none") : tn("patients.send", chosen.size)}
      </button>
    </form>
  );
}

function BroadcastOutcome({ result, patients }: { result: BroadcastResult; patients: PatientInfo[] }) {
  const nameOf = (user: number) =>
    patients.find((patient) => patient.user === user)?.name ?? t("practice.number", { id: user });
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
              <li key={skip.patient}>{why(skip.reason, nameOf(skip.patient))}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

// -- Team -------------------------------------------------------------------------------

defineTexts({
  "team.title": ["Cabinet et équipe", "Practice and team"],
  "team.my_number": [
    "Votre numéro de compte : {id}. Donnez-le à un collègue pour qu'il vous invite dans son cabinet.",
    "Your account number: {id}. Give it to a colleague so they can invite you to their practice.",
  ],
  "team.invitations": ["Invitations reçues", "Invitations received"],
  "team.invited_by": ["{name} vous invite à rejoindre « {practice} »", "{name} invites you to join “{practice}”"],
  "team.accept": ["Rejoindre", "Join"],
  "team.decline": ["Refuser", "Decline"],
  "team.practices": ["Mes cabinets", "My practices"],
  "team.no_practice": ["Vous ne faites partie d'aucun cabinet.", "You are not in any practice."],
  "team.members": ["Membres", "Members"],
  "team.you": ["vous", "you"],
  "team.invited": ["Invités, en attente de réponse", "Invited, waiting for an answer"],
  "team.remove": ["Retirer {name}", "Remove {name}"],
  "team.withdraw": ["Annuler l'invitation de {name}", "Withdraw {name}'s invitation"],
  "team.leave": ["Quitter « {practice} »", "Leave “{practice}”"],
  "team.invite_number": ["Numéro de compte du collègue à inviter", "Account number of the colleague to invite"],
  "team.invite_hint": [
    "Un praticien, un(e) assistant(e) ou un robot ; il rejoint le cabinet quand il accepte.",
    "A practitioner, an assistant or a bot; they join the practice once they accept.",
  ],
  "team.invite": ["Inviter", "Invite"],
  "team.invite_sent": ["Invitation envoyée.", "Invitation sent."],
  "team.no_such_user": ["Aucun compte n'a ce numéro.", "No account has this number."],
  "team.create_title": ["Créer un cabinet", "Create a practice"],
  "team.create_name": ["Nom du cabinet", "Name of the practice"],
  "team.create": ["Créer", "Create"],
  "team.created": ["Cabinet créé.", "Practice created."],
  "team.group_title": ["Conversation d'équipe", "Care-team conversation"],
  "team.group_help": [
    "Une conversation chiffrée avec les collègues que vous choisissez dans vos cabinets.",
    "An encrypted conversation with the colleagues you choose from your practices.",
  ],
  "team.group_with": ["Avec", "With"],
  "team.group_nobody": [
    "Invitez d'abord des collègues dans un cabinet.",
    "Invite colleagues to a practice first.",
  ],
  "team.group_open": ["Ouvrir la conversation", "Open the conversation"],
  "team.in_practice": ["{role}, {practice}", "{role}, {practice}"],
});

export function Team() {
  const session = useSession();
  const version = useTopic(session.store, "practices");
  const list = useLoad(() => session.call<PracticesList>("practices.list", {}), [version]);
  const practitioner = session.role === "practitioner";
  return (
    <Page title={t("team.title")}>
      <p class="muted">{t("team.my_number", { id: session.me })}</p>
      {list.value ? (
        <>
          <Invitations invitations={list.value.invitations} answered={list.reload} />
          <Practices practices={list.value.practices} changed={list.reload} />
          {practitioner && <CreatePractice created={list.reload} />}
          <CareGroup practices={list.value.practices} />
          {practitioner ? <Delegates practices={list.value.practices} /> : <WorkingFor />}
        </>
      ) : (
        <Loading error={list.error} />
      )}
    </Page>
  );
}

function Invitations({ invitations, answered }: { invitations: PracticeInvitation[]; answered: () => void }) {
  const session = useSession();
  if (invitations.length === 0) return null;
  const answer = (method: string, practice: number) => async () => {
    await session.call(method, { practice });
    answered();
  };
  return (
    <section class="card" aria-labelledby="team-invitations">
      <h2 id="team-invitations">{t("team.invitations")}</h2>
      <ul>
        {invitations.map((invitation) => (
          <li key={invitation.practice} class="row">
            <span class="grow">
              {t("team.invited_by", { name: invitation.invited_by.name, practice: invitation.name })}{" "}
              <span class="muted">· {formatDateTime(invitation.at)}</span>
            </span>
            <Action kind="primary" label={t("team.accept")} action={answer("practices.accept", invitation.practice)} />
            <Action label={t("team.decline")} action={answer("practices.decline", invitation.practice)} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function Practices({ practices, changed }: { practices: PracticeInfo[]; changed: () => void }) {
  return (
    <section aria-labelledby="team-practices">
      <h2 id="team-practices">{t("team.practices")}</h2>
      {practices.length === 0 && <p class="muted">{t("team.no_practice")}</p>}
      {practices.map((practice) => (
        <PracticeCard key={practice.id} practice={practice} changed={changed} />
      ))}
    </section>
  );
}

function PracticeCard({ practice, changed }: { practice: PracticeInfo; changed: () => void }) {
  const session = useSession();
  const manages = session.role === "practitioner";
  const remove = (user: number) => async () => {
    await session.call("practices.remove_member", { practice: practice.id, user });
    changed();
  };
  const headingId = `practice-${practice.id}`;
  return (
    <article class="card" aria-labelledby={headingId}>
      <h3 id={headingId}>{practice.name}</h3>
      <h4>{t("team.members")}</h4>
      <ul>
        {practice.members.map((member) => (
          <li key={member.user} class="row">
            <span class="grow">
              {member.name} <span class="pill">{roleLabel(member.role)}</span>
              {member.user === session.me && <span class="muted"> ({t("team.you")})</span>}
            </span>
            {manages && member.user !== session.me && (
              <ConfirmAction label={t("team.remove", { name: member.name })} action={remove(member.user)} />
            )}
          </li>
        ))}
      </ul>
      {practice.invited.length > 0 && (
        <>
          <h4>{t("team.invited")}</h4>
          <ul>
            {practice.invited.map((member) => (
              <li key={member.user} class="row">
                <span class="grow">
                  {member.name} <span class="pill">{roleLabel(member.role)}</span>
                </span>
                {manages && <Action label={t("team.withdraw", { name: member.name })} action={remove(member.user)} />}
              </li>
            ))}
          </ul>
        </>
      )}
      {manages && <InviteColleague practice={practice.id} invited={changed} />}
      <p>
        <ConfirmAction
          label={t("team.leave", { practice: practice.name })}
          action={async () => {
            await session.call("practices.leave", { practice: practice.id });
            changed();
          }}
        />
      </p>
    </article>
  );
}

function InviteColleague({ practice, invited }: { practice: number; invited: () => void }) {
  const session = useSession();
  const [number, setNumber] = useState("");
  const [done, setDone] = useState<string>();
  const form = useSubmit(async () => {
    setDone(undefined);
    const user = accountNumber(number);
    if (user === undefined) throw new Error(t("patients.not_a_number"));
    try {
      await session.call("practices.invite", { practice, user });
    } catch (failure) {
      if (failure instanceof CallError && failure.code === "not_found") throw new Error(t("team.no_such_user"));
      throw failure;
    }
    setNumber("");
    setDone(t("team.invite_sent"));
    invited();
  });
  return (
    <form onSubmit={form.onSubmit}>
      <Field label={t("team.invite_number")} hint={t("team.invite_hint")}>
        <input
          inputMode="numeric"
          autoComplete="off"
          required
          value={number}
          onInput={(event) => setNumber((event.target as HTMLInputElement).value)}
        />
      </Field>
      <FormOutcome error={form.error} done={done} />
      <button type="submit" disabled={form.busy}>
        {t("team.invite")}
      </button>
    </form>
  );
}

function CreatePractice({ created }: { created: () => void }) {
  const session = useSession();
  const [name, setName] = useState("");
  const [done, setDone] = useState<string>();
  const form = useSubmit(async () => {
    setDone(undefined);
    await session.call("practices.create", { name: name.trim(), locale: currentLanguage() });
    setName("");
    setDone(t("team.created"));
    created();
  });
  return (
    <form class="card" aria-labelledby="team-create" onSubmit={form.onSubmit}>
      <h2 id="team-create">{t("team.create_title")}</h2>
      <Field label={t("team.create_name")}>
        <input
          required
          maxLength={120}
          value={name}
          onInput={(event) => setName((event.target as HTMLInputElement).value)}
        />
      </Field>
      <FormOutcome error={form.error} done={done} />
      <button type="submit" disabled={form.busy}>
        {t("team.create")}
      </button>
    </form>
  );
}

interface Colleague extends Member {
  practice: string;
}

/** Everyone who shares a practice with me, once each (first practice named). */
function colleaguesOf(practices: PracticeInfo[], me: number): Colleague[] {
  const found = new Map<number, Colleague>();
  for (const practice of practices) {
    for (const member of practice.members) {
      if (member.user !== me && !found.has(member.user)) found.set(member.user, { ...member, practice: practice.name });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function CareGroup({ practices }: { practices: PracticeInfo[] }) {
  const session = useSession();
  const colleagues = colleaguesOf(practices, session.me);
  const [chosen, setChosen] = useState<ReadonlySet<number>>(new Set());
  const choose = (user: number, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(user);
    else next.delete(user);
    setChosen(next);
  };
  const form = useSubmit(async () => {
    const members = colleagues.filter((colleague) => chosen.has(colleague.user));
    const opened = await session.call<{ id: number }>("threads.open", {
      kind: careKind(session.role, members),
      members: members.map((member) => member.user),
    });
    await session.loadThreads();
    go(`threads/${opened.id}`);
  });
  return (
    <form class="card" aria-labelledby="team-group" onSubmit={form.onSubmit}>
      <h2 id="team-group">{t("team.group_title")}</h2>
      <p class="muted">{t("team.group_help")}</p>
      {colleagues.length === 0 ? (
        <p>{t("team.group_nobody")}</p>
      ) : (
        <>
          <fieldset>
            <legend>{t("team.group_with")}</legend>
            {colleagues.map((colleague) => (
              <Check
                key={colleague.user}
                checked={chosen.has(colleague.user)}
                onChange={(on) => choose(colleague.user, on)}
              >
                {colleague.name}{" "}
                <span class="muted">
                  ({t("team.in_practice", { role: roleLabel(colleague.role), practice: colleague.practice })})
                </span>
              </Check>
            ))}
          </fieldset>
          <FormOutcome error={form.error} />
          <button class="primary" type="submit" disabled={form.busy || chosen.size === 0}>
            {t("team.group_open")}
          </button>
        </>
      )}
    </form>
  );
}

/** Two practitioners have one conversation of their own (opening it again
 * finds it); anything else is a care-team group. */
function careKind(role: Role, members: Member[]): ThreadKind {
  const pair = role === "practitioner" && members.length === 1 && members[0]?.role === "practitioner";
  return pair ? "practitioner_practitioner" : "group";
}

// -- Delegates ----------------------------------------------------------------------------

defineTexts({
  "team.delegates": ["Délégations", "Delegates"],
  "team.delegates_help": [
    "Confiez votre boîte de réception à un(e) assistant(e) ou à un robot de votre cabinet. Ce que vous accordez est signé par votre clé d'identité : le serveur ne peut pas l'inventer.",
    "Let an assistant or a bot of your practice work your inbox. What you grant is signed by your identity key: the server cannot make it up.",
  ],
  "team.no_delegates": ["Vous n'avez délégué à personne.", "You have not delegated to anyone."],
  "team.revoke": ["Retirer la délégation de {name}", "Revoke {name}'s delegation"],
  "team.ended": [
    "{name} ne partage plus de cabinet avec vous : cette délégation ne s'applique plus. Retirez-la de votre liste signée.",
    "{name} no longer shares a practice with you: this delegation no longer applies. Remove it from your signed list.",
  ],
  "team.drop": ["Retirer {name} de ma liste", "Remove {name} from my list"],
  "team.delegate_title": ["Déléguer", "Delegate"],
  "team.delegate_to": ["Assistant(e) ou robot", "Assistant or bot"],
  "team.delegate_choose": ["— Choisir —", "— Choose —"],
  "team.delegate_scopes": ["Ce qu'il ou elle peut faire", "What they may do"],
  "team.delegate_until": ["Jusqu'au (inclus, facultatif)", "Until (included, optional)"],
  "team.delegate_until_hint": [
    "Sans date, la délégation dure jusqu'à ce que vous la retiriez.",
    "Without a date, the delegation lasts until you revoke it.",
  ],
  "team.delegate": ["Déléguer", "Delegate"],
  "team.delegated": ["Délégation signée et publiée.", "Delegation signed and published."],
  "team.delegate_nobody": [
    "Invitez d'abord un(e) assistant(e) ou un robot dans votre cabinet.",
    "Invite an assistant or a bot to your practice first.",
  ],
  "team.delegate_pick": ["Choisissez à qui déléguer.", "Choose whom to delegate to."],
  "team.delegate_no_scope": ["Cochez au moins une permission.", "Tick at least one permission."],
  "team.delegate_past": ["Choisissez une date à venir.", "Choose a date to come."],
  "team.not_identity_device": [
    "Les délégations se signent avec la clé d'identité de votre premier appareil : faites-le depuis celui-ci.",
    "Delegations are signed with the identity key of your first device: do it from that one.",
  ],
  "team.working_for": ["Boîtes de réception que vous traitez", "Inboxes you work"],
  "team.working_for_none": [
    "Aucun praticien ne vous a confié sa boîte de réception pour l'instant.",
    "No practitioner has let you work their inbox yet.",
  ],
  "team.working_for_help": [
    "Seul le praticien peut modifier ou retirer sa délégation.",
    "Only the practitioner can change or revoke their delegation.",
  ],
});

const SCOPES: Scope[] = [Scope.READ, Scope.REPLY, Scope.TEMPLATES, Scope.AGENDA];

function Delegates({ practices }: { practices: PracticeInfo[] }) {
  const session = useSession();
  const version = useTopic(session.store, "delegations");
  const list = useLoad(() => session.call<DelegationsList>("delegations.list", {}), [version]);
  const eligible = colleaguesOf(practices, session.me).filter((c) => c.role === "assistant" || c.role === "bot");
  const names = new Map(colleaguesOf(practices, session.me).map((c) => [c.user, c.name]));
  const nameOf = (user: number) => names.get(user) ?? t("practice.number", { id: user });
  const signs = session.secure.keys.identity !== null;
  const changed = async (publish: () => Promise<number>) => {
    await session.secure.refresh([session.me]); // publish on top of the newest list
    await publish();
    session.saveKeys();
    list.reload();
  };
  const revoke = (user: number) => () => changed(() => session.secure.revokeDelegate(user));
  return (
    <section class="card" aria-labelledby="team-delegates">
      <h2 id="team-delegates">{t("team.delegates")}</h2>
      <p class="muted">{t("team.delegates_help")}</p>
      {!list.value ? (
        <Loading error={list.error} />
      ) : (
        <>
          <GivenDelegations given={list.value.given} nameOf={nameOf} revoke={signs ? revoke : undefined} />
          {signs && <EndedDelegations given={list.value.given} nameOf={nameOf} drop={revoke} />}
        </>
      )}
      {!signs ? (
        <p role="status">{t("team.not_identity_device")}</p>
      ) : eligible.length === 0 ? (
        <p>{t("team.delegate_nobody")}</p>
      ) : (
        <DelegateForm
          eligible={eligible}
          delegate={(user, scopes, expires) => changed(() => session.secure.delegate(user, scopes, expires))}
        />
      )}
    </section>
  );
}

function GivenDelegations(props: {
  given: Delegation[];
  nameOf: (user: number) => string;
  revoke: ((user: number) => () => Promise<void>) | undefined;
}) {
  if (props.given.length === 0) return <p>{t("team.no_delegates")}</p>;
  return (
    <ul>
      {props.given.map((given) => {
        const name = props.nameOf(given.delegate);
        return (
          <li key={given.delegate} class="row">
            <span class="grow">
              <strong>{name}</strong> · {scopesText(given.scope)} · <span class="muted">{expiryText(given.expires)}</span>
            </span>
            {props.revoke && <ConfirmAction label={t("team.revoke", { name })} action={props.revoke(given.delegate)} />}
          </li>
        );
      })}
    </ul>
  );
}

/** Delegates still in my signed list whom the server no longer lets act
 * (no shared practice any more): senders keep sealing for them until the
 * list drops them. */
function EndedDelegations(props: {
  given: Delegation[];
  nameOf: (user: number) => string;
  drop: (user: number) => () => Promise<void>;
}) {
  const session = useSession();
  const signed = session.secure.keys.trust.lists.get(session.me)?.parsed.delegates ?? [];
  const ended = signed.filter((entry) => !props.given.some((given) => given.delegate === entry.user));
  if (ended.length === 0) return null;
  return (
    <ul>
      {ended.map((entry) => {
        const name = props.nameOf(entry.user);
        return (
          <li key={entry.user} class="row">
            <span class="grow error">{t("team.ended", { name })}</span>
            <Action label={t("team.drop", { name })} action={props.drop(entry.user)} />
          </li>
        );
      })}
    </ul>
  );
}

function DelegateForm(props: {
  eligible: Colleague[];
  delegate: (user: number, scopes: Scope[], expires: number | null) => Promise<void>;
}) {
  const [user, setUser] = useState("");
  const [scopes, setScopes] = useState<ReadonlySet<Scope>>(new Set([Scope.READ, Scope.REPLY]));
  const [until, setUntil] = useState("");
  const [done, setDone] = useState<string>();
  const toggle = (scope: Scope, on: boolean) => setScopes(withScope(scopes, scope, on));
  const form = useSubmit(async () => {
    setDone(undefined);
    const expires = until ? endOfDay(until) : null;
    if (!user) throw new Error(t("team.delegate_pick"));
    if (scopes.size === 0) throw new Error(t("team.delegate_no_scope"));
    if (expires !== null && expires <= Date.now()) throw new Error(t("team.delegate_past"));
    await props.delegate(Number(user), SCOPES.filter((scope) => scopes.has(scope)), expires);
    setDone(t("team.delegated"));
  });
  return (
    <form onSubmit={form.onSubmit} aria-labelledby="team-delegate">
      <h3 id="team-delegate">{t("team.delegate_title")}</h3>
      <Field label={t("team.delegate_to")}>
        <select value={user} onChange={(event) => setUser((event.target as HTMLSelectElement).value)}>
          <option value="">{t("team.delegate_choose")}</option>
          {props.eligible.map((colleague) => (
            <option key={colleague.user} value={String(colleague.user)}>
              {colleague.name} ({t("team.in_practice", { role: roleLabel(colleague.role), practice: colleague.practice })})
            </option>
          ))}
        </select>
      </Field>
      <fieldset>
        <legend>{t("team.delegate_scopes")}</legend>
        {SCOPES.map((scope) => (
          <Check key={scope} checked={scopes.has(scope)} onChange={(on) => toggle(scope, on)}>
            <strong>{t(`practice.scope.${scope}`)}</strong>
            <span class="muted"> — {t(`practice.scope.${scope}.help`)}</span>
          </Check>
        ))}
      </fieldset>
      <Field label={t("team.delegate_until")} hint={t("team.delegate_until_hint")}>
        <input
          type="date"
          min={localDate(new Date())}
          value={until}
          onInput={(event) => setUntil((event.target as HTMLInputElement).value)}
        />
      </Field>
      <FormOutcome error={form.error} done={done} />
      <button class="primary" type="submit" disabled={form.busy}>
        {t("team.delegate")}
      </button>
    </form>
  );
}

/** Replying needs reading: ticking reply ticks read, unticking read unticks reply. */
function withScope(scopes: ReadonlySet<Scope>, scope: Scope, on: boolean): Set<Scope> {
  const next = new Set(scopes);
  if (on) {
    next.add(scope);
    if (scope === Scope.REPLY) next.add(Scope.READ);
  } else {
    next.delete(scope);
    if (scope === Scope.READ) next.delete(Scope.REPLY);
  }
  return next;
}

/** The last millisecond of a "YYYY-MM-DD" day, in the browser's time zone. */
function endOfDay(day: string): number {
  const [year, month, date] = day.split("-").map(Number) as [number, number, number];
  return new Date(year, month - 1, date + 1).getTime() - 1;
}

function localDate(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** An assistant's (or a bot's) view: whose inbox they work, read-only. */
function WorkingFor() {
  const session = useSession();
  const version = useTopic(session.store, "delegations");
  const load = async () => {
    const { received } = await session.call<DelegationsList>("delegations.list", {});
    const principals = received.map((delegation) => delegation.principal);
    const { users } = principals.length
      ? await session.call<{ users: UserProfile[] }>("users.get", { users: principals })
      : { users: [] };
    return { received, names: new Map(users.map((user) => [user.user, user.name])) };
  };
  const found = useLoad(load, [version]);
  return (
    <section class="card" aria-labelledby="team-working-for">
      <h2 id="team-working-for">{t("team.working_for")}</h2>
      {!found.value ? (
        <Loading error={found.error} />
      ) : found.value.received.length === 0 ? (
        <p>{t("team.working_for_none")}</p>
      ) : (
        <ul>
          {found.value.received.map((delegation) => (
            <li key={delegation.principal}>
              <strong>{found.value?.names.get(delegation.principal) ?? t("practice.number", { id: delegation.principal })}</strong>{" "}
              · {scopesText(delegation.scope)} · <span class="muted">{expiryText(delegation.expires)}</span>
            </li>
          ))}
        </ul>
      )}
      <p class="muted">{t("team.working_for_help")}</p>
    </section>
  );
}

// -- Audit ----------------------------------------------------------------------------------

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
  "audit.detail.reason": ["Motif : {reason}", "Reason: {reason}"],
  "audit.detail.seq": ["n° {seq} de la conversation", "no. {seq} in the conversation"],
  "audit.detail.read_up_to": ["jusqu'au n° {seq}", "up to no. {seq}"],
  "audit.detail.user": ["{name}", "{name}"],
  "audit.detail.rule": ["règle n° {rule}", "rule no. {rule}"],
});

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
  const names = useNames(session, thread, entries);
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
function useNames(session: Session, thread: number, entries: AuditEntry[]): Map<number, string> {
  const members = session.store.thread(thread)?.info.members ?? [];
  const known = new Map(members.map((member) => [member.user, member.name]));
  const mentioned = new Set(entries.flatMap((e) => [e.actor, e.acting_for, e.user]).filter((u): u is number => !!u));
  const missing = [...mentioned].filter((user) => !known.has(user)).sort((a, b) => a - b);
  const others = useLoad(
    () =>
      missing.length
        ? session.call<{ users: UserProfile[] }>("users.get", { users: missing })
        : Promise.resolve({ users: [] as UserProfile[] }),
    [missing.join(",")],
  );
  for (const user of others.value?.users ?? []) known.set(user.user, user.name);
  return known;
}

function AuditTable({ entries, names }: { entries: AuditEntry[]; names: Map<number, string> }) {
  if (entries.length === 0) return <p>{t("audit.empty")}</p>;
  const nameOf = (user: number) => names.get(user) ?? t("practice.number", { id: user });
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">{t("audit.when")}</th>
          <th scope="col">{t("audit.action")}</th>
          <th scope="col">{t("audit.actor")}</th>
          <th scope="col">{t("audit.details")}</th>
        </tr>
      </thead>
      <tbody>
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
      </tbody>
    </table>
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
  const url = URL.createObjectURL(new Blob([await response.blob()], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `carehub-conversation-${thread}-journal.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // the download has started by then
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
