/** Small pieces every screen uses: a labelled field, an error line that
 * says what went wrong in the reader's language, an async action button. */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { CallError, Disconnected, E2EError } from "../../src/index.js";
import { defineTexts, t } from "./i18n.js";

defineTexts({
  "error.invalid": ["La demande n'est pas valide.", "The request is not valid."],
  "error.unknown_method": ["Cette opération n'existe pas.", "This operation does not exist."],
  "error.unauthorized": ["Reconnectez-vous.", "Please log in again."],
  "error.forbidden": ["Vous n'y avez pas accès.", "You do not have access to this."],
  "error.not_found": ["Introuvable.", "Not found."],
  "error.conflict": ["Cela vient de changer : réessayez.", "This just changed: try again."],
  "error.too_large": ["C'est trop volumineux.", "This is too large."],
  "error.quota_exceeded": ["Votre espace de stockage est plein.", "Your storage is full."],
  "error.rate_limited": ["Trop de demandes : patientez un instant.", "Too many requests: wait a moment."],
  "error.unavailable": [
    "Le service est momentanément indisponible : réessayez.",
    "The service is briefly unavailable: try again.",
  ],
  "error.other": ["Une erreur s'est produite.", "Something went wrong."],
  "error.e2e.IdentityChanged": [
    "La clé de sécurité d'un participant a changé : vérifiez-la avant d'écrire.",
    "A participant's security key changed: verify it before writing.",
  ],
  "error.e2e.UntrustedDevices": [
    "Un participant n'a pas encore d'appareil vérifié (peut-être ne s'est-il jamais connecté) : rien n'a été envoyé.",
    "A participant has no verified device yet (perhaps they never logged in): nothing was sent.",
  ],
  "error.e2e.other": [
    "Le chiffrement a refusé cette opération : rien n'a été envoyé.",
    "Encryption refused this operation: nothing was sent.",
  ],
  "error.offline": ["Pas de connexion : réessayez dans un instant.", "No connection: try again in a moment."],
  "common.loading": ["Chargement…", "Loading…"],
  "common.save": ["Enregistrer", "Save"],
  "common.saved": ["Enregistré.", "Saved."],
  "common.cancel": ["Annuler", "Cancel"],
  "common.delete": ["Supprimer", "Delete"],
  "common.close": ["Fermer", "Close"],
  "common.add": ["Ajouter", "Add"],
  "common.none": ["Aucun pour l'instant.", "None yet."],
});

/** Why something was not done, in our own words (the server was not asked). */
export class Problem extends Error {}

/** What a person reads for a failure: our own sentence, the server's worded
 * refusal when it has one (in their language), else the code's sentence. */
export function describe(error: unknown): string {
  if (error instanceof Problem) return error.message;
  if (error instanceof CallError) {
    const reason = (error.details as { reason?: unknown }).reason;
    if (typeof reason === "string" && error.description) return error.description;
    const key = `error.${error.code}`;
    const text = t(key);
    return text === key ? t("error.other") : text;
  }
  if (error instanceof E2EError) {
    const key = `error.e2e.${error.name}`;
    const text = t(key);
    return text === key ? t("error.e2e.other") : text;
  }
  if (error instanceof Disconnected) return t("error.offline");
  return t("error.other");
}

export function ErrorLine({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

export function Field(props: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

/** A button-like label that opens the file chooser: the browser's own
 * control would say "No file chosen" (in its own language) beside files
 * already attached. `label` is shown, or only read out when `iconOnly`. */
export function AttachButton(props: { label: string; iconOnly?: boolean; multiple?: boolean; chosen: (files: File[]) => void }) {
  return (
    <label class="attach" title={props.iconOnly ? props.label : undefined}>
      <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
        <path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8" />
      </svg>
      <span class={props.iconOnly ? "visually-hidden" : undefined}>{props.label}</span>
      <input
        type="file"
        name="attachment"
        multiple={props.multiple}
        onChange={(event) => {
          const input = event.target as HTMLInputElement;
          props.chosen(Array.from(input.files ?? []));
          input.value = ""; // the same file can be chosen again after removing it
        }}
      />
    </label>
  );
}

/** A button that runs `action`, shows it is busy, and reports a failure beside it. */
export function Action(props: {
  label: string;
  action: () => Promise<unknown>;
  kind?: "primary" | "secondary" | "danger";
  disabled?: boolean;
  done?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    setDone(false);
    try {
      await props.action();
      setDone(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={props.kind ?? "secondary"} disabled={busy || props.disabled} onClick={run}>
        {props.label}
      </button>
      {done && props.done && (
        <span class="ok" role="status">
          {props.done}
        </span>
      )}
      <ErrorLine error={error} />
    </span>
  );
}

/** Data a screen loads from the server; reloads when a dependency changes. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { value?: T; error?: unknown; reload: () => void } {
  const [state, setState] = useState<{ value?: T; error?: unknown }>({});
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setState({ value }),
      (error: unknown) => current && setState({ error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

export function Loading(props: { error?: unknown }) {
  return props.error ? <ErrorLine error={props.error} /> : <p class="muted">{t("common.loading")}</p>;
}

export function Page(props: { title: string; children: ComponentChildren; actions?: JSX.Element }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}
