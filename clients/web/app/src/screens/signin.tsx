/** Log in (with the second factor's code once the account has one, after
 * enrolling one where the deployment requires it), create a patient's or
 * practitioner's account, or ask for a reset link. */
import { useState } from "preact/hooks";
import { AuthError, CallError, register } from "../../../src/index.js";
import { currentLanguage, defineTexts, t } from "../i18n.js";
import { LanguageSwitch } from "../language-switch.js";
import { Session } from "../session.js";
import { ErrorLine, Field, Problem } from "../ui.js";
import { ForgotPassword } from "./password-reset.js";
import { EnrolSecondFactor, RecoveryCodes, typedCode } from "./second-factor.js";

/** The server's alphabet of usernames (``protocol.http.Username``), as the
 * browser compiles a ``pattern``: with the v flag, where "-" is escaped. */
const USERNAME = "[a-zA-Z0-9_.@+\\-]+";

defineTexts({
  "signin.title": ["Connexion à carehub", "Log in to carehub"],
  "signin.tagline": [
    "La messagerie chiffrée entre patients et soignants.",
    "Encrypted messaging between patients and their carers.",
  ],
  "signin.username": ["Identifiant", "Username"],
  "signin.password": ["Mot de passe", "Password"],
  "signin.submit": ["Se connecter", "Log in"],
  "signin.create": ["Créer un compte", "Create an account"],
  "signin.have_account": ["J'ai déjà un compte", "I already have an account"],
  "signin.register_title": ["Créer un compte", "Create an account"],
  "signin.name": ["Nom affiché", "Display name"],
  "signin.name_hint": ["Tel que vos soignants le verront.", "As your carers will see it."],
  "signin.role": ["Je suis", "I am"],
  "signin.role.patient": ["Patient", "A patient"],
  "signin.role.practitioner": ["Professionnel de santé", "A health professional"],
  "signin.password_hint": ["12 caractères au moins.", "At least 12 characters."],
  "signin.register_submit": ["Créer mon compte", "Create my account"],
  "signin.failed": ["Identifiant ou mot de passe incorrect.", "Wrong username or password."],
  "signin.busy": ["Connexion…", "Logging in…"],
  "signin.username_hint": [
    "3 à 64 caractères : lettres sans accent, chiffres, et . _ @ + -",
    "3 to 64 characters: unaccented letters, digits, and . _ @ + -",
  ],
  "signin.code": ["Code de votre application d'authentification", "Code from your authenticator app"],
  "signin.code_hint": [
    "Six chiffres, ou l'un de vos codes de secours.",
    "Six digits, or one of your recovery codes.",
  ],
  "signin.wrong_code": ["Ce code est incorrect ou a déjà servi.", "This code is wrong or was already used."],
  "signin.enrol": [
    "Votre service demande une double authentification pour votre compte : activez-la pour vous connecter.",
    "Your service requires two-factor authentication for your account: turn it on to log in.",
  ],
  "signin.next_code": [
    "Double authentification activée. Attendez le code suivant de l'application, puis saisissez-le pour vous connecter.",
    "Two-factor authentication is on. Wait for the app's next code, then enter it to log in.",
  ],
  "signin.forgot": ["Mot de passe oublié ?", "Forgot your password?"],
  "signin.email": ["Adresse e-mail (facultatif)", "Email address (optional)"],
  "signin.born": ["Date de naissance (facultatif)", "Date of birth (optional)"],
  "signin.born_hint": [
    "Vos soignants vous retrouvent par votre nom et votre date de naissance.",
    "Your carers find you by your name and date of birth.",
  ],
  "signin.email_hint": [
    "Seulement pour vous envoyer un lien de réinitialisation, si besoin.",
    "Only to send you a reset link, should you need one.",
  ],
  "signin.taken": ["Cet identifiant est déjà pris : choisissez-en un autre.", "This username is taken: choose another."],
});

/** What the login asks next, once the password was right. */
type Step =
  | { kind: "password" }
  | { kind: "code"; username: string; password: string; wrong: boolean }
  | { kind: "enrol"; username: string; password: string }
  | { kind: "enrolled"; username: string; password: string; codes: string[]; wrong: boolean };

export function SignIn(props: { notice?: string | undefined; signedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<"login" | "register" | "forgot">("login");
  const [step, setStep] = useState<Step>({ kind: "password" });
  if (mode === "forgot") return <ForgotPassword back={() => setMode("login")} />;
  if (step.kind !== "password") {
    return <SecondStep step={step} setStep={setStep} signedIn={props.signedIn} />;
  }
  return (
    <PasswordStep
      notice={props.notice}
      creating={mode === "register"}
      setCreating={(creating) => setMode(creating ? "register" : "login")}
      forgot={() => setMode("forgot")}
      next={setStep}
      signedIn={props.signedIn}
    />
  );
}

/** Why a right password did not log in yet: a code to give, or a second factor to enrol. */
function stepAfter(failure: unknown, username: string, password: string): Step | undefined {
  const reason = (failure as { details?: { reason?: unknown } }).details?.reason;
  if (failure instanceof AuthError && reason === "second_factor") return { kind: "code", username, password, wrong: false };
  if (failure instanceof CallError && reason === "enrol_second_factor") return { kind: "enrol", username, password };
  return undefined;
}

function PasswordStep(props: {
  notice?: string | undefined;
  creating: boolean;
  setCreating: (creating: boolean) => void;
  forgot: () => void;
  next: (step: Step) => void;
  signedIn: (session: Session) => void;
}) {
  const { creating, setCreating } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [failed, setFailed] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const field = (name: string) => String(form.get(name) ?? "");
    setBusy(true);
    setError(undefined);
    setFailed(false);
    try {
      if (creating) {
        const email = field("email").trim() || undefined;
        const born = field("birth_date") || undefined;
        await register(location.origin, field("username"), field("password"), field("name"), field("role") as "patient", currentLanguage(), email, born);
      }
      props.signedIn(await Session.login(field("username"), field("password")));
    } catch (failure) {
      const next = stepAfter(failure, field("username"), field("password"));
      if (next) props.next(next);
      else if (failure instanceof AuthError) setFailed(true);
      else if (creating && failure instanceof CallError && failure.code === "conflict") setError(new Problem(t("signin.taken")));
      else setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <div class="row">
        <h1 class="grow">{creating ? t("signin.register_title") : t("signin.title")}</h1>
        <LanguageSwitch class="link" />
      </div>
      <p class="muted">{t("signin.tagline")}</p>
      {props.notice && (
        <p class="error" role="alert">
          {props.notice}
        </p>
      )}
      <form onSubmit={submit}>
        <Field label={t("signin.username")} hint={creating ? t("signin.username_hint") : undefined}>
          {/* A new username only is checked: signing in takes any (an account
              made with `carehub create-user`). Another element for each, as a
              pattern taken off an element is left empty, which refuses all. */}
          {creating ? (
            <input key="new" name="username" autocomplete="username" required minLength={3} maxLength={64} pattern={USERNAME} />
          ) : (
            <input key="known" name="username" autocomplete="username" required maxLength={64} />
          )}
        </Field>
        {creating && (
          <>
            <Field label={t("signin.name")} hint={t("signin.name_hint")}>
              <input name="name" autocomplete="name" required />
            </Field>
            <Field label={t("signin.born")} hint={t("signin.born_hint")}>
              <input name="birth_date" type="date" autocomplete="bday" />
            </Field>
            <Field label={t("signin.email")} hint={t("signin.email_hint")}>
              <input name="email" type="email" autocomplete="email" />
            </Field>
            <fieldset class="field">
              <legend class="label">{t("signin.role")}</legend>
              <label>
                <input type="radio" name="role" value="patient" checked /> {t("signin.role.patient")}
              </label>
              <label>
                <input type="radio" name="role" value="practitioner" /> {t("signin.role.practitioner")}
              </label>
            </fieldset>
          </>
        )}
        <Field label={t("signin.password")} hint={creating ? t("signin.password_hint") : undefined}>
          <input
            name="password"
            type="password"
            autocomplete={creating ? "new-password" : "current-password"}
            required
            minLength={creating ? 12 : 1}
          />
        </Field>
        {failed && (
          <p class="error" role="alert">
            {t("signin.failed")}
          </p>
        )}
        <ErrorLine error={error} />
        <div class="row">
          <button class="primary" type="submit" disabled={busy}>
            {busy ? t("signin.busy") : creating ? t("signin.register_submit") : t("signin.submit")}
          </button>
          <button type="button" class="link" onClick={() => {
              setCreating(!creating);
              setError(undefined); // what went wrong belongs to the other form
              setFailed(false);
            }}>
            {creating ? t("signin.have_account") : t("signin.create")}
          </button>
          {!creating && (
            <button type="button" class="link" onClick={props.forgot}>
              {t("signin.forgot")}
            </button>
          )}
        </div>
      </form>
    </main>
  );
}

/** The code (after the password, or after enrolling), or the enrolment itself. */
function SecondStep(props: { step: Exclude<Step, { kind: "password" }>; setStep: (step: Step) => void; signedIn: (session: Session) => void }) {
  const { step, setStep } = props;
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  if (step.kind === "enrol") {
    return (
      <main class="signin">
        <h1>{t("signin.title")}</h1>
        <p>{t("signin.enrol")}</p>
        <EnrolSecondFactor
          username={step.username}
          password={step.password}
          enabled={(codes) => setStep({ ...step, kind: "enrolled", codes, wrong: false })}
        />
      </main>
    );
  }
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.signedIn(await Session.login(step.username, step.password, typedCode(code)));
    } catch (failure) {
      if (failure instanceof AuthError) setStep({ ...step, wrong: true }); // the recovery codes stay shown
      else setError(failure);
      setCode("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>{t("signin.title")}</h1>
      {step.kind === "enrolled" && (
        <>
          <RecoveryCodes codes={step.codes} />
          <p role="status">{t("signin.next_code")}</p>
        </>
      )}
      <form onSubmit={submit}>
        <Field label={t("signin.code")} hint={t("signin.code_hint")}>
          <input name="otp" autocomplete="one-time-code" required value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
        </Field>
        {step.wrong && (
          <p class="error" role="alert">
            {t("signin.wrong_code")}
          </p>
        )}
        <ErrorLine error={error} />
        <div class="row">
          <button class="primary" type="submit" disabled={busy}>
            {busy ? t("signin.busy") : t("signin.submit")}
          </button>
          <button type="button" class="link" onClick={() => setStep({ kind: "password" })}>
            {t("common.cancel")}
          </button>
        </div>
      </form>
    </main>
  );
}
