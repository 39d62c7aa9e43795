/** What a push says (server/pushing.py `Notice.fields`, docs/push.md), read
 * defensively: a damaged or foreign payload still shows "something came". */
import { fromBase64Url } from "../src/base64url.js";
import type { Language } from "../src/worker-settings.js";

export type Kind = "message" | "appointment" | "reminder";

export interface Pushed {
  /** The outbox entry: the same on a retry (0 when absent). */
  id: number;
  /** 0: not about a thread (an appointment). */
  thread: number;
  count: number;
  kind: Kind;
  /** Quiet hours or do-not-disturb: no sound, no vibration. */
  quiet: boolean;
  /** The newest message, sealed; only for a device that chose previews. */
  envelope: Uint8Array | null;
}

const WORDS: Record<Language, Record<Kind, (count: number) => string>> = {
  fr: {
    message: (count) => (count > 1 ? `${count} nouveaux messages` : "Nouveau message"),
    appointment: () => "Un rendez-vous a changé",
    reminder: () => "Rappel de rendez-vous",
  },
  en: {
    message: (count) => (count > 1 ? `${count} new messages` : "New message"),
    appointment: () => "An appointment changed",
    reminder: () => "Appointment reminder",
  },
};

const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) > 0;

export function readPush(data: unknown): Pushed {
  const fields = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const kind = typeof fields.kind === "string" && fields.kind in WORDS.fr ? (fields.kind as Kind) : "message";
  return {
    id: isCount(fields.id) ? fields.id : 0,
    thread: isCount(fields.thread) ? fields.thread : 0,
    count: isCount(fields.count) ? fields.count : 1,
    kind,
    quiet: fields.quiet === true,
    envelope: typeof fields.envelope === "string" ? fromBase64Url(fields.envelope) : null,
  };
}

/** "3 nouveaux messages": the generic words, naming no one. */
export function headline(pushed: Pushed, language: Language): string {
  return WORDS[language][pushed.kind](pushed.count);
}
