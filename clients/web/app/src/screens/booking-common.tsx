/**
 * What the patient's booking and the practice's agenda both use
 * (docs/booking.md): the wire's appointments and agenda settings, a visit's
 * label, status and hours. The server speaks UTC milliseconds; everything
 * shows in the browser's time zone.
 */
import { useEffect, useState } from "preact/hooks";
import { defineTexts, formatTime, t } from "../i18n.js";

defineTexts({
  "booking.video": ["En vidéo", "By video"],
  "booking.status.held": ["Réservation provisoire", "On hold"],
  "booking.status.confirmed": ["Confirmé", "Confirmed"],
  "booking.status.cancelled": ["Annulé", "Cancelled"],
  "booking.status.no_show": ["Non honoré", "Missed"],
});

// -- the wire (docs/protocol.schema.json; defaults are left out by the server) --

export interface VisitReason {
  code: string;
  label: string;
  minutes: number;
  new_patients?: boolean;
  video?: boolean;
}

/** [weekday (0 Monday), "HH:MM", "HH:MM", reason codes]: wall-clock times in the agenda's zone. */
export type OpeningHours = [number, string, string, string[]];

export interface AgendaSettings {
  time_zone: string;
  reasons: VisitReason[];
  hours: OpeningHours[];
  horizon_days: number;
  min_notice_minutes: number;
  cancel_notice_hours: number;
  reminder_minutes: number[];
}

type Status = "held" | "confirmed" | "cancelled" | "no_show";

export interface Appointment {
  id: number;
  practitioner: number;
  patient: number;
  reason: string;
  starts_at: number;
  ends_at: number;
  status: Status;
  subject?: number | null;
  hold_expires_at?: number | null;
  video?: boolean;
  note?: string;
}

const DEFAULT_SETTINGS: AgendaSettings = {
  time_zone: "Europe/Paris",
  reasons: [],
  hours: [],
  horizon_days: 90,
  min_notice_minutes: 120,
  cancel_notice_hours: 24,
  reminder_minutes: [1440, 120],
};

/** Settings as the server sent them, the defaults it left out filled in. */
export function complete(settings: Partial<AgendaSettings>): AgendaSettings {
  return { ...DEFAULT_SETTINGS, ...settings };
}

export function reasonLabelOf(settings: AgendaSettings | undefined, code: string): string {
  return settings?.reasons.find((reason) => reason.code === code)?.label ?? code;
}

// -- shown --

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

export function timeSpan(item: { starts_at: number; ends_at: number }): string {
  return `${formatTime(item.starts_at)} – ${formatTime(item.ends_at)}`;
}

/** A date as a heading starts: "Lundi 3 juin" (Intl writes "lundi"). */
export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The clock, read again every `everyMs`. */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function StatusPill({ status }: { status: Status }) {
  return <span class="pill">{t(`booking.status.${status}`)}</span>;
}
