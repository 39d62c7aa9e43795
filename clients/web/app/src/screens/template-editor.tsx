/** Writing a reply template: its text with the variables to insert, a
 * preview filled with example values, and whether it expects a reply or
 * closes the conversation. */
import { useRef, useState } from "preact/hooks";
import { TemplateError, VARIABLES, render, variablesOf } from "../../../src/index.js";
import { useSession } from "../context.js";
import { CheckField, type Option, SelectField } from "../controls.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatDate, formatTime, t } from "../i18n.js";
import { Field } from "../ui.js";

defineTexts({
  "templates.edit_title": ["Modifier « {name} »", "Edit “{name}”"],
  "templates.name": ["Nom du modèle", "Template name"],
  "templates.text": ["Texte", "Text"],
  "templates.reply_allowed": ["Attend une réponse", "Expects a reply"],
  "templates.reply_allowed_hint": [
    "Décochez pour un message d'information : le patient ne pourra pas y répondre.",
    "Untick for an information message: the patient will not be able to answer it.",
  ],
  "templates.closes_thread": ["Clôt la conversation", "Closes the conversation"],
  "templates.closes_thread_hint": [
    "Envoyer ce modèle clôt aussi la conversation.",
    "Sending this template also closes the conversation.",
  ],
  "templates.home": ["Pour qui", "For whom"],
  "templates.variables": ["Variables disponibles", "Available variables"],
  "templates.insert": ["Insérer {name}", "Insert {name}"],
  "templates.insert_short": ["Insérer", "Insert"],
  "templates.variable.patient_first_name": ["Le prénom du patient.", "The patient's first name."],
  "templates.variable.patient_name": ["Le nom complet du patient.", "The patient's full name."],
  "templates.variable.practitioner_name": ["Le nom du praticien.", "The practitioner's name."],
  "templates.variable.practice_name": ["Le nom du cabinet.", "The practice's name."],
  "templates.variable.date": ["La date du jour de l'envoi.", "The date it is sent."],
  "templates.variable.time": ["L'heure de l'envoi.", "The time it is sent."],
  "templates.variable.response_delay": [
    "Le délai de réponse annoncé (par exemple « 3 jours »).",
    "The announced response time (for example “3 days”).",
  ],
  "templates.preview": ["Aperçu", "Preview"],
  "templates.preview_hint": ["Avec des valeurs d'exemple.", "With example values."],
  "templates.sample.first_name": ["Camille", "Camille"],
  "templates.sample.full_name": ["Camille Dupont", "Camille Dupont"],
  "templates.sample.practice": ["Cabinet des Lilas", "Lilac Practice"],
  "templates.sample.delay": ["3 jours", "3 days"],
  "templates.unknown": [
    "Variable inconnue : {names}. Choisissez parmi les variables ci-dessous.",
    "Unknown variable: {names}. Choose from the variables below.",
  ],
  "templates.malformed": [
    "Une accolade n'est pas fermée ou une variable est mal écrite. Pour une accolade seule, doublez-la : {{ ou }}.",
    "A brace is not closed or a variable is misspelt. For a brace on its own, double it: {{ or }}.",
  ],
  "templates.create": ["Créer le modèle", "Create the template"],
  "templates.save": ["Enregistrer le modèle", "Save the template"],
});

/** docs/protocol.schema.json `templates.list`. */
export interface TemplateRecord {
  id: number;
  name: string;
  text: string;
  practice?: number | null;
  owner?: number | null;
  reply_allowed?: boolean;
  closes_thread?: boolean;
  builtin?: boolean;
  code?: string | null;
}

/** Where a new template is kept: the practitioner's own, a practice's, or,
 * for an assistant, the practitioner's whose templates they keep. */
export interface Home {
  key: string;
  label: string;
  practice?: number;
  owner?: number;
  /** who `{practitioner_name}` will be, for the preview */
  practitionerName: string;
  practiceName?: string;
}

/** Where `template` is kept, among the caller's homes (the first for a new one). */
export function homeOf(template: TemplateRecord | undefined, homes: Home[], me: number): Home | undefined {
  if (!template) return homes[0];
  if (template.practice) return homes.find((home) => home.practice === template.practice);
  return homes.find((home) => home.practice === undefined && (home.owner ?? me) === template.owner);
}

export function TemplateEditor(props: {
  template: TemplateRecord | undefined;
  homes: Home[];
  saved: () => void;
  cancel: () => void;
}) {
  const session = useSession();
  const existing = props.template;
  const [name, setName] = useState(existing?.name ?? "");
  const [text, setText] = useState(existing?.text ?? "");
  const [replyAllowed, setReplyAllowed] = useState(existing?.reply_allowed ?? true);
  const [closes, setCloses] = useState(existing?.closes_thread ?? false);
  const [homeKey, setHomeKey] = useState(homeOf(existing, props.homes, session.me)?.key ?? "");
  const textarea = useRef<HTMLTextAreaElement>(null);
  const home = props.homes.find((h) => h.key === homeKey) ?? props.homes[0];
  const problem = templateProblem(text);
  const form = useSubmit(async () => {
    if (problem) {
      textarea.current?.focus(); // the preview says what is wrong: nothing reaches the server
      return;
    }
    if (!home) return;
    await session.call(existing ? "templates.update" : "templates.create", {
      ...(existing ? { id: existing.id } : {}),
      name: name.trim(),
      text,
      reply_allowed: replyAllowed,
      closes_thread: closes,
      ...(home.practice ? { practice: home.practice } : {}),
      ...(home.owner ? { owner: home.owner } : {}),
    });
    props.saved();
  });
  const insert = (variable: string) => {
    const field = textarea.current;
    const at = field ? field.selectionStart : text.length;
    const end = field ? field.selectionEnd : text.length;
    const written = `{${variable}}`;
    setText(text.slice(0, at) + written + text.slice(end));
    requestAnimationFrame(() => {
      field?.focus();
      field?.setSelectionRange(at + written.length, at + written.length);
    });
  };
  return (
    <form class="card" onSubmit={form.onSubmit} aria-labelledby="template-editor">
      <h2 id="template-editor" class="first">
        {existing ? t("templates.edit_title", { name: existing.name }) : t("templates.new")}
      </h2>
      <Field label={t("templates.name")}>
        <input required maxLength={120} value={name} onInput={(e) => setName(valueOf(e))} />
      </Field>
      {!existing && props.homes.length > 1 && (
        <SelectField
          label={t("templates.home")}
          value={homeKey}
          options={props.homes.map((h): Option => [h.key, h.label])}
          onChange={setHomeKey}
        />
      )}
      <Field label={t("templates.text")}>
        <textarea
          ref={textarea}
          required
          rows={5}
          maxLength={2000}
          value={text}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? "template-problem" : undefined}
          onInput={(e) => setText(valueOf(e))}
        />
      </Field>
      <VariableHelp insert={insert} />
      <Preview text={text} problem={problem} home={home} />
      <CheckField
        label={t("templates.reply_allowed")}
        hint={t("templates.reply_allowed_hint")}
        checked={replyAllowed}
        onChange={setReplyAllowed}
      />
      <CheckField
        label={t("templates.closes_thread")}
        hint={t("templates.closes_thread_hint")}
        checked={closes}
        onChange={setCloses}
      />
      <SubmitRow form={form} label={existing ? t("templates.save") : t("templates.create")} cancel={props.cancel} />
    </form>
  );
}

/** Why `text` is not a template, in the reader's words; null if it is one. */
function templateProblem(text: string): string | null {
  try {
    variablesOf(text);
    return null;
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    const unknown = unknownVariables(text);
    return unknown.length ? t("templates.unknown", { names: unknown.join(", ") }) : t("templates.malformed");
  }
}

/** The `{names}` in `text` that are not variables (`{{` and `}}` are braces). */
function unknownVariables(text: string): string[] {
  const named = [...text.replace(/\{\{|\}\}/g, "").matchAll(/\{([^{}]*)\}/g)].map((match) => match[1] ?? "");
  return [...new Set(named.filter((name) => !VARIABLES.has(name)))].map((name) => `{${name}}`);
}

function VariableHelp({ insert }: { insert: (variable: string) => void }) {
  return (
    <section aria-labelledby="template-variables">
      <h3 id="template-variables" class="subhead spaced">
        {t("templates.variables")}
      </h3>
      <table>
        <tbody>
          {[...VARIABLES].map((variable) => (
            <tr key={variable}>
              <td>
                <code>{`{${variable}}`}</code>
              </td>
              <td>{t(`templates.variable.${variable}`)}</td>
              <td>
                <button
                  type="button"
                  class="link"
                  aria-label={t("templates.insert", { name: `{${variable}}` })}
                  onClick={() => insert(variable)}
                >
                  {t("templates.insert_short")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function sampleValues(home: Home | undefined): Record<string, string> {
  const now = Date.now();
  return {
    patient_first_name: t("templates.sample.first_name"),
    patient_name: t("templates.sample.full_name"),
    practitioner_name: home?.practitionerName ?? "",
    practice_name: home?.practiceName ?? t("templates.sample.practice"),
    date: formatDate(now),
    time: formatTime(now),
    response_delay: t("templates.sample.delay"),
  };
}

function Preview(props: { text: string; problem: string | null; home: Home | undefined }) {
  return (
    <section class="card preview" aria-labelledby="template-preview">
      <h3 id="template-preview" class="subhead">
        {t("templates.preview")}
      </h3>
      <p class="muted">{t("templates.preview_hint")}</p>
      {props.problem ? (
        <p class="error" role="alert" id="template-problem">
          {props.problem}
        </p>
      ) : (
        <p class="prose">{render(props.text, sampleValues(props.home))}</p>
      )}
    </section>
  );
}
