/** The practice side's team: invitations to a practice, the practices and
 * their members, creating one, a care-team conversation, and delegations. */
import { useState } from "preact/hooks";
import type { Member, Role, ThreadKind } from "../api.js";
import { go, useSession } from "../context.js";
import { Check, ConfirmAction, withItem } from "../controls.js";
import { FormOutcome, unlessNotFound, useSubmit, valueOf } from "../forms.js";
import { currentLanguage, defineTexts, formatDateTime, t } from "../i18n.js";
import { useTopic } from "../store.js";
import { Action, Field, Loading, Page, useLoad } from "../ui.js";
import { type PracticeInfo, colleagueRole, colleaguesOf, roleLabel } from "./colleagues.js";
import { Delegates, WorkingFor } from "./delegates.js";
import { accountNumber } from "./patients.js";

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
});

interface PracticeInvitation {
  practice: number;
  name: string;
  invited_by: Member;
  at: number;
}

/** docs/protocol.schema.json `practices.list`. */
interface PracticesList {
  practices: PracticeInfo[];
  invitations: PracticeInvitation[];
}

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
  const form = useSubmit(async () => {
    const user = accountNumber(number);
    await unlessNotFound(session.call("practices.invite", { practice, user }), t("team.no_such_user"));
    setNumber("");
    invited();
    return t("team.invite_sent");
  });
  return (
    <form onSubmit={form.onSubmit}>
      <Field label={t("team.invite_number")} hint={t("team.invite_hint")}>
        <input inputMode="numeric" autoComplete="off" required value={number} onInput={(e) => setNumber(valueOf(e))} />
      </Field>
      <FormOutcome form={form} />
      <button type="submit" disabled={form.busy}>
        {t("team.invite")}
      </button>
    </form>
  );
}

function CreatePractice({ created }: { created: () => void }) {
  const session = useSession();
  const [name, setName] = useState("");
  const form = useSubmit(async () => {
    await session.call("practices.create", { name: name.trim(), locale: currentLanguage() });
    setName("");
    created();
    return t("team.created");
  });
  return (
    <form class="card" aria-labelledby="team-create" onSubmit={form.onSubmit}>
      <h2 id="team-create">{t("team.create_title")}</h2>
      <Field label={t("team.create_name")}>
        <input required maxLength={120} value={name} onInput={(e) => setName(valueOf(e))} />
      </Field>
      <FormOutcome form={form} />
      <button type="submit" disabled={form.busy}>
        {t("team.create")}
      </button>
    </form>
  );
}

function CareGroup({ practices }: { practices: PracticeInfo[] }) {
  const session = useSession();
  const colleagues = colleaguesOf(practices, session.me);
  const [chosen, setChosen] = useState<number[]>([]);
  const form = useSubmit(async () => {
    const members = colleagues.filter((colleague) => chosen.includes(colleague.user));
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
                checked={chosen.includes(colleague.user)}
                onChange={(on) => setChosen(withItem(chosen, colleague.user, on))}
              >
                {colleague.name} <span class="muted">({colleagueRole(colleague)})</span>
              </Check>
            ))}
          </fieldset>
          <FormOutcome form={form} />
          <button class="primary" type="submit" disabled={form.busy || chosen.length === 0}>
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
