/** A forgotten password (docs/accounts.md): asking for a link by email, and
 * the page that link opens (`#reset=<token>`: a fragment, which the browser
 * sends to no server) to choose a new one. */
import { useState } from "preact/hooks";
import { AuthError, forgotPassword, resetPassword } from "../../../src/index.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { LanguageSwitch } from "../language-switch.js";
import { Field, Problem } from "../ui.js";

defineTexts({
  "reset.forgot_title": ["Mot de passe oublié", "Forgotten password"],
  "reset.forgot_intro": [
    "Saisissez votre identifiant : si votre compte a une adresse de secours, un lien pour choisir un nouveau mot de passe y est envoyé.",
    "Enter your username: if your account has a recovery address, a link to choose a new password is sent there.",
  ],
  "reset.send": ["Envoyer le lien", "Send the link"],
  "reset.sent": [
    "Si ce compte a une adresse de secours, un e-mail vient d'y partir. Le lien sert une fois, pendant 30 minutes.",
    "If this account has a recovery address, an email is on its way there. The link works once, for 30 minutes.",
  ],
  "reset.back": ["Retour à la connexion", "Back to logging in"],
  "reset.title": ["Choisir un nouveau mot de passe", "Choose a new password"],
  "reset.intro": [
    "Toutes vos sessions seront terminées : reconnectez-vous ensuite avec le nouveau mot de passe.",
    "Every one of your sessions will end: log in again afterwards with the new password.",
  ],
  "reset.new": ["Nouveau mot de passe", "New password"],
  "reset.again": ["Le même, une seconde fois", "The same again"],
  "reset.mismatch": ["Les deux mots de passe diffèrent.", "The two passwords differ."],
  "reset.submit": ["Changer le mot de passe", "Change the password"],
  "reset.stale": [
    "Ce lien est inconnu, expiré ou a déjà servi : demandez-en un nouveau.",
    "This link is unknown, expired or already used: ask for a new one.",
  ],
  "reset.done": ["Mot de passe changé : connectez-vous.", "Password changed: please log in."],
});

/** The token a reset link carries, if this page was opened by one. */
export function resetToken(hash: string): string | undefined {
  const match = /^#reset=([A-Za-z0-9_-]+)$/.exec(hash);
  return match?.[1];
}

export function ForgotPassword(props: { back: () => void }) {
  const [username, setUsername] = useState("");
  const form = useSubmit(async () => {
    await forgotPassword(location.origin, username.trim());
    return t("reset.sent");
  });
  return (
    <main class="signin">
      <div class="row">
        <h1 class="grow">{t("reset.forgot_title")}</h1>
        <LanguageSwitch class="link" />
      </div>
      <p class="muted">{t("reset.forgot_intro")}</p>
      <form onSubmit={form.onSubmit}>
        <Field label={t("signin.username")}>
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(valueOf(e))} />
        </Field>
        <SubmitRow form={form} label={t("reset.send")} />
      </form>
      <button type="button" class="link" onClick={props.back}>
        {t("reset.back")}
      </button>
    </main>
  );
}

export function ResetPassword(props: { token: string; done: (notice: string) => void }) {
  const [fields, setFields] = useState({ password: "", again: "" });
  const form = useSubmit(async () => {
    if (fields.password !== fields.again) throw new Problem(t("reset.mismatch"));
    try {
      await resetPassword(location.origin, props.token, fields.password);
    } catch (failure) {
      if (failure instanceof AuthError) throw new Problem(t("reset.stale"));
      throw failure;
    }
    props.done(t("reset.done"));
  });
  const edit = (change: Partial<typeof fields>) => {
    setFields({ ...fields, ...change });
    form.edited();
  };
  return (
    <main class="signin">
      <div class="row">
        <h1 class="grow">{t("reset.title")}</h1>
        <LanguageSwitch class="link" />
      </div>
      <p class="muted">{t("reset.intro")}</p>
      <form onSubmit={form.onSubmit}>
        <Field label={t("reset.new")} hint={t("signin.password_hint")}>
          <input type="password" name="password" autocomplete="new-password" required minLength={12} value={fields.password} onInput={(e) => edit({ password: valueOf(e) })} />
        </Field>
        <Field label={t("reset.again")}>
          <input type="password" name="again" autocomplete="new-password" required minLength={12} value={fields.again} onInput={(e) => edit({ again: valueOf(e) })} />
        </Field>
        <SubmitRow form={form} label={t("reset.submit")} />
      </form>
    </main>
  );
}
