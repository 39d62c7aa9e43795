/**
 * What a person reads, in French first and English beside it. Every string
 * of the app is a key; `t()` falls back to the key
 * itself (a missing key shows up in a screenshot instead of an empty label;
 * tests/browser checks that every key used is defined).
 * Dates and times use the browser's time zone and the chosen language.
 */
import { type Language, saveLanguage } from "./worker-settings.js";

export type { Language };

/** key -> [French, English], side by side where they are written. */
export type Texts = Record<string, readonly [fr: string, en: string]>;

const TEXTS = new Map<string, readonly [string, string]>();

/** Each screen brings its own texts (`texts/*.ts`); a key defined twice is a bug. */
export function defineTexts(texts: Texts): void {
  for (const [key, pair] of Object.entries(texts)) {
    if (TEXTS.has(key)) throw new Error(`text ${key} is defined twice`);
    TEXTS.set(key, pair);
  }
}
const STORAGE_KEY = "carehub.language";

function initial(): Language {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === "fr" || saved === "en") return saved;
  return "fr"; // French first, whatever the browser says: the market is French
}

let language: Language = initial();
const listeners = new Set<() => void>();

export function currentLanguage(): Language {
  return language;
}

export function setLanguage(next: Language): void {
  language = next;
  globalThis.localStorage?.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  tellServiceWorker(next);
  for (const listener of listeners) listener();
}

/** The service worker words notifications in the app's language: it reads it
 * from its own cache (it cannot see localStorage). */
export function tellServiceWorker(chosen: Language = language): void {
  if (typeof caches === "undefined") return;
  saveLanguage(chosen).catch(() => undefined); // private mode without storage: French, the default
}

export function onLanguage(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The text for `key`, with `{name}` placeholders filled from `values`. */
export function t(key: string, values: Record<string, string | number> = {}): string {
  const pair = TEXTS.get(key);
  const text = pair ? pair[language === "fr" ? 0 : 1] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/** The same key in the plural when `count` is not 1 (`key.one` / `key.other`). */
export function tn(key: string, count: number, values: Record<string, string | number> = {}): string {
  return t(`${key}.${count === 1 ? "one" : "other"}`, { count, ...values });
}

/** French "de" before a name: "du Dr Martin", "d'Inès", "de Paul". */
export function ofName(name: string): string {
  if (/^(Dr|Pr)\.?\s/i.test(name)) return `du ${name}`;
  if (/^[aeiouyhàâéèêëîïôöûüæœ]/i.test(name)) return `d'${name}`;
  return `de ${name}`;
}

const locale = () => (language === "fr" ? "fr-FR" : "en-GB");

export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(ms);
}

export function formatDate(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { weekday: "long", day: "numeric", month: "long" }).format(ms);
}

export function formatDateTime(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(ms);
}

/** A message's time: the hour today, the date before. */
export function formatWhen(ms: number, now = Date.now()): string {
  const sameDay = new Date(ms).toDateString() === new Date(now).toDateString();
  return sameDay ? formatTime(ms) : formatDateTime(ms);
}

export function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}
