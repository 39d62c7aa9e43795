/** The agenda's settings while the practitioner edits them: text as the
 * inputs hold it, visit types tied to their hours before they have a code,
 * and the check that turns a draft into settings to send. */
import { codeFor } from "../codes.js";
import { defineTexts, t } from "../i18n.js";
import { weekdayName } from "../local-time.js";
import { type AgendaSettings, type OpeningHours, capitalized } from "./booking-common.js";

defineTexts({
  "agenda.problem.label": ["Donnez un nom à chaque type de consultation.", "Give each type of visit a name."],
  "agenda.problem.minutes": ["Une consultation dure de 5 à 480 minutes.", "A visit lasts from 5 to 480 minutes."],
  "agenda.problem.order": [
    "{day} : la plage doit finir après son début ({start} – {end}).",
    "{day}: the hours must end after they start ({start} – {end}).",
  ],
  "agenda.problem.no_reason": [
    "{day} : choisissez au moins un type de consultation pour la plage {start} – {end}.",
    "{day}: choose at least one type of visit for {start} – {end}.",
  ],
  "agenda.problem.horizon": ["Réservation possible de 1 à 365 jours à l'avance.", "Bookable from 1 to 365 days ahead."],
  "agenda.problem.notice": ["Le délai minimum va de 0 à 720 heures.", "The shortest notice is from 0 to 720 hours."],
  "agenda.problem.cancel": [
    "Le délai d'annulation va de 0 à 336 heures, en heures entières.",
    "The cancelling notice is from 0 to 336 whole hours.",
  ],
  "agenda.problem.reminders": [
    "Chaque rappel vient de 1 minute à 336 heures avant, sans doublon.",
    "Each reminder is from 1 minute to 336 hours before, none twice.",
  ],
});

/** A visit type being edited: `key` ties opening hours to it before it has a code. */
export interface ReasonDraft {
  key: string;
  code: string;
  label: string;
  minutes: string;
  newPatients: boolean;
  video: boolean;
}

export interface HoursDraft {
  key: string;
  weekday: number;
  start: string;
  end: string;
  /** reason keys */
  reasons: string[];
}

export interface SettingsDraft {
  timeZone: string;
  reasons: ReasonDraft[];
  hours: HoursDraft[];
  horizonDays: string;
  noticeHours: string;
  cancelHours: string;
  /** hours before */
  reminders: string[];
}

let lastKey = 0;

export function freshKey(): string {
  lastKey += 1;
  return `new-${lastKey}`;
}

export function draftOf(settings: AgendaSettings): SettingsDraft {
  return {
    timeZone: settings.time_zone,
    reasons: settings.reasons.map((r) => ({
      key: r.code,
      code: r.code,
      label: r.label,
      minutes: String(r.minutes),
      newPatients: r.new_patients ?? true,
      video: r.video ?? false,
    })),
    hours: settings.hours.map(([weekday, start, end, reasons]) => ({ key: freshKey(), weekday, start, end, reasons })),
    horizonDays: String(settings.horizon_days),
    noticeHours: String(settings.min_notice_minutes / 60),
    cancelHours: String(settings.cancel_notice_hours),
    reminders: settings.reminder_minutes.map((m) => String(m / 60)),
  };
}

/** A code for each visit type: kept once given, made from the label for a new one. */
function assignCodes(reasons: ReasonDraft[]): Map<string, string> {
  const taken = new Set(reasons.filter((r) => r.code).map((r) => r.code));
  return new Map(reasons.map((r) => [r.key, r.code || codeFor(r.label, "visit", taken)]));
}

/** The hours' visit types: all of them while there is only one (no choice is shown then). */
function hoursReasons(draft: SettingsDraft, hours: HoursDraft): string[] {
  return draft.reasons.length === 1 ? [(draft.reasons[0] as ReasonDraft).key] : hours.reasons;
}

function inRange(value: number, low: number, high: number, whole = false): boolean {
  return Number.isFinite(value) && value >= low && value <= high && (!whole || Number.isInteger(value));
}

/** The settings to send, or what is wrong with the draft, in words. */
export function settingsOf(draft: SettingsDraft): { settings: AgendaSettings; problems: string[] } {
  const codes = assignCodes(draft.reasons);
  const reasons = draft.reasons.map((r) => ({
    code: codes.get(r.key) as string,
    label: r.label.trim(),
    minutes: Number(r.minutes),
    new_patients: r.newPatients,
    video: r.video,
  }));
  const problems: string[] = [];
  if (reasons.some((r) => !r.label)) problems.push(t("agenda.problem.label"));
  if (reasons.some((r) => !inRange(r.minutes, 5, 480, true))) problems.push(t("agenda.problem.minutes"));
  const hours = openingHours(draft, codes, problems);
  const horizon = Number(draft.horizonDays);
  const notice = Math.round(Number(draft.noticeHours) * 60);
  const cancel = Number(draft.cancelHours);
  const reminders = draft.reminders.map((h) => Math.round(Number(h) * 60));
  if (!inRange(horizon, 1, 365, true)) problems.push(t("agenda.problem.horizon"));
  if (!inRange(notice, 0, 720 * 60)) problems.push(t("agenda.problem.notice"));
  if (!inRange(cancel, 0, 336, true)) problems.push(t("agenda.problem.cancel"));
  if (reminders.some((m) => !inRange(m, 1, 336 * 60)) || new Set(reminders).size !== reminders.length) {
    problems.push(t("agenda.problem.reminders"));
  }
  return {
    settings: {
      time_zone: draft.timeZone,
      reasons,
      hours,
      horizon_days: horizon,
      min_notice_minutes: notice,
      cancel_notice_hours: cancel,
      reminder_minutes: reminders,
    },
    problems,
  };
}

/** The draft's hours by day and start, their visit types by code; what is wrong goes to `problems`. */
function openingHours(draft: SettingsDraft, codes: Map<string, string>, problems: string[]): OpeningHours[] {
  const hours: OpeningHours[] = [];
  for (const h of [...draft.hours].sort((a, b) => a.weekday - b.weekday || a.start.localeCompare(b.start))) {
    const words = { day: capitalized(weekdayName(h.weekday)), start: h.start, end: h.end };
    const visits = hoursReasons(draft, h).flatMap((key) => (codes.has(key) ? [codes.get(key) as string] : []));
    if (!h.start || !h.end || h.end <= h.start) problems.push(t("agenda.problem.order", words));
    if (visits.length === 0) problems.push(t("agenda.problem.no_reason", words));
    hours.push([h.weekday, h.start, h.end, visits]);
  }
  return hours;
}
