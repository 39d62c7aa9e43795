/** Calendar days and wall-clock times in the browser's time zone, written
 * as date, time and date-time inputs write them ("YYYY-MM-DD", "HH:MM"). */
import { currentLanguage } from "./i18n.js";

/** "07": two digits, as times and dates are written. */
export function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The local calendar day of an instant, "YYYY-MM-DD". */
export function isoDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function today(): string {
  return isoDate(Date.now());
}

/** Local midnight starting a "YYYY-MM-DD" day (a date-time without offset reads as local). */
export function midnight(day: string): number {
  return new Date(`${day}T00:00`).getTime();
}

export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00`);
  d.setDate(d.getDate() + days);
  return isoDate(d.getTime());
}

export function mondayOf(day: string): string {
  return addDays(day, -((new Date(`${day}T00:00`).getDay() + 6) % 7));
}

/** The last millisecond of a "YYYY-MM-DD" day. */
export function lastMomentOf(day: string): number {
  return midnight(addDays(day, 1)) - 1;
}

/** A `datetime-local` input's value for an instant. */
export function localInput(ms: number): string {
  const d = new Date(ms);
  return `${isoDate(ms)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The day's name, 0 being Monday. */
export function weekdayName(weekday: number): string {
  const locale = currentLanguage() === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { weekday: "long" }).format(new Date(2024, 0, 1 + weekday)); // a Monday
}

/** Hours that end at midnight end at "24:00" on the wire, which means the
 * same for any start (00:00–24:00 is the whole day); a time input says "00:00". */
export function shownEnd(end: string): string {
  return end === "24:00" ? "00:00" : end;
}

export function savedEnd(end: string): string {
  return end === "00:00" ? "24:00" : end;
}

/** The zones a time zone can be chosen from: the browser's, and `current` if it does not know it. */
export function timeZones(current: string): string[] {
  const known = Intl.supportedValuesOf("timeZone");
  return known.includes(current) ? known : [current, ...known];
}
