/**
 * Reply templates: `{variable}` placeholders the sending client fills in
 * (`protocol/templates.py`). Rendering is strict, as on the Python side: a
 * variable the template names but the caller does not give is an error,
 * never an empty gap in a message to a patient. `{{` and `}}` are braces.
 */
import { CarehubError } from "./errors.js";

export const VARIABLES: ReadonlySet<string> = new Set([
  "patient_first_name",
  "patient_name",
  "practitioner_name",
  "practice_name",
  "date",
  "time",
  "response_delay",
]);

/** A template that does not parse, names an unknown variable, or lacks a value. */
export class TemplateError extends CarehubError {
  override name = "TemplateError";
}

type Part = { text: string } | { variable: string };

function parse(template: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at < template.length) {
    const brace = template.slice(at).search(/[{}]/);
    if (brace < 0) {
      parts.push({ text: template.slice(at) });
      break;
    }
    const index = at + brace;
    parts.push({ text: template.slice(at, index) });
    const pair = template.slice(index, index + 2);
    if (pair === "{{" || pair === "}}") {
      parts.push({ text: pair[0] as string });
      at = index + 2;
      continue;
    }
    if (template[index] === "}") throw new TemplateError("a single '}' in the template");
    const end = template.indexOf("}", index);
    if (end < 0) throw new TemplateError("a '{' without its '}'");
    const variable = template.slice(index + 1, end);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new TemplateError(`a variable is written {name}, not {${variable}}`);
    }
    parts.push({ variable });
    at = end + 1;
  }
  return parts;
}

/** The variables `template` names; throws on unknown ones. */
export function variablesOf(template: string): Set<string> {
  const named = new Set(parse(template).flatMap((part) => ("variable" in part ? [part.variable] : [])));
  const unknown = [...named].filter((name) => !VARIABLES.has(name)).sort();
  if (unknown.length) throw new TemplateError(`unknown variables: ${unknown.join(", ")}`);
  return named;
}

/** `template` with each variable replaced by its value. */
export function render(template: string, values: Readonly<Record<string, string>>): string {
  const missing = [...variablesOf(template)].filter((name) => !(name in values)).sort();
  if (missing.length) throw new TemplateError(`no value for: ${missing.join(", ")}`);
  return parse(template)
    .map((part) => ("variable" in part ? (values[part.variable] as string) : part.text))
    .join("");
}
