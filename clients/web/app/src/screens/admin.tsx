/** An admin's hold on accounts (docs/accounts.md, "Deactivation (admins)"
 * and "Verifying practitioners against the RPPS directory"): find accounts,
 * deactivate or reactivate one, take its second factor off, and verify a
 * practitioner against the imported directory of health professionals. */
import { useEffect, useState } from "preact/hooks";
import { CallError } from "../../../src/index.js";
import type { Role } from "../api.js";
import { useSession } from "../context.js";
import { ConfirmAction, type Option, SelectField, Table } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import type { Session } from "../session.js";
import { Action, Field, Loading, Page, Problem } from "../ui.js";
import { roleLabel } from "./colleagues.js";

defineTexts({
  "nav.admin": ["Administration", "Administration"], // the shell's link to this screen
  "admin.title": ["Administration", "Administration"],
  "admin.accounts": ["Comptes", "Accounts"],
  "admin.accounts_intro": [
    "Retrouvez un compte par son identifiant ou son nom, puis « Gérer » : le désactiver, retirer sa double authentification ou, pour un praticien, le vérifier.",
    "Find an account by its username or name, then “Manage”: deactivate it, remove its two-factor authentication or, for a practitioner, verify them.",
  ],
  "admin.query": ["Identifiant ou nom", "Username or name"],
  "admin.role": ["Rôle", "Role"],
  "admin.any_role": ["Tous les rôles", "Every role"],
  "admin.search": ["Rechercher", "Search"],
  "admin.none": ["Aucun compte ne correspond à cette recherche.", "No account matches this search."],
  "admin.more": ["Afficher plus de comptes", "Show more accounts"],
  "admin.column_name": ["Nom", "Name"],
  "admin.column_username": ["Identifiant", "Username"],
  "admin.column_verified": ["Vérifié", "Verified"],
  "admin.column_state": ["État", "Status"],
  "admin.column_actions": ["Actions", "Actions"],
  "admin.yes": ["Oui", "Yes"],
  "admin.no": ["Non", "No"],
  "admin.not_applicable": ["sans objet", "not applicable"],
  "admin.active": ["Actif", "Active"],
  "admin.inactive": ["Désactivé", "Deactivated"],
  "admin.deleted": ["Supprimé par son titulaire", "Deleted by its owner"],
  "admin.manage": ["Gérer", "Manage"],
  "admin.account_of": ["{name} · compte n° {id}", "{name} · account no. {id}"],
  "admin.own_account": [
    "C'est votre propre compte : gérez-le depuis « Compte ».",
    "This is your own account: manage it from “Account”.",
  ],
  "admin.deactivate": ["Désactiver le compte", "Deactivate the account"],
  "admin.deactivate_question": [
    "Désactiver le compte de {name} ? Ses sessions se terminent et il ne peut plus se connecter ; ses conversations restent.",
    "Deactivate {name}'s account? Their sessions end and they can no longer log in; their conversations stay.",
  ],
  "admin.deactivate_yes": ["Oui, désactiver", "Yes, deactivate"],
  "admin.deactivated": ["Le compte de {name} est désactivé.", "{name}'s account is deactivated."],
  "admin.already_deactivated": ["Le compte de {name} était déjà désactivé.", "{name}'s account was deactivated already."],
  "admin.reactivate": ["Réactiver le compte", "Reactivate the account"],
  "admin.reactivate_question": [
    "Réactiver le compte de {name} ? Il pourra de nouveau se connecter avec son mot de passe.",
    "Reactivate {name}'s account? They can log in with their password again.",
  ],
  "admin.reactivate_yes": ["Oui, réactiver", "Yes, reactivate"],
  "admin.reactivated": ["Le compte de {name} est réactivé.", "{name}'s account is reactivated."],
  "admin.already_active": ["Le compte de {name} était déjà actif.", "{name}'s account was active already."],
  "admin.reset": ["Retirer la double authentification", "Remove two-factor authentication"],
  "admin.reset_question": [
    "Retirer la double authentification de {name} ? Faites-le seulement après avoir vérifié son identité hors de carehub : ses sessions se terminent, et il se reconnecte avec son seul mot de passe.",
    "Remove {name}'s two-factor authentication? Only once you checked who they are outside carehub: their sessions end, and they log in again with their password alone.",
  ],
  "admin.reset_yes": ["Oui, retirer", "Yes, remove it"],
  "admin.reset_done": [
    "Double authentification de {name} retirée ; {count} session(s) terminée(s).",
    "{name}'s two-factor authentication removed; {count} session(s) ended.",
  ],
  "admin.no_second_factor": [
    "{name} n'a pas de double authentification : rien à retirer.",
    "{name} has no two-factor authentication: nothing to remove.",
  ],
  "admin.verify": ["Vérifier", "Verify"],
  "admin.verify_title": ["Vérifier {name}", "Verify {name}"],
  "admin.verify_intro": [
    "Retrouvez ce praticien dans l'annuaire des professionnels de santé (RPPS), puis vérifiez-le avec son numéro : carehub s'assure que l'annuaire donne ce numéro à ce nom.",
    "Find this practitioner in the directory of health professionals (RPPS), then verify them with their number: carehub makes sure the directory gives this number to this name.",
  ],
  "admin.directory_text": ["Numéro RPPS ou nom", "RPPS number or name"],
  "admin.directory_hint": [
    "Les premiers chiffres du numéro, ou une partie du nom (2 caractères au moins).",
    "The number's first digits, or part of the name (2 characters at least).",
  ],
  "admin.directory_search": ["Chercher dans l'annuaire", "Search the directory"],
  "admin.directory_found": ["Dans l'annuaire", "In the directory"],
  "admin.directory_none": [
    "Personne dans l'annuaire ne correspond à cette recherche.",
    "Nobody in the directory matches this search.",
  ],
  "admin.rpps": ["RPPS {rpps}", "RPPS {rpps}"],
  "admin.rpps_holder": ["vérifie déjà le compte n° {id}", "already verifies account no. {id}"],
  "admin.verify_with": ["Vérifier avec le n° {rpps}", "Verify with no. {rpps}"],
  "admin.verify_without": ["Vérifier sans numéro RPPS", "Verify without an RPPS number"],
  "admin.verify_without_question": [
    "Vérifier {name} sans numéro, sur votre seule parole ?",
    "Verify {name} without a number, on your word alone?",
  ],
  "admin.verify_without_yes": ["Oui, vérifier", "Yes, verify"],
  "admin.verified": ["{name} est vérifié(e).", "{name} is verified."],
  "admin.verified_with": ["{name} est vérifié(e) avec le n° RPPS {rpps}.", "{name} is verified with RPPS no. {rpps}."],
});

/** docs/protocol.schema.json `admin.users`. */
interface AdminUser {
  id: number;
  username: string;
  name: string;
  role: Role;
  verified: boolean;
  deactivated: boolean;
  /** Deleted by its owner: a tombstone no admin acts on. */
  deleted?: boolean;
}

/** docs/protocol.schema.json `admin.professionals`. */
interface Professional {
  rpps: string;
  last_name: string;
  first_name: string;
  profession: string;
  specialty?: string;
  /** The account already verified with this number. */
  account?: number | null;
}

interface Filter {
  query: string;
  role: Role | "";
}

/** The accounts found so far, and whether the server may have more. */
interface Listing {
  users: AdminUser[];
  more: boolean;
}

/** An action on an account: the account, and what to do once it is done. */
interface AccountChange {
  user: AdminUser;
  changed: (user: AdminUser) => void;
  told: (said: string) => void;
}

const PAGE_SIZE = 25;
const ROLES: Role[] = ["patient", "practitioner", "assistant", "bot", "admin"];
const COLUMNS = 6;

export function Admin() {
  const [search, setSearch] = useState<{ filter: Filter; round: number }>({ filter: { query: "", role: "" }, round: 0 });
  return (
    <Page title={t("admin.title")}>
      <section class="card" aria-labelledby="admin-accounts">
        <h2 id="admin-accounts">{t("admin.accounts")}</h2>
        <p class="muted">{t("admin.accounts_intro")}</p>
        <SearchForm searched={(filter) => setSearch({ filter, round: search.round + 1 })} />
        {/* A new search starts a new list: its pages, its open panel. */}
        <Accounts key={search.round} filter={search.filter} />
      </section>
    </Page>
  );
}

function SearchForm({ searched }: { searched: (filter: Filter) => void }) {
  const [draft, setDraft] = useState<Filter>({ query: "", role: "" });
  const roles: Option[] = [["", t("admin.any_role")], ...ROLES.map((role): Option => [role, roleLabel(role)])];
  const submit = (event: Event) => {
    event.preventDefault();
    searched({ ...draft, query: draft.query.trim() });
  };
  return (
    <form class="row bottom" role="search" onSubmit={submit}>
      <div class="grow">
        <Field label={t("admin.query")}>
          <input type="search" name="admin-query" maxLength={64} value={draft.query} onInput={(e) => setDraft({ ...draft, query: valueOf(e) })} />
        </Field>
      </div>
      <SelectField label={t("admin.role")} value={draft.role} options={roles} onChange={(role) => setDraft({ ...draft, role: role as Filter["role"] })} />
      {/* In a field's place, so that it lines up with the inputs. */}
      <div class="field">
        <button class="primary" type="submit">
          {t("admin.search")}
        </button>
      </div>
    </form>
  );
}

async function fetchAccounts(session: Session, filter: Filter, after: number | undefined): Promise<Listing> {
  const params = { query: filter.query, role: filter.role || null, after: after ?? null, limit: PAGE_SIZE };
  const { users } = await session.call<{ users: AdminUser[] }>("admin.users", params);
  return { users, more: users.length === PAGE_SIZE };
}

/** The accounts `filter` finds, a page at a time (by id: the next page starts after the last one seen). */
function Accounts({ filter }: { filter: Filter }) {
  const session = useSession();
  const [listing, setListing] = useState<Listing>();
  const [error, setError] = useState<unknown>();
  const [open, setOpen] = useState<number>();
  const next = async () => {
    const page = await fetchAccounts(session, filter, listing?.users[listing.users.length - 1]?.id);
    setListing((before) => ({ users: [...(before?.users ?? []), ...page.users], more: page.more }));
  };
  useEffect(() => void next().catch(setError), []); // the first page
  if (!listing) return <Loading error={error} />;
  if (listing.users.length === 0) return <p>{t("admin.none")}</p>;
  // The server said it is done: the row changes in place, without asking again.
  const changed = (user: AdminUser) =>
    setListing((before) => before && { ...before, users: before.users.map((u) => (u.id === user.id ? user : u)) });
  return (
    <>
      <AccountTable users={listing.users} open={open} toggle={(id) => setOpen(open === id ? undefined : id)} changed={changed} />
      {listing.more && (
        <div class="row">
          <Action label={t("admin.more")} action={next} />
        </div>
      )}
    </>
  );
}

function AccountTable(props: {
  users: AdminUser[];
  open: number | undefined;
  toggle: (id: number) => void;
  changed: (user: AdminUser) => void;
}) {
  const head = [
    t("admin.column_name"),
    t("admin.column_username"),
    t("admin.role"),
    t("admin.column_verified"),
    t("admin.column_state"),
    { hidden: t("admin.column_actions") },
  ];
  return (
    <Table head={head} labelledBy="admin-accounts">
      {props.users.map((user) => (
        <AccountRows key={user.id} user={user} open={props.open === user.id} toggle={() => props.toggle(user.id)} changed={props.changed} />
      ))}
    </Table>
  );
}

function state(user: AdminUser) {
  if (user.deleted) return <span class="pill">{t("admin.deleted")}</span>;
  return user.deactivated ? <span class="pill">{t("admin.inactive")}</span> : t("admin.active");
}

/** An account's row, and under it, once opened, what can be done to it. */
function AccountRows(props: { user: AdminUser; open: boolean; toggle: () => void; changed: (user: AdminUser) => void }) {
  const { user, open } = props;
  const panel = `admin-account-${user.id}`;
  return (
    <>
      <tr>
        <td>{user.name}</td>
        <td>{user.username}</td>
        <td>{roleLabel(user.role)}</td>
        <td>
          <Verified user={user} />
        </td>
        <td>{state(user)}</td>
        <td>
          {!user.deleted && (
            <button type="button" aria-expanded={open} aria-controls={open ? panel : undefined} onClick={props.toggle}>
              {t("admin.manage")}
              <span class="visually-hidden"> {user.name}</span>
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={COLUMNS} id={panel}>
            <AccountPanel user={user} changed={props.changed} />
          </td>
        </tr>
      )}
    </>
  );
}

/** Only practitioners are verified; for anyone else the question does not arise. */
function Verified({ user }: { user: AdminUser }) {
  if (user.role === "practitioner") return <>{user.verified ? t("admin.yes") : t("admin.no")}</>;
  return (
    <span class="muted">
      <span aria-hidden="true">—</span>
      <span class="visually-hidden">{t("admin.not_applicable")}</span>
    </span>
  );
}

function AccountPanel({ user, changed }: { user: AdminUser; changed: (user: AdminUser) => void }) {
  const session = useSession();
  const [said, setSaid] = useState<string>();
  const [verifying, setVerifying] = useState(false);
  const heading = `admin-account-${user.id}-name`;
  const unverified = user.role === "practitioner" && !user.verified;
  const verified = (sentence: string) => {
    changed({ ...user, verified: true });
    setVerifying(false);
    setSaid(sentence);
  };
  return (
    <section aria-labelledby={heading}>
      <h3 id={heading} class="subhead">
        {t("admin.account_of", { name: user.name, id: user.id })}
      </h3>
      {user.id === session.me ? (
        <p class="muted">{t("admin.own_account")}</p>
      ) : (
        <div class="row">
          <Activation user={user} changed={changed} told={setSaid} />
          <ResetSecondFactor user={user} told={setSaid} />
          {unverified && !verifying && (
            <button type="button" aria-expanded={false} onClick={() => setVerifying(true)}>
              {t("admin.verify")}
            </button>
          )}
        </div>
      )}
      {said && (
        <p class="ok" role="status">
          {said}
        </p>
      )}
      {unverified && verifying && <Verification user={user} verified={verified} cancel={() => setVerifying(false)} />}
    </section>
  );
}

function isConflict(error: unknown): boolean {
  return error instanceof CallError && error.code === "conflict";
}

/** Whether `call` did it: false when the account already was so (a
 * conflict: another admin was first, and the outcome is the one wanted). */
async function didIt(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (failure) {
    if (isConflict(failure)) return false;
    throw failure;
  }
}

/** Deactivate an active account, reactivate a deactivated one: each asked
 * first (keyed apart: done, the other one starts with its button, not its question). */
function Activation({ user, changed, told }: AccountChange) {
  const session = useSession();
  const name = { name: user.name };
  const become = (deactivated: boolean, done: string, already: string) => async () => {
    const method = deactivated ? "admin.deactivate" : "admin.reactivate";
    const first = await didIt(session.call(method, { user: user.id }));
    changed({ ...user, deactivated });
    told(first ? done : already);
  };
  if (user.deactivated) {
    const reactivate = become(false, t("admin.reactivated", name), t("admin.already_active", name));
    return (
      <ConfirmAction key="reactivate" label={t("admin.reactivate")} question={t("admin.reactivate_question", name)} confirm={t("admin.reactivate_yes")} action={reactivate} />
    );
  }
  const deactivate = become(true, t("admin.deactivated", name), t("admin.already_deactivated", name));
  return (
    <ConfirmAction key="deactivate" label={t("admin.deactivate")} question={t("admin.deactivate_question", name)} confirm={t("admin.deactivate_yes")} action={deactivate} />
  );
}

/** `call`'s result; a conflict becomes `sentence` (why there was nothing to do, said plainly). */
async function unlessConflict<T>(call: Promise<T>, sentence: string): Promise<T> {
  try {
    return await call;
  } catch (failure) {
    throw isConflict(failure) ? new Problem(sentence) : failure;
  }
}

/** For someone who lost their phone and their recovery codes. */
function ResetSecondFactor({ user, told }: { user: AdminUser; told: (said: string) => void }) {
  const session = useSession();
  const [round, setRound] = useState(0);
  const name = { name: user.name };
  const reset = async () => {
    const call = session.call<{ ended: number }>("admin.reset_second_factor", { user: user.id });
    const { ended } = await unlessConflict(call, t("admin.no_second_factor", name));
    setRound(round + 1); // done: the button again, not the question
    told(t("admin.reset_done", { ...name, count: ended }));
  };
  return (
    <ConfirmAction key={round} label={t("admin.reset")} question={t("admin.reset_question", name)} confirm={t("admin.reset_yes")} action={reset} />
  );
}

/** A practitioner verified with the number the directory gives their name, or without one. */
function Verification(props: { user: AdminUser; verified: (said: string) => void; cancel: () => void }) {
  const { user } = props;
  const session = useSession();
  const [text, setText] = useState("");
  const [found, setFound] = useState<Professional[]>();
  const form = useSubmit(async () => {
    const answer = await session.call<{ professionals: Professional[] }>("admin.professionals", { text: text.trim() });
    setFound(answer.professionals);
  });
  const verify = (rpps: string | null) => async () => {
    await session.call("admin.verify", { user: user.id, rpps });
    const name = user.name;
    props.verified(rpps ? t("admin.verified_with", { name, rpps }) : t("admin.verified", { name }));
  };
  const heading = `admin-verify-${user.id}`;
  return (
    <section aria-labelledby={heading}>
      <h4 id={heading} class="subhead spaced">
        {t("admin.verify_title", { name: user.name })}
      </h4>
      <p class="muted">{t("admin.verify_intro")}</p>
      <form onSubmit={form.onSubmit}>
        <Field label={t("admin.directory_text")} hint={t("admin.directory_hint")}>
          <input
            name="directory-text"
            required
            minLength={2}
            maxLength={64}
            value={text}
            onInput={(e) => {
              setText(valueOf(e));
              form.edited();
            }}
          />
        </Field>
        <SubmitRow form={form} label={t("admin.directory_search")} cancel={props.cancel} />
      </form>
      {found && <Professionals found={found} verify={verify} />}
      <div class="row">
        <ConfirmAction
          label={t("admin.verify_without")}
          question={t("admin.verify_without_question", { name: user.name })}
          confirm={t("admin.verify_without_yes")}
          action={verify(null)}
        />
      </div>
    </section>
  );
}

function Professionals(props: { found: Professional[]; verify: (rpps: string) => () => Promise<void> }) {
  if (props.found.length === 0) return <p>{t("admin.directory_none")}</p>;
  return (
    <ul aria-label={t("admin.directory_found")}>
      {props.found.map((professional) => (
        <li key={professional.rpps} class="row">
          <span class="grow">
            <strong>
              {professional.first_name} {professional.last_name}
            </strong>
            <br />
            <span class="muted">
              {[professional.profession, professional.specialty].filter(Boolean).join(", ")} ·{" "}
              {t("admin.rpps", { rpps: professional.rpps })}
              {professional.account != null && <> · {t("admin.rpps_holder", { id: professional.account })}</>}
            </span>
          </span>
          {professional.account == null && (
            <Action label={t("admin.verify_with", { rpps: professional.rpps })} action={props.verify(professional.rpps)} />
          )}
        </li>
      ))}
    </ul>
  );
}
