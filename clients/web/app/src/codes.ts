/** The codes the wire names a practitioner's own choices by (a visit type,
 * a request reason): made once from the label, then kept when it is
 * renamed, since hours, bookings and conversations name the code. */

/** The wire's `^[a-z0-9_]+$`, 32 characters at most. */
const MOST_CHARACTERS = 32;

/** "Certificat médical" -> "certificat_medical" (`fallback` when the label
 * has no letter to keep), numbered apart from the codes `taken`, and added to them. */
export function codeFor(label: string, fallback: string, taken: Set<string>): string {
  const base = slug(label).slice(0, MOST_CHARACTERS) || fallback;
  let code = base;
  for (let n = 2; taken.has(code); n += 1) code = `${base.slice(0, MOST_CHARACTERS - 4)}_${n}`;
  taken.add(code);
  return code;
}

function slug(label: string): string {
  return label
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}
