/** People's names, wherever the app learns them: the conversations, a
 * practice's members, else the server (`users.get`). */
import type { Member, UserProfile } from "./api.js";
import { currentLanguage, defineTexts, t } from "./i18n.js";
import type { Session } from "./session.js";
import { useLoad } from "./ui.js";

defineTexts({
  "practice.number": ["n° {id}", "no. {id}"],
});

/** docs/protocol.schema.json: `users.get` takes 256 users at most. */
const MOST_USERS_ASKED = 256;

/** The names the server gives for `users` (none asked, no call). */
export async function fetchNames(session: Session, users: Iterable<number>): Promise<Map<number, string>> {
  const wanted = [...new Set(users)].slice(0, MOST_USERS_ASKED);
  if (wanted.length === 0) return new Map();
  const { users: profiles } = await session.call<{ users: UserProfile[] }>("users.get", { users: wanted });
  return new Map(profiles.map((profile) => [profile.user, profile.name]));
}

/** The `known` names, and those of the other `wanted` people once the server has said them. */
export function useNames(
  session: Session,
  known: Map<number, string>,
  wanted: Iterable<number>,
): { names: Map<number, string>; error?: unknown } {
  const missing = [...new Set(wanted)].filter((user) => !known.has(user)).sort((a, b) => a - b);
  const fetched = useLoad(() => fetchNames(session, missing), [missing.join(",")]);
  return { names: new Map([...known, ...(fetched.value ?? [])]), error: fetched.error };
}

/** Everyone I share a conversation with, by name. */
export function contactsOf(session: Session): { user: number; name: string }[] {
  const found = new Map<number, string>();
  for (const state of session.store.threads.values())
    for (const member of state.info.members) if (member.user !== session.me) found.set(member.user, member.name);
  return [...found]
    .map(([user, name]) => ({ user, name }))
    .sort((a, b) => a.name.localeCompare(b.name, currentLanguage()));
}

/** Names for `users`: from my conversations when they are in one, else the server's; "#42" meanwhile. */
export function useContactNames(session: Session, users: number[]): { of: (user: number) => string; error?: unknown } {
  const known = new Map(contactsOf(session).map((contact) => [contact.user, contact.name]));
  const { names, error } = useNames(session, known, users);
  return { of: (user) => names.get(user) ?? `#${user}`, error };
}

/** The members of `practices`, by name. */
export function memberNames(practices: { members: Member[] }[]): Map<number, string> {
  return new Map(practices.flatMap((practice) => practice.members.map((m) => [m.user, m.name] as const)));
}

/** `user`'s name, or their account number when no name is known. */
export function nameOrNumber(names: Map<number, string>, user: number): string {
  return names.get(user) ?? t("practice.number", { id: user });
}
