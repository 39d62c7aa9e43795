/** What the app tells its service worker, which sees neither localStorage
 * nor the app's memory: the language it words notifications in, and which
 * device is signed in here (whose keyring may open a pushed preview). Kept
 * in a Cache of their own; both sides import this module. */

export type Language = "fr" | "en";

/** The signed-in account and this browser's device of it. */
export interface SignedIn {
  user: number;
  device: number;
}

const CACHE = "carehub-settings";
const LANGUAGE = "/language";
const DEVICE = "/device";

/** The IndexedDB record (`IndexedDbKeyStore`'s name) of a device's keyring. */
export function keyringName(user: number, device: number): string {
  return `keyring:${user}:${device}`;
}

export async function saveLanguage(language: Language): Promise<void> {
  await (await caches.open(CACHE)).put(LANGUAGE, new Response(language));
}

/** French unless the app said otherwise. */
export async function savedLanguage(): Promise<Language> {
  const saved = await (await caches.open(CACHE)).match(LANGUAGE);
  return (await saved?.text()) === "en" ? "en" : "fr";
}

/** Who is signed in here; null once they sign out (no preview is opened then). */
export async function saveSignedIn(signedIn: SignedIn | null): Promise<void> {
  const cache = await caches.open(CACHE);
  if (signedIn) await cache.put(DEVICE, new Response(JSON.stringify(signedIn)));
  else await cache.delete(DEVICE);
}

export async function savedSignedIn(): Promise<SignedIn | null> {
  const saved = await (await caches.open(CACHE)).match(DEVICE);
  if (!saved) return null;
  const { user, device } = (await saved.json()) as Partial<SignedIn>;
  return Number.isInteger(user) && Number.isInteger(device) ? { user: user as number, device: device as number } : null;
}
