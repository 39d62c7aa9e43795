/** A patient's own screens: answering practitioners' care invitations,
 * finding a practitioner and writing to them (for oneself or for a relative
 * whose profile one manages), their group messages, and one's relatives. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { DocumentRef } from "../../../src/index.js";
import { type Member, type PractitionerInfo, type RequestReason, type ThreadInfo, professionOf } from "../api.js";
import { ConfirmAction } from "../controls.js";
import { go, useSession } from "../context.js";
import { currentLanguage, defineTexts, formatDate, t, tn } from "../i18n.js";
import { midnight, today } from "../local-time.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, AttachButton, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";

defineTexts({
  "patient.new.title": ["Nouvelle demande", "New request"],
  "patient.invitations.title": ["Invitations de praticiens", "Invitations from practitioners"],
  "patient.invitations.explain": [
    "Devenir le patient d'un praticien vous permet de lui écrire, et lui permet de vous écrire, de vous envoyer ses messages collectifs et de vous inclure dans une équipe de soins.",
    "Becoming a practitioner's patient lets you write to them, and lets them write to you, send you their group messages and include you in a care team.",
  ],
  "patient.invitations.you": ["{name} vous propose de devenir son patient.", "{name} asks you to become their patient."],
  "patient.invitations.relative": [
    "{name} propose de suivre {relative} comme patient.",
    "{name} asks to take {relative} on as a patient.",
  ],
  "patient.invitations.accept": ["Accepter", "Accept"],
  "patient.invitations.decline": ["Refuser", "Decline"],
  "patient.invitations.accepted": ["Invitation de {name} acceptée.", "You accepted {name}'s invitation."],
  "patient.invitations.declined": ["Invitation de {name} refusée.", "You declined {name}'s invitation."],
  "patient.practitioners": ["Mes praticiens", "My practitioners"],
  "patient.known.none": [
    "Vous n'avez encore écrit à aucun praticien : cherchez le vôtre par son nom.",
    "You have not written to a practitioner yet: find yours by name.",
  ],
  "patient.search.label": ["Rechercher un praticien par son nom", "Find a practitioner by name"],
  "patient.search.hint": ["Au moins 2 lettres.", "At least 2 letters."],
  "patient.search.found.one": ["{count} praticien trouvé.", "{count} practitioner found."],
  "patient.search.found.other": ["{count} praticiens trouvés.", "{count} practitioners found."],
  "patient.search.results": ["Praticiens trouvés", "Practitioners found"],
  "patient.search.known": ["Praticiens à qui vous avez écrit", "Practitioners you have written to"],
  "patient.request.relatives_only": [
    "Vous pouvez toutefois écrire pour un proche dont vous gérez le profil, s'il est patient de ce praticien.",
    "You can still write for a relative whose profile you manage, if they are this practitioner's patient.",
  ],
  "patient.request.reason": ["Motif de la demande", "Reason for writing"],
  "patient.request.delay.one": ["réponse sous {count} heure", "answer within {count} hour"],
  "patient.request.delay.other": ["réponse sous {count} heures", "answer within {count} hours"],
  "patient.request.delay_days.one": ["réponse sous {count} jour", "answer within {count} day"],
  "patient.request.delay_days.other": ["réponse sous {count} jours", "answer within {count} days"],
  "patient.request.for": ["Pour", "For"],
  "patient.request.myself": ["Moi-même ({name})", "Myself ({name})"],
  "patient.request.relative": ["{name} ({relation})", "{name} ({relation})"],
  "patient.request.message": ["Votre message", "Your message"],
  "patient.request.attach": ["Joindre un document ou une photo (facultatif)", "Attach a document or photo (optional)"],
  "patient.request.attached": ["Joint : {name}", "Attached: {name}"],
  "patient.request.remove": ["Retirer {name}", "Remove {name}"],
  "patient.request.uploading": ["Envoi chiffré de {name}…", "Encrypting and sending {name}…"],
  "patient.request.sending": ["Envoi de votre demande…", "Sending your request…"],
  "patient.request.submit": ["Envoyer la demande", "Send the request"],
  "patient.campaigns.title": ["Recevoir ses messages collectifs (campagnes)", "Receive their group messages (campaigns)"],
  "patient.campaigns.explain": [
    "{name} peut envoyer à ses patients des messages de prévention (vaccination, dépistage). Votre choix vaut sur tous vos appareils.",
    "{name} can send their patients prevention messages (vaccination, screening). Your choice applies on all your devices.",
  ],
  "patient.campaigns.receive": ["Recevoir les messages collectifs de {name}", "Receive {name}'s group messages"],
  "patient.campaigns.stopped": [
    "Vous ne recevrez plus les messages collectifs de {name}.",
    "You will no longer receive {name}'s group messages.",
  ],
  "patient.campaigns.resumed": [
    "Vous recevrez les messages collectifs de {name}.",
    "You will receive {name}'s group messages.",
  ],
  "patient.relatives.title": ["Mes proches", "My relatives"],
  "patient.relatives.explain": [
    "Gérer le profil d'un proche (un enfant, un parent âgé…), c'est écrire à ses praticiens et prendre ses rendez-vous à sa place. Ses praticiens voient que vous écrivez pour lui, et vos échanges restent chiffrés de bout en bout.",
    "Managing a relative's profile (a child, an elderly parent…) means writing to their practitioners and booking their appointments for them. Their practitioners see that you write on their behalf, and your exchanges stay end-to-end encrypted.",
  ],
  "patient.relatives.how": [
    "Pour écrire à un praticien pour un proche, celui-ci doit être son patient : après un rendez-vous pris pour lui, ou quand le praticien l'invite (l'invitation s'affiche dans « Nouvelle demande »).",
    "To write to a practitioner for a relative, the relative must be their patient: after an appointment booked for them, or when the practitioner invites them (the invitation shows in “New request”).",
  ],
  "patient.relatives.list": ["Proches dont vous gérez le profil", "Relatives whose profile you manage"],
  "patient.relatives.none": ["Vous ne gérez encore le profil d'aucun proche.", "You do not manage a relative's profile yet."],
  "patient.relatives.name": ["Nom", "Name"],
  "patient.relatives.relation": ["Lien", "Relation"],
  "patient.relatives.born": ["Date de naissance", "Date of birth"],
  "patient.relatives.born_unknown": ["Non renseignée", "Not given"],
  "patient.relatives.consent": ["Accord recueilli", "Agreement given"],
  "patient.relatives.action": ["Action", "Action"],
  "patient.relatives.withdraw": ["Ne plus gérer le profil de {name}", "Stop managing {name}'s profile"],
  "patient.relatives.withdraw_question": [
    "Retirer votre accord et ne plus gérer le profil de {name} ? Vous quitterez ses conversations : ses soignants les gardent, vous ne pourrez plus les lire ni prendre rendez-vous pour {name}.",
    "Withdraw your agreement and stop managing {name}'s profile? You will leave their conversations: their carers keep them, and you will no longer read them nor book for {name}.",
  ],
  "patient.relatives.withdraw_yes": ["Oui, ne plus gérer ce profil", "Yes, stop managing this profile"],
  "patient.relatives.since": ["Depuis le", "Since"],
  "patient.relatives.add": ["Ajouter un proche", "Add a relative"],
  "patient.relatives.full_name": ["Nom et prénom", "Full name"],
  "patient.relatives.your_relation": ["Ce proche est votre…", "This relative is your…"],
  "patient.relatives.birth_date": ["Date de naissance (facultatif)", "Date of birth (optional)"],
  "patient.relatives.birth_date_hint": [
    "Ses praticiens le retrouvent par son nom et sa date de naissance.",
    "Their practitioners find them by their name and date of birth.",
  ],
  "patient.relatives.agreement": ["Accord de votre proche", "Your relative's agreement"],
  "patient.relatives.agreement_hint": [
    "Ce à quoi votre proche (ou son représentant légal) a consenti, par exemple : « Je suis le père de Léo et je gère ses échanges de santé jusqu'à ses 15 ans. »",
    "What your relative (or their legal guardian) agreed to, for example: “I am Leo's father and manage his health messages until he is 15.”",
  ],
  "patient.relatives.submit": ["Ajouter ce proche", "Add this relative"],
  "patient.relatives.added": ["{name} fait maintenant partie de vos proches.", "{name} is now one of your relatives."],
  "patient.relation.child": ["Enfant", "Child"],
  "patient.relation.parent": ["Parent", "Parent"],
  "patient.relation.spouse": ["Conjoint ou conjointe", "Spouse or partner"],
  "patient.relation.other": ["Autre proche", "Other relative"],
});

/** The relation codes a patient picks from (the server takes any code). */
const RELATIONS = ["child", "parent", "spouse", "other"] as const;
/** Searching waits for a pause in typing, so one search runs per name typed. */
const SEARCH_PAUSE_MS = 250;
const SEARCH_MIN_CHARS = 2;

interface RelativeInfo {
  user: number;
  name: string;
  relation: string;
  consent: string;
  consent_at: number;
  /** "YYYY-MM-DD", when given. */
  birth_date?: string | null;
}

interface CareInvitation {
  practitioner: Member;
  patient: number;
  at: number;
}

/** Whom a request is for: the patient, or a relative they manage. */
interface Subject {
  user: number;
  label: string;
}

// -- New request -------------------------------------------------------------

export function NewRequest() {
  const session = useSession();
  const relatives = useRelatives(session);
  const [chosen, setChosen] = useState<number>();
  return (
    <Page title={t("patient.new.title")}>
      <CareInvitations relatives={relatives.value ?? []} />
      <section class="card" aria-labelledby="patient-practitioners">
        <h2 id="patient-practitioners">{t("patient.practitioners")}</h2>
        <PractitionerPicker chosen={chosen} choose={setChosen} />
      </section>
      {chosen !== undefined &&
        (relatives.value ? (
          <Practitioner key={chosen} id={chosen} relatives={relatives.value} />
        ) : (
          <Loading error={relatives.error} />
        ))}
    </Page>
  );
}

function useRelatives(session: Session) {
  const load = useLoad(() => session.call<{ relatives: RelativeInfo[] }>("relatives.list", {}), []);
  return { value: load.value?.relatives, error: load.error, reload: load.reload };
}

function relationLabel(code: string): string {
  const key = `patient.relation.${code}`;
  const text = t(key);
  return text === key ? code.replaceAll("_", " ") : text;
}

/** The practitioners' invitations to the patient and to their relatives. */
function CareInvitations({ relatives }: { relatives: RelativeInfo[] }) {
  const session = useSession();
  const care = useTopic(session.store, "care");
  const invitations = useLoad(() => session.call<{ invitations: CareInvitation[] }>("care.invitations", {}), [care]);
  const [answered, setAnswered] = useState<string>();
  const pending = invitations.value?.invitations ?? [];
  if (invitations.error) return <ErrorLine error={invitations.error} />;
  if (!pending.length && !answered) return null;
  const answer = async (invitation: CareInvitation, accept: boolean) => {
    const forRelative = invitation.patient === session.me ? {} : { patient: invitation.patient };
    await session.call(accept ? "care.accept" : "care.decline", {
      practitioner: invitation.practitioner.user,
      ...forRelative,
    });
    const name = invitation.practitioner.name;
    setAnswered(t(accept ? "patient.invitations.accepted" : "patient.invitations.declined", { name }));
    session.store.bump("care"); // the list above and what the chosen practitioner allows
  };
  return (
    <section class="card" aria-labelledby="patient-invitations">
      <h2 id="patient-invitations">{t("patient.invitations.title")}</h2>
      {pending.length > 0 && <p class="muted">{t("patient.invitations.explain")}</p>}
      {pending.map((invitation) => (
        <div key={`${invitation.practitioner.user}-${invitation.patient}`} class="row card">
          <p class="grow">{invitationText(session, invitation, relatives)}</p>
          <Action kind="primary" label={t("patient.invitations.accept")} action={() => answer(invitation, true)} />
          <Action label={t("patient.invitations.decline")} action={() => answer(invitation, false)} />
        </div>
      ))}
      {answered && (
        <p class="ok" role="status">
          {answered}
        </p>
      )}
    </section>
  );
}

function invitationText(session: Session, invitation: CareInvitation, relatives: RelativeInfo[]): string {
  const name = invitation.practitioner.name;
  if (invitation.patient === session.me) return t("patient.invitations.you", { name });
  const relative = relatives.find((r) => r.user === invitation.patient)?.name ?? `#${invitation.patient}`;
  return t("patient.invitations.relative", { name, relative });
}

/** The practitioners already written to, or, once a name is typed, those found. */
function PractitionerPicker(props: { chosen?: number; choose: (id: number) => void }) {
  const session = useSession();
  const [typed, setTyped] = useState("");
  const [query, setQuery] = useState("");
  useEffect(() => {
    const pause = setTimeout(() => setQuery(typed.trim()), SEARCH_PAUSE_MS);
    return () => clearTimeout(pause);
  }, [typed]);
  const searching = query.length >= SEARCH_MIN_CHARS;
  const found = useLoad(
    () =>
      searching
        ? session.call<{ practitioners: PractitionerInfo[] }>("practitioners.search", { text: query })
        : Promise.resolve(undefined),
    [query],
  );
  const known = knownPractitioners(session);
  return (
    <>
      <Field label={t("patient.search.label")} hint={t("patient.search.hint")}>
        <input
          type="search"
          name="practitioner"
          autocomplete="off"
          maxLength={64}
          value={typed}
          onInput={(event) => setTyped((event.target as HTMLInputElement).value)}
        />
      </Field>
      {searching ? (
        <SearchResults found={found.value?.practitioners} error={found.error} {...props} />
      ) : known.length ? (
        <ChoiceList label={t("patient.search.known")} people={known} {...props} />
      ) : (
        <p class="muted">{t("patient.known.none")}</p>
      )}
    </>
  );
}

function SearchResults(props: {
  found?: PractitionerInfo[];
  error?: unknown;
  chosen?: number;
  choose: (id: number) => void;
}) {
  if (!props.found) return <Loading error={props.error} />;
  return (
    <>
      <p class="muted" role="status">
        {tn("patient.search.found", props.found.length)}
      </p>
      <ChoiceList
        label={t("patient.search.results")}
        people={props.found.map((p) => ({ user: p.id, name: p.name, detail: professionOf(p) }))}
        chosen={props.chosen}
        choose={props.choose}
      />
    </>
  );
}

function ChoiceList(props: {
  label: string;
  /** `detail`: what the directory says they practise, after the name. */
  people: { user: number; name: string; detail?: string }[];
  chosen?: number;
  choose: (id: number) => void;
}) {
  return (
    <div class="row" role="group" aria-label={props.label}>
      {props.people.map((person) => (
        <button
          key={person.user}
          type="button"
          class={person.user === props.chosen ? "primary" : "secondary"}
          aria-pressed={person.user === props.chosen}
          onClick={() => props.choose(person.user)}
        >
          {person.detail ? `${person.name} — ${person.detail}` : person.name}
        </button>
      ))}
    </div>
  );
}

/** The practitioners met in the patient's conversations, by name. */
function knownPractitioners(session: Session): { user: number; name: string }[] {
  const found = new Map<number, string>();
  for (const state of session.store.threads.values()) {
    for (const member of state.info.members) {
      if (member.role === "practitioner") found.set(member.user, member.name);
    }
  }
  return [...found].map(([user, name]) => ({ user, name })).sort((a, b) => a.name.localeCompare(b.name));
}

/** One practitioner: whether the patient may write to them now, and how. */
function Practitioner({ id, relatives }: { id: number; relatives: RelativeInfo[] }) {
  const session = useSession();
  const care = useTopic(session.store, "care");
  const loaded = useLoad(() => session.call<PractitionerInfo>("practitioners.get", { practitioner: id }), [id, care]);
  const heading = useRef<HTMLHeadingElement>(null);
  const shown = loaded.value !== undefined;
  useEffect(() => {
    if (shown) heading.current?.focus(); // a screen reader hears the choice's outcome next
  }, [shown]);
  const info = loaded.value;
  if (!info) return <Loading error={loaded.error} />;
  // Being someone's patient is personal: a relative may be theirs when the patient is not.
  const forRelativesOnly = info.refusal === "not_a_patient" && relatives.length > 0;
  const mayWrite = !info.refusal || forRelativesOnly;
  const profession = professionOf(info);
  return (
    <section class="card" aria-labelledby="patient-chosen">
      <h2 id="patient-chosen" ref={heading} tabIndex={-1}>
        {info.name}
      </h2>
      {profession && <p class="muted">{profession}</p>}
      {mayWrite && info.emergency_notice && (
        <p class="emergency" role="note">
          {info.emergency_notice}
        </p>
      )}
      {info.refusal_text && <p role="status">{info.refusal_text}</p>}
      {forRelativesOnly && <p>{t("patient.request.relatives_only")}</p>}
      {mayWrite && <RequestForm practitioner={info} subjects={subjects(session, relatives, forRelativesOnly)} />}
      <Campaigns practitioner={info} />
    </section>
  );
}

function subjects(session: Session, relatives: RelativeInfo[], relativesOnly: boolean): Subject[] {
  const theirs = relatives.map((r) => ({
    user: r.user,
    label: t("patient.request.relative", { name: r.name, relation: relationLabel(r.relation).toLocaleLowerCase() }),
  }));
  return relativesOnly ? theirs : [{ user: session.me, label: t("patient.request.myself", { name: session.name }) }, ...theirs];
}

function RequestForm({ practitioner, subjects }: { practitioner: PractitionerInfo; subjects: Subject[] }) {
  const session = useSession();
  const [reason, setReason] = useState<string>();
  const [subject, setSubject] = useState((subjects[0] as Subject).user);
  const [text, setText] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState<string>();
  const [error, setError] = useState<unknown>();
  // Once opened, a retry (say, after a failed upload) writes into the same thread.
  const opened = useRef<ThreadInfo | undefined>(undefined);

  const open = () =>
    session.call<ThreadInfo>("threads.open", {
      kind: "patient_practitioner",
      members: [practitioner.id],
      ...(reason ? { reason } : {}),
      ...(subject === session.me ? {} : { subject }),
    });
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      setProgress(t("patient.request.sending"));
      opened.current ??= await open();
      const thread = opened.current.id;
      await session.loadThreads();
      const documents: DocumentRef[] = [];
      for (const file of files) {
        setProgress(t("patient.request.uploading", { name: file.name }));
        documents.push(await session.secure.upload(thread, file, file.name, file.type || "application/octet-stream"));
      }
      setProgress(t("patient.request.sending"));
      await session.send(thread, text.trim(), documents);
      go(`threads/${thread}`);
    } catch (failure) {
      setError(failure);
    } finally {
      setProgress(undefined);
    }
  };
  return (
    <form onSubmit={submit}>
      {(subjects.length > 1 || subjects[0]?.user !== session.me) && (
        <Field label={t("patient.request.for")}>
          <select name="subject" onChange={(event) => setSubject(Number((event.target as HTMLSelectElement).value))}>
            {subjects.map((s) => (
              <option key={s.user} value={s.user} selected={s.user === subject}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
      )}
      <ReasonChoice reasons={practitioner.reasons} chosen={reason} choose={setReason} />
      <Field label={t("patient.request.message")}>
        <textarea
          name="message"
          rows={5}
          required
          value={text}
          onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
        />
      </Field>
      <Attachments files={files} change={setFiles} />
      {progress && <p role="status">{progress}</p>}
      <ErrorLine error={error} />
      <button class="primary" type="submit" disabled={progress !== undefined}>
        {t("patient.request.submit")}
      </button>
    </form>
  );
}

function ReasonChoice(props: { reasons: RequestReason[]; chosen?: string; choose: (code: string) => void }) {
  if (!props.reasons.length) return null;
  return (
    <fieldset class="field">
      <legend class="label">{t("patient.request.reason")}</legend>
      {props.reasons.map((reason) => (
        <label key={reason.code} class="row">
          <input
            type="radio"
            name="reason"
            value={reason.code}
            required
            checked={props.chosen === reason.code}
            onChange={() => props.choose(reason.code)}
          />
          <span>
            {reason.label}
            {reason.response_hours && (
              <span class="muted"> · {responseDelay(reason.response_hours)}</span>
            )}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

/** "48 hours" stays in hours; longer whole days read better as days. */
function responseDelay(hours: number): string {
  return hours > 48 && hours % 24 === 0 ? tn("patient.request.delay_days", hours / 24) : tn("patient.request.delay", hours);
}

function Attachments({ files, change }: { files: File[]; change: (files: File[]) => void }) {
  return (
    <>
      <p>
        <AttachButton label={t("patient.request.attach")} multiple chosen={(chosen) => change([...files, ...chosen])} />
      </p>
      {files.map((file) => (
        <p key={file.name} class="row">
          <span>{t("patient.request.attached", { name: file.name })}</span>
          <button type="button" class="link" onClick={() => change(files.filter((f) => f !== file))}>
            {t("patient.request.remove", { name: file.name })}
          </button>
        </p>
      ))}
    </>
  );
}

/** Opting out of (or back into) the practitioner's group messages: a
 * checkbox showing where the patient stands, saved as it changes. */
function Campaigns({ practitioner }: { practitioner: PractitionerInfo }) {
  const session = useSession();
  const [receiving, setReceiving] = useState(!practitioner.campaigns_opted_out);
  const [outcome, setOutcome] = useState<string>();
  const [error, setError] = useState<unknown>();
  const choose = async (receive: boolean) => {
    setReceiving(receive); // shown at once; put back if the server refuses
    setOutcome(undefined);
    setError(undefined);
    try {
      await session.call(receive ? "broadcasts.opt_in" : "broadcasts.opt_out", { practitioner: practitioner.id });
      const name = practitioner.name;
      setOutcome(t(receive ? "patient.campaigns.resumed" : "patient.campaigns.stopped", { name }));
    } catch (failure) {
      setReceiving(!receive);
      setError(failure);
    }
  };
  return (
    <fieldset class="field">
      <legend class="label">{t("patient.campaigns.title")}</legend>
      <p class="muted">{t("patient.campaigns.explain", { name: practitioner.name })}</p>
      <label>
        <input
          type="checkbox"
          checked={receiving}
          onChange={(event) => void choose((event.target as HTMLInputElement).checked)}
        />
        {t("patient.campaigns.receive", { name: practitioner.name })}
      </label>
      {outcome && (
        <p class="ok" role="status">
          {outcome}
        </p>
      )}
      <ErrorLine error={error} />
    </fieldset>
  );
}

// -- Relatives ---------------------------------------------------------------

export function Relatives() {
  const session = useSession();
  const relatives = useRelatives(session);
  return (
    <Page title={t("patient.relatives.title")}>
      <p>{t("patient.relatives.explain")}</p>
      <p class="muted">{t("patient.relatives.how")}</p>
      <section class="card" aria-labelledby="patient-relatives-list">
        <h2 id="patient-relatives-list">{t("patient.relatives.list")}</h2>
        {relatives.value ? (
          <RelativesTable relatives={relatives.value} withdrawn={relatives.reload} />
        ) : (
          <Loading error={relatives.error} />
        )}
      </section>
      <AddRelative added={relatives.reload} />
    </Page>
  );
}

function RelativesTable({ relatives, withdrawn }: { relatives: RelativeInfo[]; withdrawn: () => void }) {
  const session = useSession();
  if (!relatives.length) return <p class="muted">{t("patient.relatives.none")}</p>;
  const withdraw = (relative: number) => async () => {
    await session.call("relatives.withdraw", { relative });
    withdrawn();
  };
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">{t("patient.relatives.name")}</th>
          <th scope="col">{t("patient.relatives.relation")}</th>
          <th scope="col">{t("patient.relatives.born")}</th>
          <th scope="col">{t("patient.relatives.consent")}</th>
          <th scope="col">{t("patient.relatives.since")}</th>
          <th scope="col">{t("patient.relatives.action")}</th>
        </tr>
      </thead>
      <tbody>
        {relatives.map((relative) => (
          <tr key={relative.user}>
            <th scope="row">{relative.name}</th>
            <td>{relationLabel(relative.relation)}</td>
            <td>{relative.birth_date ? birthDay(relative.birth_date) : t("patient.relatives.born_unknown")}</td>
            <td>{relative.consent}</td>
            <td>{formatDate(relative.consent_at)}</td>
            <td>
              <ConfirmAction
                label={t("patient.relatives.withdraw", { name: relative.name })}
                question={t("patient.relatives.withdraw_question", { name: relative.name })}
                confirm={t("patient.relatives.withdraw_yes")}
                action={withdraw(relative.user)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A "YYYY-MM-DD" day in full, "12 mars 2019". */
function birthDay(day: string): string {
  const locale = currentLanguage() === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" }).format(midnight(day));
}

function AddRelative({ added }: { added: () => void }) {
  const session = useSession();
  const [name, setName] = useState("");
  const [relation, setRelation] = useState<string>(RELATIONS[0]);
  const [born, setBorn] = useState("");
  const [consent, setConsent] = useState("");
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setDone(undefined);
    setBusy(true);
    try {
      const relative = await session.call<RelativeInfo>("relatives.add", {
        name: name.trim(),
        relation,
        consent: consent.trim(),
        ...(born ? { birth_date: born } : {}),
      });
      setName("");
      setBorn("");
      setConsent("");
      setDone(t("patient.relatives.added", { name: relative.name }));
      added();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const typed = (set: (value: string) => void) => (event: Event) =>
    set((event.target as HTMLInputElement | HTMLTextAreaElement).value);
  return (
    <form class="card" aria-labelledby="patient-relatives-add" onSubmit={submit}>
      <h2 id="patient-relatives-add">{t("patient.relatives.add")}</h2>
      <Field label={t("patient.relatives.full_name")}>
        <input name="name" autocomplete="off" required maxLength={120} value={name} onInput={typed(setName)} />
      </Field>
      <Field label={t("patient.relatives.your_relation")}>
        <select name="relation" onChange={typed(setRelation)}>
          {RELATIONS.map((code) => (
            <option key={code} value={code} selected={code === relation}>
              {relationLabel(code)}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t("patient.relatives.birth_date")} hint={t("patient.relatives.birth_date_hint")}>
        <input name="birth_date" type="date" max={today()} value={born} onInput={typed(setBorn)} />
      </Field>
      <Field label={t("patient.relatives.agreement")} hint={t("patient.relatives.agreement_hint")}>
        <textarea name="consent" rows={3} required maxLength={500} value={consent} onInput={typed(setConsent)} />
      </Field>
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      <ErrorLine error={error} />
      <button class="primary" type="submit" disabled={busy}>
        {t("patient.relatives.submit")}
      </button>
    </form>
  );
}
