/** A form's submission and what came of it: busy while it runs, then what
 * was done or why not, as a sentence of ours or the server's refusal. */
import { useState } from "preact/hooks";
import { CallError } from "../../src/index.js";
import { t } from "./i18n.js";
import { ErrorLine, Problem } from "./ui.js";

/** What an input, select or textarea holds now. */
export const valueOf = (event: Event) =>
  (event.target as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement).value;
/** What a number input holds now: NaN while it is empty. */
export const numberOf = (event: Event) => (event.target as HTMLInputElement).valueAsNumber;
/** Whether a checkbox is ticked now. */
export const checkedOf = (event: Event) => (event.target as HTMLInputElement).checked;

export function isNotFound(error: unknown): boolean {
  return error instanceof CallError && error.code === "not_found";
}

/** `call`'s result; a `not_found` refusal becomes `sentence` (what was not found, said plainly). */
export async function unlessNotFound<T>(call: Promise<T>, sentence: string): Promise<T> {
  try {
    return await call;
  } catch (failure) {
    if (isNotFound(failure)) throw new Problem(sentence);
    throw failure;
  }
}

interface Submission {
  busy: boolean;
  /** What the last submission did, in a sentence. */
  done?: string;
  error?: unknown;
  onSubmit: (event: Event) => Promise<void>;
  /** The form changed: "done" and our own problems no longer hold (a refusal stays until the next try). */
  edited: () => void;
}

/** Submits through `submit`, which returns the sentence saying what it did, if any. */
export function useSubmit(submit: () => Promise<string | void>): Submission {
  const [state, setState] = useState<{ busy: boolean; done?: string; error?: unknown }>({ busy: false });
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setState({ busy: true });
    try {
      const done = await submit();
      setState(done ? { busy: false, done } : { busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  const edited = () =>
    setState((current) => (current.done || current.error instanceof Problem ? { busy: current.busy } : current));
  return { ...state, onSubmit, edited };
}

/** How the last submission went, on a line of its own. */
export function FormOutcome({ form }: { form: Submission }) {
  if (form.error) return <ErrorLine error={form.error} />;
  return form.done ? (
    <p class="ok" role="status">
      {form.done}
    </p>
  ) : null;
}

/** A form's buttons with how the submission went beside them. */
export function SubmitRow(props: { form: Submission; label: string; cancel?: () => void }) {
  return (
    <div class="row">
      <button class="primary" type="submit" disabled={props.form.busy}>
        {props.label}
      </button>
      {props.cancel && (
        <button type="button" onClick={props.cancel}>
          {t("common.cancel")}
        </button>
      )}
      {props.form.done && (
        <span class="ok" role="status">
          {props.form.done}
        </span>
      )}
      <ErrorLine error={props.form.error} />
    </div>
  );
}
