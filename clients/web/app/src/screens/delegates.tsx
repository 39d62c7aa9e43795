/** Delegations (docs/e2e.md): a practitioner lets an assistant or a bot of
 * their practice act for them, signed with their identity key; an
 * assistant sees whose inbox they work. */
import { useState } from "preact/hooks";
import { Scope } from "../../../src/index.js";
import { useSession } from "../context.js";
import { Check, ConfirmAction, type Option, SelectField, withItem } from "../controls.js";
import { FormOutcome, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatDateTime, t } from "../i18n.js";
import { lastMomentOf, today } from "../local-time.js";
import { fetchNames, nameOrNumber } from "../names.js";
import { useTopic } from "../store.js";
import { Action, Field, Loading, Problem, useLoad } from "../ui.js";
import { type Colleague, type PracticeInfo, colleagueRole, colleaguesOf } from "./colleagues.js";
import type { Delegation, DelegationsList } from "./delegations.js";

defineTexts({
  "practice.until": ["jusqu'au {date}", "until {date}"],
  "practice.no_end": ["sans date de fin", "no end date"],
  "practice.expired": ["expirée le {date}", "expired on {date}"],
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

function expiryText(expires: number | null | undefined, now = Date.now()): string {
  if (!expires) return t("practice.no_end");
  const date = formatDateTime(expires);
  return expires <= now ? t("practice.expired", { date }) : t("practice.until", { date });
}

/** "Read, Reply · until 3 June 2025 18:00": what a delegation allows, and how long. */
function DelegationTerms({ delegation }: { delegation: Delegation }) {
  const scopes = delegation.scope.map((scope) => t(`practice.scope.${scope}`)).join(", ");
  return (
    <>
      {scopes} · <span class="muted">{expiryText(delegation.expires)}</span>
    </>
  );
}

/** A practitioner's delegations: those given, those to drop from the signed list, and a new one. */
export function Delegates({ practices }: { practices: PracticeInfo[] }) {
  const session = useSession();
  const version = useTopic(session.store, "delegations");
  const list = useLoad(() => session.call<DelegationsList>("delegations.list", {}), [version]);
  const colleagues = colleaguesOf(practices, session.me);
  const eligible = colleagues.filter((c) => c.role === "assistant" || c.role === "bot");
  const names = new Map(colleagues.map((c) => [c.user, c.name]));
  const nameOf = (user: number) => nameOrNumber(names, user);
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
              <strong>{name}</strong> · <DelegationTerms delegation={given} />
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
  const [scopes, setScopes] = useState<Scope[]>([Scope.READ, Scope.REPLY]);
  const [until, setUntil] = useState("");
  const form = useSubmit(async () => {
    const expires = until ? lastMomentOf(until) : null;
    if (!user) throw new Problem(t("team.delegate_pick"));
    if (scopes.length === 0) throw new Problem(t("team.delegate_no_scope"));
    if (expires !== null && expires <= Date.now()) throw new Problem(t("team.delegate_past"));
    await props.delegate(Number(user), SCOPES.filter((scope) => scopes.includes(scope)), expires);
    return t("team.delegated");
  });
  return (
    <form onSubmit={form.onSubmit} aria-labelledby="team-delegate">
      <h3 id="team-delegate">{t("team.delegate_title")}</h3>
      <SelectField
        label={t("team.delegate_to")}
        value={user}
        options={[["", t("team.delegate_choose")], ...props.eligible.map(delegateOption)]}
        onChange={setUser}
      />
      <fieldset>
        <legend>{t("team.delegate_scopes")}</legend>
        {SCOPES.map((scope) => (
          <Check
            key={scope}
            checked={scopes.includes(scope)}
            onChange={(on) => setScopes(withScope(scopes, scope, on))}
          >
            <strong>{t(`practice.scope.${scope}`)}</strong>
            <span class="muted"> — {t(`practice.scope.${scope}.help`)}</span>
          </Check>
        ))}
      </fieldset>
      <Field label={t("team.delegate_until")} hint={t("team.delegate_until_hint")}>
        <input type="date" min={today()} value={until} onInput={(e) => setUntil(valueOf(e))} />
      </Field>
      <FormOutcome form={form} />
      <button class="primary" type="submit" disabled={form.busy}>
        {t("team.delegate")}
      </button>
    </form>
  );
}

function delegateOption(colleague: Colleague): Option {
  return [String(colleague.user), `${colleague.name} (${colleagueRole(colleague)})`];
}

/** Replying needs reading: ticking reply ticks read, unticking read unticks reply. */
function withScope(scopes: Scope[], scope: Scope, on: boolean): Scope[] {
  const next = withItem(scopes, scope, on);
  if (on && scope === Scope.REPLY) return withItem(next, Scope.READ, true);
  if (!on && scope === Scope.READ) return withItem(next, Scope.REPLY, false);
  return next;
}

/** An assistant's (or a bot's) view: whose inbox they work, read-only. */
export function WorkingFor() {
  const session = useSession();
  const version = useTopic(session.store, "delegations");
  const load = async () => {
    const { received } = await session.call<DelegationsList>("delegations.list", {});
    return { received, names: await fetchNames(session, received.map((delegation) => delegation.principal)) };
  };
  const found = useLoad(load, [version]);
  return (
    <section class="card" aria-labelledby="team-working-for">
      <h2 id="team-working-for">{t("team.working_for")}</h2>
      {found.value ? <Principals {...found.value} /> : <Loading error={found.error} />}
      <p class="muted">{t("team.working_for_help")}</p>
    </section>
  );
}

function Principals(props: { received: Delegation[]; names: Map<number, string> }) {
  if (props.received.length === 0) return <p>{t("team.working_for_none")}</p>;
  return (
    <ul>
      {props.received.map((delegation) => (
        <li key={delegation.principal}>
          <strong>{nameOrNumber(props.names, delegation.principal)}</strong> ·{" "}
          <DelegationTerms delegation={delegation} />
        </li>
      ))}
    </ul>
  );
}
