/** The account's security (docs/accounts.md): where it is signed in, and
 * ending those sessions; the password; the address a reset link goes to;
 * the second factor; and the account's trail of all of it. */
import { useState } from "preact/hooks";
import { totpDisable } from "../../../src/index.js";
import { useSession } from "../context.js";
import { saveAs } from "../download.js";
import { exportConversations } from "../export.js";
import { ConfirmAction, Table } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatDateTime, t } from "../i18n.js";
import { Action, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";
import { EnrolSecondFactor, RecoveryCodes, typedCode } from "./second-factor.js";

defineTexts({
  "security.title": ["Sécurité du compte", "Account security"],
  "security.sessions": ["Où vous êtes connecté", "Where you are logged in"],
  "security.sessions_intro": [
    "Un téléphone perdu, un ordinateur resté connecté : terminez sa session, il devra se reconnecter avec votre mot de passe.",
    "A lost phone, a computer left logged in: end its session, and it must log in again with your password.",
  ],
  "security.column_device": ["Appareil", "Device"],
  "security.column_since": ["Connecté le", "Logged in on"],
  "security.column_until": ["Valable jusqu'au", "Valid until"],
  "security.column_action": ["Action", "Action"],
  "security.unnamed": ["Appareil n° {id}", "Device no. {id}"],
  "security.this": ["cette session", "this session"],
  "security.end": ["Terminer la session de {device}", "End the session of {device}"],
  "security.end_yes": ["Oui, terminer", "Yes, end it"],
  "security.end_others": ["Terminer toutes les autres sessions", "End every other session"],
  "security.ended": ["{count} session(s) terminée(s).", "{count} session(s) ended."],
  "security.password": ["Mot de passe", "Password"],
  "security.current": ["Mot de passe actuel", "Current password"],
  "security.new": ["Nouveau mot de passe", "New password"],
  "security.new_hint": ["12 caractères au moins.", "At least 12 characters."],
  "security.end_on_change": [
    "Déconnecter mes autres sessions (conseillé si vous pensez que votre mot de passe est connu d'un autre)",
    "Log my other sessions out (advised if you think someone else knows your password)",
  ],
  "security.change": ["Changer le mot de passe", "Change the password"],
  "security.changed": ["Mot de passe changé.", "Password changed."],
  "security.email": ["Adresse de secours", "Recovery address"],
  "security.email_intro": [
    "Si vous oubliez votre mot de passe, un lien pour en choisir un nouveau est envoyé à cette adresse.",
    "If you forget your password, a link to choose a new one is sent to this address.",
  ],
  "security.email_now": ["Adresse actuelle : {email}", "Current address: {email}"],
  "security.email_none": ["Aucune adresse : pas de réinitialisation par e-mail.", "No address: no reset by email."],
  "security.email_field": ["Adresse e-mail (vide : aucune)", "Email address (empty: none)"],
  "security.email_save": ["Enregistrer l'adresse", "Save the address"],
  "security.email_saved": ["Adresse enregistrée.", "Address saved."],
  "security.totp": ["Double authentification", "Two-factor authentication"],
  "security.totp_on": [
    "Activée : la connexion demande aussi le code de votre application. Codes de secours restants : {left}.",
    "On: logging in also asks for your app's code. Recovery codes left: {left}.",
  ],
  "security.totp_off": [
    "Désactivée : votre mot de passe suffit pour vous connecter.",
    "Off: your password alone logs you in.",
  ],
  "security.totp_required": [
    "Votre service l'exige pour votre compte : elle ne peut pas être désactivée.",
    "Your service requires it of your account: it cannot be turned off.",
  ],
  "security.totp_start": ["Activer", "Turn on"],
  "security.totp_disable": ["Désactiver la double authentification", "Turn two-factor authentication off"],
  "security.totp_code": ["Code de l'application ou code de secours", "The app's code or a recovery code"],
  "security.totp_disabled": ["Double authentification désactivée.", "Two-factor authentication turned off."],
  "security.trail": ["Historique du compte", "Account history"],
  "security.action.password_changed": ["Mot de passe changé", "Password changed"],
  "security.action.password_reset_sent": ["Lien de réinitialisation envoyé", "Reset link sent"],
  "security.action.password_reset": ["Mot de passe réinitialisé", "Password reset"],
  "security.action.email_changed": ["Adresse de secours modifiée", "Recovery address changed"],
  "security.action.totp_enabled": ["Double authentification activée", "Two-factor authentication on"],
  "security.action.totp_disabled": ["Double authentification désactivée", "Two-factor authentication off"],
  "security.action.recovery_code_used": ["Code de secours utilisé", "Recovery code used"],
  "security.action.wrong_code": ["Code erroné essayé", "Wrong code tried"],
  "security.action.totp_reset": [
    "Double authentification retirée par un administrateur",
    "Two-factor authentication removed by an admin",
  ],
  "security.action.session_ended": ["Session terminée", "Session ended"],
  "security.action.sessions_ended": ["Autres sessions terminées", "Other sessions ended"],
  "security.action.deactivated": ["Compte désactivé", "Account deactivated"],
  "security.action.reactivated": ["Compte réactivé", "Account reactivated"],
  "security.action.relative_withdrawn": ["Profil d'un proche abandonné", "A relative's profile given up"],
  "security.export": ["Mes données", "My data"],
  "security.export_intro": [
    "Téléchargez vos conversations et vos documents, déchiffrés sur cet appareil : une archive ZIP lisible dans n'importe quel navigateur, avec une copie au format FHIR pour un autre logiciel de santé.",
    "Download your conversations and documents, decrypted on this device: a ZIP archive any browser can read, with a FHIR copy for other health software.",
  ],
  "security.export_button": ["Exporter mes conversations", "Export my conversations"],
  "security.export_progress": ["Conversation {done} sur {of}…", "Conversation {done} of {of}…"],
  "security.export_done": [
    "Archive prête : {conversations} conversation(s), {messages} message(s), {documents} document(s).",
    "Archive ready: {conversations} conversation(s), {messages} message(s), {documents} document(s).",
  ],
  "security.export_unreadable": [
    "{count} message(s) illisible(s) sur cet appareil n'y sont pas.",
    "{count} message(s) this device cannot read are not in it.",
  ],
  "security.delete": ["Supprimer mon compte", "Delete my account"],
  "security.delete_intro": [
    "Vos appareils, vos réglages et votre accès disparaissent, et vos rendez-vous à venir sont annulés. Vos soignants gardent les conversations que vous avez eues avec eux : elles font partie de leur dossier médical. Pour en garder une copie, exportez vos données avant (ci-dessus).",
    "Your devices, settings and access are erased, and your appointments to come are cancelled. Your practitioners keep the conversations you had with them: they are part of their medical record. To keep a copy, export your data first (above).",
  ],
  "security.delete_understood": [
    "Je comprends que la suppression est définitive.",
    "I understand that deleting cannot be undone.",
  ],
  "security.delete_button": ["Supprimer définitivement mon compte", "Delete my account for good"],
  "security.deleted": ["Votre compte a été supprimé.", "Your account was deleted."],
});

interface SessionInfo {
  id: number;
  device: number;
  device_name: string;
  created_at: number;
  expires_at: number;
  current: boolean;
}

interface SecurityInfo {
  email: string | null;
  totp: boolean;
  totp_required: boolean;
  recovery_codes_left: number;
}

export function Security() {
  const session = useSession();
  const security = useLoad(() => session.call<SecurityInfo>("account.security", {}), []);
  return (
    <Page title={t("security.title")}>
      <Sessions />
      <PasswordChange />
      {security.value ? (
        <>
          <RecoveryEmail current={security.value.email} changed={security.reload} />
          <SecondFactor state={security.value} changed={security.reload} />
        </>
      ) : (
        <Loading error={security.error} />
      )}
      <Trail />
      <ExportData />
      {session.role !== "admin" && <DeleteAccount />}
    </Page>
  );
}

function Sessions() {
  const session = useSession();
  const listed = useLoad(() => session.call<{ sessions: SessionInfo[] }>("account.sessions", {}), []);
  const [ended, setEnded] = useState<number>();
  if (!listed.value) return <Loading error={listed.error} />;
  const name = (s: SessionInfo) => s.device_name || t("security.unnamed", { id: s.device });
  const end = (id: number) => async () => {
    await session.call("account.end_session", { session: id });
    setEnded(1);
    listed.reload();
  };
  const endOthers = async () => {
    const answer = await session.call<{ ended: number }>("account.end_other_sessions", {});
    setEnded(answer.ended);
    listed.reload();
  };
  const head = [t("security.column_device"), t("security.column_since"), t("security.column_until"), t("security.column_action")];
  return (
    <section class="card" aria-labelledby="security-sessions">
      <h2 id="security-sessions">{t("security.sessions")}</h2>
      <p class="muted">{t("security.sessions_intro")}</p>
      <Table head={head} labelledBy="security-sessions">
        {listed.value.sessions.map((s) => (
          <tr key={s.id}>
            <td>
              {name(s)} {s.current && <span class="pill">{t("security.this")}</span>}
            </td>
            <td>{formatDateTime(s.created_at)}</td>
            <td>{formatDateTime(s.expires_at)}</td>
            <td>
              {!s.current && (
                <ConfirmAction label={t("security.end", { device: name(s) })} confirm={t("security.end_yes")} action={end(s.id)} />
              )}
            </td>
          </tr>
        ))}
      </Table>
      {listed.value.sessions.length > 1 && <Action label={t("security.end_others")} action={endOthers} />}
      {ended !== undefined && (
        <p class="ok" role="status">
          {t("security.ended", { count: ended })}
        </p>
      )}
    </section>
  );
}

/** The account's username, hidden, in a form that asks for its password:
 * a password manager then knows whose password it is. */
function AccountName() {
  const session = useSession();
  return <input type="text" name="username" autocomplete="username" value={session.username} readOnly hidden />;
}

function PasswordChange() {
  const session = useSession();
  const [fields, setFields] = useState({ old: "", next: "", endOthers: true });
  const form = useSubmit(async () => {
    const params = { old_password: fields.old, new_password: fields.next, end_other_sessions: fields.endOthers };
    await session.call("account.password", params);
    setFields({ old: "", next: "", endOthers: true });
    return t("security.changed");
  });
  const edit = (change: Partial<typeof fields>) => {
    setFields({ ...fields, ...change });
    form.edited();
  };
  return (
    <section class="card" aria-labelledby="security-password">
      <h2 id="security-password">{t("security.password")}</h2>
      <form onSubmit={form.onSubmit}>
        <AccountName />
        <Field label={t("security.current")}>
          <input type="password" name="old-password" autocomplete="current-password" required value={fields.old} onInput={(e) => edit({ old: valueOf(e) })} />
        </Field>
        <Field label={t("security.new")} hint={t("security.new_hint")}>
          <input type="password" name="new-password" autocomplete="new-password" required minLength={12} value={fields.next} onInput={(e) => edit({ next: valueOf(e) })} />
        </Field>
        <label>
          <input type="checkbox" checked={fields.endOthers} onChange={(e) => edit({ endOthers: (e.target as HTMLInputElement).checked })} />{" "}
          {t("security.end_on_change")}
        </label>
        <SubmitRow form={form} label={t("security.change")} />
      </form>
    </section>
  );
}

function RecoveryEmail(props: { current: string | null; changed: () => void }) {
  const session = useSession();
  const [fields, setFields] = useState({ password: "", email: props.current ?? "" });
  const form = useSubmit(async () => {
    await session.call("account.email", { password: fields.password, email: fields.email.trim() || null });
    setFields({ ...fields, password: "" });
    props.changed();
    return t("security.email_saved");
  });
  const edit = (change: Partial<typeof fields>) => {
    setFields({ ...fields, ...change });
    form.edited();
  };
  return (
    <section class="card" aria-labelledby="security-email">
      <h2 id="security-email">{t("security.email")}</h2>
      <p class="muted">{t("security.email_intro")}</p>
      <p>{props.current ? t("security.email_now", { email: props.current }) : t("security.email_none")}</p>
      <form onSubmit={form.onSubmit}>
        <AccountName />
        <Field label={t("security.email_field")}>
          <input type="email" name="recovery-email" autocomplete="email" value={fields.email} onInput={(e) => edit({ email: valueOf(e) })} />
        </Field>
        <Field label={t("security.current")}>
          <input type="password" name="email-password" autocomplete="current-password" required value={fields.password} onInput={(e) => edit({ password: valueOf(e) })} />
        </Field>
        <SubmitRow form={form} label={t("security.email_save")} />
      </form>
    </section>
  );
}

function SecondFactor(props: { state: SecurityInfo; changed: () => void }) {
  const { state } = props;
  const [codes, setCodes] = useState<string[]>();
  return (
    <section class="card" aria-labelledby="security-totp">
      <h2 id="security-totp">{t("security.totp")}</h2>
      <p>{state.totp ? t("security.totp_on", { left: state.recovery_codes_left }) : t("security.totp_off")}</p>
      {state.totp_required && <p class="muted">{t("security.totp_required")}</p>}
      {codes && <RecoveryCodes codes={codes} />}
      {!state.totp && (
        <StartSecondFactor
          enabled={(given) => {
            setCodes(given);
            props.changed();
          }}
        />
      )}
      {state.totp && !state.totp_required && <StopSecondFactor changed={props.changed} />}
    </section>
  );
}

/** The password first (the HTTP endpoints ask for it: a stolen session alone cannot do this). */
function StartSecondFactor(props: { enabled: (codes: string[]) => void }) {
  const session = useSession();
  const [password, setPassword] = useState("");
  const [started, setStarted] = useState(false);
  if (started) {
    return (
      <>
        <EnrolSecondFactor username={session.username} password={password} enabled={props.enabled} />
        <button type="button" class="link" onClick={() => setStarted(false)}>
          {t("common.cancel")}
        </button>
      </>
    );
  }
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        setStarted(true);
      }}
    >
      <AccountName />
      <Field label={t("security.current")}>
        <input type="password" name="totp-password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(valueOf(e))} />
      </Field>
      <button type="submit" class="primary">
        {t("security.totp_start")}
      </button>
    </form>
  );
}

function StopSecondFactor(props: { changed: () => void }) {
  const session = useSession();
  const [fields, setFields] = useState({ password: "", code: "" });
  const form = useSubmit(async () => {
    await totpDisable(location.origin, session.username, fields.password, typedCode(fields.code));
    props.changed();
    return t("security.totp_disabled");
  });
  return (
    <form onSubmit={form.onSubmit}>
      <AccountName />
      <Field label={t("security.current")}>
        <input type="password" name="totp-off-password" autocomplete="current-password" required value={fields.password} onInput={(e) => setFields({ ...fields, password: valueOf(e) })} />
      </Field>
      <Field label={t("security.totp_code")}>
        <input name="totp-off-code" autocomplete="one-time-code" required value={fields.code} onInput={(e) => setFields({ ...fields, code: valueOf(e) })} />
      </Field>
      <SubmitRow form={form} label={t("security.totp_disable")} />
    </form>
  );
}

interface TrailEntry {
  id: number;
  at: number;
  action: string;
  actor: number | null;
  detail: string;
}

function Trail() {
  const session = useSession();
  const trail = useLoad(() => session.call<{ entries: TrailEntry[] }>("account.audit", { limit: 50 }), []);
  if (!trail.value) return <Loading error={trail.error} />;
  return (
    <section class="card" aria-labelledby="security-trail">
      <h2 id="security-trail">{t("security.trail")}</h2>
      {trail.value.entries.length === 0 ? (
        <p class="muted">{t("common.none")}</p>
      ) : (
        <ul>
          {trail.value.entries.map((entry) => (
            <li key={entry.id}>
              {formatDateTime(entry.at)} — {t(`security.action.${entry.action}`)}
            </li>
          ))}
        </ul>
      )}
      <ErrorLine error={trail.error} />
    </section>
  );
}

function ExportData() {
  const session = useSession();
  const [progress, setProgress] = useState<string>();
  const [summary, setSummary] = useState<string[]>([]);
  const run = async () => {
    setSummary([]);
    const { zip, done } = await exportConversations(session, (n, of) => setProgress(t("security.export_progress", { done: n, of })));
    setProgress(undefined);
    saveAs(zip, `carehub-${new Date().toISOString().slice(0, 10)}.zip`);
    const { conversations, messages, documents } = done;
    const said = [t("security.export_done", { conversations, messages, documents })];
    if (done.unreadable.length) said.push(t("security.export_unreadable", { count: done.unreadable.length }));
    setSummary(said);
  };
  return (
    <section class="card" aria-labelledby="security-export">
      <h2 id="security-export">{t("security.export")}</h2>
      <p class="muted">{t("security.export_intro")}</p>
      <Action label={t("security.export_button")} action={run} />
      {progress && <p role="status">{progress}</p>}
      {summary.map((line) => (
        <p class="ok" role="status" key={line}>
          {line}
        </p>
      ))}
    </section>
  );
}

function DeleteAccount() {
  const session = useSession();
  const [fields, setFields] = useState({ password: "", understood: false });
  const form = useSubmit(async () => {
    await session.deleteAccount(fields.password);
    session.left?.(t("security.deleted"));
    return t("security.deleted");
  });
  const edit = (change: Partial<typeof fields>) => {
    setFields({ ...fields, ...change });
    form.edited();
  };
  return (
    <section class="card danger" aria-labelledby="security-delete">
      <h2 id="security-delete">{t("security.delete")}</h2>
      <p class="muted">{t("security.delete_intro")}</p>
      <form onSubmit={form.onSubmit}>
        <AccountName />
        <Field label={t("security.current")}>
          <input type="password" name="delete-password" autocomplete="current-password" required value={fields.password} onInput={(e) => edit({ password: valueOf(e) })} />
        </Field>
        <label>
          <input type="checkbox" name="delete-understood" required checked={fields.understood} onChange={(e) => edit({ understood: (e.target as HTMLInputElement).checked })} />{" "}
          {t("security.delete_understood")}
        </label>
        <SubmitRow form={form} label={t("security.delete_button")} />
      </form>
    </section>
  );
}
