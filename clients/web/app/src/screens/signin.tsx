/** Log in, or create a patient's or practitioner's account. */
import { useState } from "preact/hooks";
import { CallError, register } from "../../../src/index.js";
import { currentLanguage, defineTexts, t } from "../i18n.js";
import { LanguageSwitch } from "../language-switch.js";
import { Session } from "../session.js";
import { ErrorLine, Field, Problem } from "../ui.js";

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
  "signin.taken": ["Cet identifiant est déjà pris : choisissez-en un autre.", "This username is taken: choose another."],
});

export function SignIn(props: { notice?: string | undefined; signedIn: (session: Session) => void }) {
  const [creating, setCreating] = useState(false);
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
        await register(location.origin, field("username"), field("password"), field("name"), field("role") as "patient", currentLanguage());
      }
      props.signedIn(await Session.login(field("username"), field("password")));
    } catch (failure) {
      if ((failure as { name?: string }).name === "AuthError") setFailed(true);
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
          <input
            name="username"
            autocomplete="username"
            required
            minLength={3}
            maxLength={64}
            pattern="[a-zA-Z0-9_.@+\\-]+"
          />
        </Field>
        {creating && (
          <>
            <Field label={t("signin.name")} hint={t("signin.name_hint")}>
              <input name="name" autocomplete="name" required />
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
        </div>
      </form>
    </main>
  );
}
