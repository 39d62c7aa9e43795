/** The people I share a practice with: the practices as the server lists
 * them, each colleague once, with their role. */
import type { Member, Role } from "../api.js";
import { defineTexts, t } from "../i18n.js";

defineTexts({
  "practice.role.practitioner": ["Praticien", "Practitioner"],
  "practice.role.assistant": ["Assistant(e)", "Assistant"],
  "practice.role.bot": ["Robot", "Bot"],
  "practice.role.patient": ["Patient", "Patient"],
  "practice.role.admin": ["Administrateur", "Administrator"],
  "team.in_practice": ["{role}, {practice}", "{role}, {practice}"],
  "rules.colleague_number": ["Confrère n° {id}", "Colleague no. {id}"],
});

/** docs/protocol.schema.json `practices.list`. */
export interface PracticeInfo {
  id: number;
  name: string;
  created_by: number;
  members: Member[];
  invited: Member[];
}

export interface Colleague extends Member {
  /** The first practice we share. */
  practice: string;
}

/** Everyone who shares a practice with me, once each (first practice named). */
export function colleaguesOf(practices: PracticeInfo[], me: number): Colleague[] {
  const found = new Map<number, Colleague>();
  for (const practice of practices) {
    for (const member of practice.members) {
      if (member.user !== me && !found.has(member.user)) found.set(member.user, { ...member, practice: practice.name });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function roleLabel(role: Role): string {
  return t(`practice.role.${role}`);
}

/** "Assistant, Cabinet des Lilas": what a colleague does, and where. */
export function colleagueRole(colleague: Colleague): string {
  return t("team.in_practice", { role: roleLabel(colleague.role), practice: colleague.practice });
}

/** A colleague's name, or "Colleague no. 42" when it is not known. */
export function colleagueName(names: Map<number, string>, user: number): string {
  return names.get(user) ?? t("rules.colleague_number", { id: user });
}
