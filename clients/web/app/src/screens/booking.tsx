/**
 * Booking and the agenda (docs/booking.md). A patient books a slot: it is
 * held for them for 15 minutes, with a live countdown, until they confirm;
 * they cancel or move what is ahead. The practice sees its agenda by day and
 * by week, marks no-shows, cancels, closes or opens time, and the
 * practitioner sets their visit types, hours and booking rules.
 * The server speaks UTC milliseconds; everything here shows in the
 * browser's time zone.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { CallError } from "../../../src/index.js";
import type { Member, PractitionerInfo, UserProfile } from "../api.js";
import { useSession } from "../context.js";
import { currentLanguage, defineTexts, formatDate, formatDateTime, formatTime, t, timeZone } from "../i18n.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";

defineTexts({
  "booking.title": ["Mes rendez-vous", "My appointments"],
  "booking.new": ["Prendre rendez-vous", "Book an appointment"],
  "booking.yours": ["Vos praticiens", "Your practitioners"],
  "booking.search": ["Rechercher un praticien", "Find a practitioner"],
  "booking.search_hint": ["Au moins deux lettres de son nom.", "At least two letters of their name."],
  "booking.search_go": ["Rechercher", "Search"],
  "booking.search_none": ["Aucun praticien ne correspond à « {text} ».", "No practitioner matches “{text}”."],
  "booking.found": ["Résultats", "Results"],
  "booking.change_practitioner": ["Changer de praticien", "Change practitioner"],
  "booking.no_online": [
    "Ce praticien ne propose pas de rendez-vous en ligne.",
    "This practitioner does not take online bookings.",
  ],
  "booking.reason": ["Type de consultation", "Type of visit"],
  "booking.minutes": ["{minutes} min", "{minutes} min"],
  "booking.video": ["En vidéo", "By video"],
  "booking.earlier": ["← Plus tôt", "← Earlier"],
  "booking.later": ["Plus tard →", "Later →"],
  "booking.range": ["Du {from} au {to}", "From {from} to {to}"],
  "booking.no_slots": [
    "Aucun créneau libre sur ces jours : regardez plus tard.",
    "No free slot on these days: look later.",
  ],
  "booking.hold_title": ["Confirmez votre rendez-vous", "Confirm your appointment"],
  "booking.time_left": ["Créneau réservé pour vous encore", "Slot held for you for another"],
  "booking.for_whom": ["Pour qui ?", "For whom?"],
  "booking.myself": ["Moi-même", "Myself"],
  "booking.note": ["Un mot pour le cabinet (facultatif)", "A note for the practice (optional)"],
  "booking.confirm": ["Confirmer le rendez-vous", "Confirm the appointment"],
  "booking.release": ["Annuler", "Cancel"],
  "booking.hold_expired": [
    "Le délai est écoulé : ce créneau n'est plus réservé pour vous.",
    "Time is up: this slot is no longer held for you.",
  ],
  "booking.pick_again": ["Choisir un autre créneau", "Choose another slot"],
  "booking.confirmed_news": [
    "Rendez-vous confirmé : {when} avec {name}.",
    "Appointment confirmed: {when} with {name}.",
  ],
  "booking.cancelled_news": ["Rendez-vous du {when} annulé.", "Appointment of {when} cancelled."],
  "booking.moved_news": ["Rendez-vous déplacé au {when}.", "Appointment moved to {when}."],
  "booking.upcoming": ["À venir", "Upcoming"],
  "booking.past": ["Passés", "Past"],
  "booking.none_upcoming": ["Aucun rendez-vous à venir.", "No upcoming appointment."],
  "booking.for": ["pour {name}", "for {name}"],
  "booking.someone": ["Praticien", "Practitioner"],
  "booking.resume": ["Finaliser la réservation", "Finish booking"],
  "booking.changeable_until": [
    "Vous pouvez le déplacer ou l'annuler jusqu'au {when}.",
    "You can move or cancel it until {when}.",
  ],
  "booking.call_practice": [
    "Pour modifier ce rendez-vous maintenant, contactez le cabinet.",
    "To change this appointment now, contact the practice.",
  ],
  "booking.move": ["Déplacer", "Move"],
  "booking.cancel": ["Annuler le rendez-vous", "Cancel the appointment"],
  "booking.cancel_question": ["Annuler ce rendez-vous ?", "Cancel this appointment?"],
  "booking.cancel_confirm": ["Confirmer l'annulation", "Confirm the cancellation"],
  "booking.keep": ["Garder le rendez-vous", "Keep the appointment"],
  "booking.move_title": ["Choisissez un nouvel horaire", "Choose a new time"],
  "booking.move_question": ["Déplacer le rendez-vous au {when} ?", "Move the appointment to {when}?"],
  "booking.move_confirm": ["Confirmer le déplacement", "Confirm the move"],
  "booking.keep_time": ["Garder l'horaire actuel", "Keep the current time"],
  "booking.status.held": ["Réservation provisoire", "On hold"],
  "booking.status.confirmed": ["Confirmé", "Confirmed"],
  "booking.status.cancelled": ["Annulé", "Cancelled"],
  "booking.status.no_show": ["Non honoré", "Missed"],
});

defineTexts({
  "agenda.title": ["Agenda", "Agenda"],
  "agenda.title_of": ["Agenda de {name}", "{name}'s agenda"],
  "agenda.none_kept": [
    "Aucun praticien ne vous a confié son agenda. Il peut vous le confier depuis ses délégations.",
    "No practitioner has given you their agenda. They can do so from their delegations.",
  ],
  "agenda.a_practitioner": ["Praticien n° {id}", "Practitioner #{id}"],
  "agenda.whose": ["Agenda de", "Agenda of"],
  "agenda.views": ["Affichage", "View"],
  "agenda.view.day": ["Jour", "Day"],
  "agenda.view.week": ["Semaine", "Week"],
  "agenda.view.settings": ["Réglages", "Settings"],
  "agenda.not_open": [
    "Votre agenda n'est pas encore ouvert : définissez vos types de consultation et vos horaires dans « Réglages ».",
    "Your agenda is not open yet: set your types of visit and your hours in “Settings”.",
  ],
  "agenda.navigation": ["Changer de période", "Change period"],
  "agenda.previous_day": ["← Jour précédent", "← Previous day"],
  "agenda.next_day": ["Jour suivant →", "Next day →"],
  "agenda.previous_week": ["← Semaine précédente", "← Previous week"],
  "agenda.next_week": ["Semaine suivante →", "Next week →"],
  "agenda.today": ["Aujourd'hui", "Today"],
  "agenda.go_to": ["Aller au", "Go to"],
  "agenda.week_of": ["Semaine du {date}", "Week of {date}"],
  "agenda.zone_note": [
    "Heures affichées dans votre fuseau ({here}) ; l'agenda est réglé sur {zone}.",
    "Times shown in your time zone ({here}); the agenda is set to {zone}.",
  ],
  "agenda.empty_day": ["Aucun rendez-vous ce jour-là.", "No appointment that day."],
  "agenda.day_caption": ["Rendez-vous du jour", "The day's appointments"],
  "agenda.time": ["Heure", "Time"],
  "agenda.patient": ["Patient", "Patient"],
  "agenda.reason": ["Consultation", "Visit"],
  "agenda.status": ["Statut", "Status"],
  "agenda.actions": ["Actions", "Actions"],
  "agenda.patient_number": ["Patient n° {id}", "Patient #{id}"],
  "agenda.for_relative": ["{name} (réservé par {by})", "{name} (booked by {by})"],
  "agenda.note": ["Note : {note}", "Note: {note}"],
  "agenda.no_show": ["Marquer absent", "Mark as missed"],
  "agenda.cancel": ["Annuler…", "Cancel…"],
  "agenda.cancel_reason": [
    "Motif de l'annulation (transmis au patient)",
    "Reason for cancelling (sent to the patient)",
  ],
  "agenda.cancel_confirm": ["Confirmer l'annulation", "Confirm the cancellation"],
  "agenda.keep": ["Garder", "Keep"],
  "agenda.closures": ["Absences et ouvertures", "Absences and openings"],
  "agenda.kind.absence": ["Absence", "Absence"],
  "agenda.kind.block": ["Temps bloqué", "Blocked time"],
  "agenda.kind.opening": ["Ouverture exceptionnelle", "Extra opening"],
  "agenda.all_day": ["toute la journée", "all day"],
  "agenda.remove": ["Retirer", "Remove"],
  "agenda.add_exception": ["Ajouter une absence ou une ouverture", "Add an absence or an opening"],
  "agenda.exception_title": ["Absence, temps bloqué ou ouverture", "Absence, blocked time or opening"],
  "agenda.kind": ["Type", "Kind"],
  "agenda.starts": ["Début", "Start"],
  "agenda.ends": ["Fin", "End"],
  "agenda.opening_reasons": ["Consultations proposées (toutes si aucune)", "Visits offered (all if none)"],
  "agenda.exception_note": ["Note (pour le cabinet)", "Note (for the practice)"],
  "agenda.ends_before": ["La fin doit venir après le début.", "The end must come after the start."],
  "agenda.reasons_title": ["Types de consultation", "Types of visit"],
  "agenda.no_reasons": [
    "Aucun type de consultation : les patients ne peuvent pas encore réserver.",
    "No type of visit: patients cannot book yet.",
  ],
  "agenda.reason_name": ["Nom", "Name"],
  "agenda.reason_minutes": ["Durée (minutes)", "Length (minutes)"],
  "agenda.reason_new": ["Ouvert aux nouveaux patients", "Open to new patients"],
  "agenda.reason_video": ["Possible en vidéo", "Possible by video"],
  "agenda.remove_reason": ["Retirer {name}", "Remove {name}"],
  "agenda.add_reason": ["Ajouter un type de consultation", "Add a type of visit"],
  "agenda.hours_title": ["Horaires d'ouverture", "Opening hours"],
  "agenda.time_zone": ["Fuseau horaire de l'agenda", "The agenda's time zone"],
  "agenda.closed_day": ["Fermé", "Closed"],
  "agenda.from": ["De", "From"],
  "agenda.to": ["À", "To"],
  "agenda.for_reasons": ["Consultations", "Visits"],
  "agenda.remove_hours": ["Retirer la plage de {start} à {end}", "Remove the hours from {start} to {end}"],
  "agenda.add_hours": ["Ajouter une plage", "Add hours"],
  "agenda.rules_title": ["Règles de réservation", "Booking rules"],
  "agenda.horizon": ["Réservation possible jusqu'à (jours à l'avance)", "Bookable up to (days ahead)"],
  "agenda.min_notice": ["Délai minimum avant un rendez-vous (heures)", "Shortest notice before an appointment (hours)"],
  "agenda.cancel_notice": [
    "Le patient peut annuler ou déplacer jusqu'à (heures avant)",
    "The patient may cancel or move until (hours before)",
  ],
  "agenda.reminders": ["Rappels au patient (heures avant le rendez-vous)", "Reminders to the patient (hours before)"],
  "agenda.reminder": ["Rappel {n}", "Reminder {n}"],
  "agenda.remove_reminder": ["Retirer le rappel {n}", "Remove reminder {n}"],
  "agenda.add_reminder": ["Ajouter un rappel", "Add a reminder"],
  "agenda.save": ["Enregistrer les réglages", "Save the settings"],
  "agenda.saved": ["Réglages enregistrés.", "Settings saved."],
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

// -- the wire (docs/protocol.schema.json; defaults are left out by the server) --

interface VisitReason {
  code: string;
  label: string;
  minutes: number;
  new_patients?: boolean;
  video?: boolean;
}

/** [weekday (0 Monday), "HH:MM", "HH:MM", reason codes]: wall-clock times in the agenda's zone. */
type OpeningHours = [number, string, string, string[]];

interface AgendaSettings {
  time_zone: string;
  reasons: VisitReason[];
  hours: OpeningHours[];
  horizon_days: number;
  min_notice_minutes: number;
  cancel_notice_hours: number;
  reminder_minutes: number[];
}

type Status = "held" | "confirmed" | "cancelled" | "no_show";

interface Appointment {
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

type ExceptionKind = "absence" | "block" | "opening";
const EXCEPTION_KINDS: ExceptionKind[] = ["absence", "block", "opening"];

interface AgendaException {
  id: number;
  kind: ExceptionKind;
  starts_at: number;
  ends_at: number;
  reasons?: string[];
  note?: string;
}

interface AgendaView {
  time_zone: string;
  starts_at: number;
  ends_at: number;
  appointments: Appointment[];
  exceptions: AgendaException[];
}

interface Relative {
  user: number;
  name: string;
}

interface Delegation {
  principal: number;
  scope: string[];
  expires?: number | null;
  revoked?: boolean;
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

function complete(settings: Partial<AgendaSettings>): AgendaSettings {
  return { ...DEFAULT_SETTINGS, ...settings };
}

function reasonLabelOf(settings: AgendaSettings | undefined, code: string): string {
  return settings?.reasons.find((reason) => reason.code === code)?.label ?? code;
}

function refusalOf(error: unknown): string | undefined {
  const reason = error instanceof CallError ? error.details.reason : undefined;
  return typeof reason === "string" ? reason : undefined;
}

function isNotFound(error: unknown): boolean {
  return error instanceof CallError && error.code === "not_found";
}

// -- time, in the browser's zone --

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** protocol/booking.py HOLD_MINUTES: how long a hold keeps its slot. */
const HOLD_MS = 15 * MINUTE_MS;
const SLOT_PAGE_DAYS = 7;

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The local calendar day of an instant, "YYYY-MM-DD". */
function isoDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function today(): string {
  return isoDate(Date.now());
}

/** Local midnight starting a "YYYY-MM-DD" day (a date-time without offset reads as local). */
function midnight(day: string): number {
  return new Date(`${day}T00:00`).getTime();
}

function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00`);
  d.setDate(d.getDate() + days);
  return isoDate(d.getTime());
}

function mondayOf(day: string): string {
  return addDays(day, -((new Date(`${day}T00:00`).getDay() + 6) % 7));
}

/** A `datetime-local` input's value for an instant. */
function localInput(ms: number): string {
  const d = new Date(ms);
  return `${isoDate(ms)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function timeSpan(item: { starts_at: number; ends_at: number }): string {
  return `${formatTime(item.starts_at)} – ${formatTime(item.ends_at)}`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function mmss(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${pad(Math.floor(seconds / 60))}:${pad(seconds % 60)}`;
}

function weekdayName(weekday: number): string {
  const locale = currentLanguage() === "fr" ? "fr-FR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { weekday: "long" }).format(new Date(2024, 0, 1 + weekday)); // a Monday
}

/** How far this device's clock runs behind the server's, learnt when a hold
 * is made (the server makes it HOLD_MS before it expires): the countdown
 * then ends when the server's hold does, whatever this clock says. */
let serverAhead = 0;

function holdDeadline(hold: Appointment, justMade: boolean): number {
  const expires = hold.hold_expires_at ?? 0;
  if (justMade) serverAhead = expires - HOLD_MS - Date.now();
  return expires - serverAhead;
}

// -- hooks --

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function StatusPill({ status }: { status: Status }) {
  return <span class="pill">{t(`booking.status.${status}`)}</span>;
}

// == The patient's side =======================================================

interface Practitioner {
  id: number;
  name: string;
  /** Absent when they take no online bookings. */
  settings?: AgendaSettings;
}

interface Choice {
  practitioner: { id: number; name: string };
  reason?: string;
  video: boolean;
}

interface Hold {
  appointment: Appointment;
  /** When it runs out, on this device's clock. */
  deadline: number;
  practitioner: string;
  reason: string;
}

export function Appointments() {
  const session = useSession();
  const changes = useTopic(session.store, "appointments");
  const list = useLoad(() => session.call<{ appointments: Appointment[] }>("booking.list", {}), [changes]);
  const relatives = useLoad(() => session.call<{ relatives: Relative[] }>("relatives.list", {}), []);
  const appointments = list.value?.appointments ?? [];
  const directory = usePractitioners(session, knownPractitionerIds(session, appointments));
  const [choice, setChoice] = useState<Choice>();
  const [hold, setHold] = useState<Hold>();
  const [news, setNews] = useState<string>();
  const changed = (text: string) => {
    setNews(text);
    list.reload();
  };
  const resume = (appointment: Appointment) => {
    const practitioner = directory.get(appointment.practitioner);
    setHold({
      appointment,
      deadline: holdDeadline(appointment, false),
      practitioner: practitioner?.name ?? t("booking.someone"),
      reason: reasonLabelOf(practitioner?.settings, appointment.reason),
    });
  };
  const names = new Map((relatives.value?.relatives ?? []).map((r) => [r.user, r.name]));
  return (
    <Page title={t("booking.title")}>
      {news && (
        <p class="ok" role="status">
          {news}
        </p>
      )}
      <section class="card" aria-labelledby="booking-new">
        <h2 id="booking-new">{t("booking.new")}</h2>
        {hold ? (
          <HoldPanel
            key={hold.appointment.id}
            hold={hold}
            relatives={relatives.value?.relatives ?? []}
            confirmed={(done) => {
              setHold(undefined);
              changed(t("booking.confirmed_news", { when: formatDateTime(done.starts_at), name: hold.practitioner }));
            }}
            released={() => {
              setHold(undefined);
              list.reload();
            }}
          />
        ) : (
          <NewBooking
            known={[...directory.values()].filter((p) => p.settings?.reasons.length)}
            choice={choice}
            choose={setChoice}
            held={(made) => {
              setNews(undefined);
              setHold(made);
            }}
          />
        )}
      </section>
      {list.value ? (
        <AppointmentLists
          appointments={appointments}
          directory={directory}
          relatives={names}
          holding={hold?.appointment.id}
          resume={resume}
          changed={changed}
        />
      ) : (
        <Loading error={list.error} />
      )}
    </Page>
  );
}

/** The practitioners the patient already deals with: in their conversations
 * and their appointments. */
function knownPractitionerIds(session: Session, appointments: Appointment[]): number[] {
  const inThreads = [...session.store.threads.values()].flatMap((state) =>
    state.info.members.filter((m) => m.role === "practitioner").map((m) => m.user),
  );
  return [...new Set([...inThreads, ...appointments.map((a) => a.practitioner)])].sort((a, b) => a - b);
}

/** Each practitioner's name and booking settings (their visit labels, their cancelling notice). */
function usePractitioners(session: Session, ids: number[]): Map<number, Practitioner> {
  const loaded = useLoad(() => Promise.all(ids.map((id) => lookUpPractitioner(session, id))), [ids.join(",")]);
  return new Map((loaded.value ?? []).map((p) => [p.id, p]));
}

async function lookUpPractitioner(session: Session, id: number): Promise<Practitioner> {
  const [info, settings] = await Promise.allSettled([
    session.call<PractitionerInfo>("practitioners.get", { practitioner: id }),
    session.call<Partial<AgendaSettings>>("agenda.get", { practitioner: id }),
  ]);
  return {
    id,
    name: info.status === "fulfilled" ? info.value.name : t("booking.someone"),
    ...(settings.status === "fulfilled" ? { settings: complete(settings.value) } : {}),
  };
}

function NewBooking(props: {
  known: Practitioner[];
  choice: Choice | undefined;
  choose: (choice: Choice | undefined) => void;
  held: (hold: Hold) => void;
}) {
  const { choice, choose } = props;
  if (!choice)
    return <PractitionerPicker known={props.known} pick={(practitioner) => choose({ practitioner, video: false })} />;
  return (
    <>
      <p class="row">
        <strong class="grow">{choice.practitioner.name}</strong>
        <button type="button" class="link" onClick={() => choose(undefined)}>
          {t("booking.change_practitioner")}
        </button>
      </p>
      <VisitChooser choice={choice} choose={choose} held={props.held} />
    </>
  );
}

function PractitionerPicker(props: {
  known: Practitioner[];
  pick: (practitioner: { id: number; name: string }) => void;
}) {
  const session = useSession();
  const [text, setText] = useState("");
  const [found, setFound] = useState<{ text: string; practitioners: PractitionerInfo[] }>();
  const [error, setError] = useState<unknown>();
  const search = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const wanted = text.trim();
    try {
      const result = await session.call<{ practitioners: PractitionerInfo[] }>("practitioners.search", {
        text: wanted,
      });
      setFound({ text: wanted, practitioners: result.practitioners });
    } catch (failure) {
      setError(failure);
    }
  };
  const choices = (people: { id: number; name: string }[]) => (
    <div class="row">
      {people.map((p) => (
        <button key={p.id} type="button" onClick={() => props.pick({ id: p.id, name: p.name })}>
          {p.name}
        </button>
      ))}
    </div>
  );
  return (
    <>
      {props.known.length > 0 && (
        <>
          <h3>{t("booking.yours")}</h3>
          {choices(props.known)}
        </>
      )}
      <form class="row" role="search" onSubmit={search}>
        <div class="grow">
          <Field label={t("booking.search")} hint={t("booking.search_hint")}>
            <input
              type="search"
              minLength={2}
              maxLength={64}
              required
              value={text}
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
            />
          </Field>
        </div>
        <button type="submit">{t("booking.search_go")}</button>
      </form>
      <ErrorLine error={error} />
      {found &&
        (found.practitioners.length ? (
          <>
            <h3>{t("booking.found")}</h3>
            {choices(found.practitioners)}
          </>
        ) : (
          <p class="muted" role="status">
            {t("booking.search_none", { text: found.text })}
          </p>
        ))}
    </>
  );
}

/** The visit types of the chosen practitioner, and the free slots of the one chosen. */
function VisitChooser(props: { choice: Choice; choose: (choice: Choice) => void; held: (hold: Hold) => void }) {
  const session = useSession();
  const { choice } = props;
  const { practitioner } = choice;
  const agenda = useLoad(
    () => session.call<Partial<AgendaSettings>>("agenda.get", { practitioner: practitioner.id }).then(complete),
    [practitioner.id],
  );
  if (!agenda.value) {
    return isNotFound(agenda.error) ? <p>{t("booking.no_online")}</p> : <Loading error={agenda.error} />;
  }
  const { reasons } = agenda.value;
  const reason = reasons.find((r) => r.code === choice.reason) ?? reasons[0];
  if (!reason) return <p>{t("booking.no_online")}</p>;
  const video = choice.video && (reason.video ?? false);
  const hold = async (start: number) => {
    const made = await session.call<Appointment>("booking.hold", {
      practitioner: practitioner.id,
      reason: reason.code,
      starts_at: start,
      ...(video ? { video } : {}),
    });
    props.held({
      appointment: made,
      deadline: holdDeadline(made, true),
      practitioner: practitioner.name,
      reason: reason.label,
    });
  };
  return (
    <>
      {reasons.length > 1 ? (
        <Field label={t("booking.reason")}>
          <select
            value={reason.code}
            onChange={(e) => props.choose({ ...choice, reason: (e.target as HTMLSelectElement).value })}
          >
            {reasons.map((r) => (
              <option key={r.code} value={r.code}>
                {r.label} · {t("booking.minutes", { minutes: r.minutes })}
              </option>
            ))}
          </select>
        </Field>
      ) : (
        <p>
          {reason.label} · {t("booking.minutes", { minutes: reason.minutes })}
        </p>
      )}
      {reason.video && (
        <label class="row">
          <input
            type="checkbox"
            checked={video}
            onChange={(e) => props.choose({ ...choice, video: (e.target as HTMLInputElement).checked })}
          />
          {t("booking.video")}
        </label>
      )}
      <SlotPicker practitioner={practitioner.id} reason={reason.code} pick={hold} />
    </>
  );
}

/** A week of free slots, day by day; a refused pick is said, and the slots
 * are fetched again (someone may just have taken the one picked). */
function SlotPicker(props: {
  practitioner: number;
  reason: string;
  pick: (start: number) => Promise<void>;
  refresh?: number;
}) {
  const session = useSession();
  const [first, setFirst] = useState(today());
  const [round, setRound] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const from = midnight(first);
  const to = midnight(addDays(first, SLOT_PAGE_DAYS));
  const slots = useLoad(
    () =>
      session.call<{ slots: number[] }>("agenda.slots", {
        practitioner: props.practitioner,
        reason: props.reason,
        starts_at: from,
        ends_at: to,
      }),
    [props.practitioner, props.reason, first, round, props.refresh],
  );
  const choose = async (start: number) => {
    setBusy(true);
    setError(undefined);
    try {
      await props.pick(start);
    } catch (failure) {
      setError(failure);
      setRound((r) => r + 1);
    } finally {
      setBusy(false);
    }
  };
  const days = slotsByDay(slots.value?.slots ?? []);
  return (
    <div>
      <div class="row">
        <button type="button" disabled={first <= today()} onClick={() => setFirst(addDays(first, -SLOT_PAGE_DAYS))}>
          {t("booking.earlier")}
        </button>
        <span class="grow" aria-live="polite">
          {t("booking.range", { from: formatDate(from), to: formatDate(to - 1) })}
        </span>
        <button type="button" onClick={() => setFirst(addDays(first, SLOT_PAGE_DAYS))}>
          {t("booking.later")}
        </button>
      </div>
      <ErrorLine error={error} />
      {!slots.value ? (
        <Loading error={slots.error} />
      ) : days.length === 0 ? (
        <p class="muted">{t("booking.no_slots")}</p>
      ) : (
        days.map((starts) => {
          const day = capitalized(formatDate(starts[0] as number));
          return (
            <div key={starts[0]} role="group" aria-label={day}>
              <h3>{day}</h3>
              <div class="slots">
                {starts.map((start) => (
                  <button key={start} type="button" disabled={busy} onClick={() => choose(start)}>
                    {formatTime(start)}
                  </button>
                ))}
              </div>
            </div>
          );
        })
      )}
    </div>
  );
}

function slotsByDay(slots: number[]): number[][] {
  const days = new Map<string, number[]>();
  for (const start of slots) {
    const day = isoDate(start);
    days.set(day, [...(days.get(day) ?? []), start]);
  }
  return [...days.values()];
}

/** The held slot, its countdown, and the confirmation; when the hold runs
 * out it says so and offers to choose again. */
function HoldPanel(props: {
  hold: Hold;
  relatives: Relative[];
  confirmed: (appointment: Appointment) => void;
  released: () => void;
}) {
  const session = useSession();
  const { appointment, deadline } = props.hold;
  const now = useNow(1000);
  const [expired, setExpired] = useState(false);
  const [note, setNote] = useState("");
  const [subject, setSubject] = useState<number>();
  const left = deadline - now;
  if (expired || left <= 0) {
    return (
      <>
        <p class="error" role="alert">
          {t("booking.hold_expired")}
        </p>
        <button type="button" class="primary" onClick={props.released}>
          {t("booking.pick_again")}
        </button>
      </>
    );
  }
  const confirm = async () => {
    try {
      const done = await session.call<Appointment>("booking.confirm", {
        appointment: appointment.id,
        ...(note.trim() ? { note: note.trim() } : {}),
        ...(subject ? { subject } : {}),
      });
      props.confirmed(done);
    } catch (failure) {
      if (refusalOf(failure) === "hold_expired") setExpired(true);
      throw failure;
    }
  };
  const release = async () => {
    await session.call("booking.cancel", { appointment: appointment.id });
    props.released();
  };
  return (
    <section aria-labelledby="booking-hold">
      <h3 id="booking-hold">{t("booking.hold_title")}</h3>
      <p>
        <strong>
          {capitalized(formatDate(appointment.starts_at))} · {timeSpan(appointment)}
        </strong>
        <br />
        {props.hold.practitioner} · {props.hold.reason}
        {appointment.video ? ` · ${t("booking.video")}` : ""}
      </p>
      <p>
        {t("booking.time_left")}{" "}
        <span class="countdown" role="timer">
          {mmss(left)}
        </span>
      </p>
      {props.relatives.length > 0 && (
        <Field label={t("booking.for_whom")}>
          <select
            value={subject ?? ""}
            onChange={(e) => {
              const value = (e.target as HTMLSelectElement).value;
              setSubject(value ? Number(value) : undefined);
            }}
          >
            <option value="">{t("booking.myself")}</option>
            {props.relatives.map((r) => (
              <option key={r.user} value={r.user}>
                {r.name}
              </option>
            ))}
          </select>
        </Field>
      )}
      <Field label={t("booking.note")}>
        <textarea
          rows={2}
          maxLength={500}
          value={note}
          onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
        />
      </Field>
      <div class="row">
        <Action kind="primary" label={t("booking.confirm")} action={confirm} />
        <Action label={t("booking.release")} action={release} />
      </div>
    </section>
  );
}

function AppointmentLists(props: {
  appointments: Appointment[];
  directory: Map<number, Practitioner>;
  relatives: Map<number, string>;
  /** The hold being confirmed above, if any. */
  holding: number | undefined;
  resume: (appointment: Appointment) => void;
  changed: (news: string) => void;
}) {
  const now = useNow(MINUTE_MS);
  const shown = props.appointments.filter((a) => !lapsedHold(a, now));
  const upcoming = shown.filter((a) => a.ends_at > now).sort((a, b) => a.starts_at - b.starts_at);
  const past = shown.filter((a) => a.ends_at <= now).sort((a, b) => b.starts_at - a.starts_at);
  const summary = (a: Appointment) => (
    <Summary
      appointment={a}
      practitioner={props.directory.get(a.practitioner)}
      forWhom={a.subject ? props.relatives.get(a.subject) : undefined}
    />
  );
  return (
    <>
      <section aria-labelledby="booking-upcoming">
        <h2 id="booking-upcoming">{t("booking.upcoming")}</h2>
        {upcoming.length === 0 ? (
          <p class="muted">{t("booking.none_upcoming")}</p>
        ) : (
          upcoming.map((a) => (
            <div key={a.id} class="card">
              {summary(a)}
              {a.id !== props.holding && (
                <UpcomingActions
                  appointment={a}
                  now={now}
                  settings={props.directory.get(a.practitioner)?.settings}
                  resume={() => props.resume(a)}
                  changed={props.changed}
                />
              )}
            </div>
          ))
        )}
      </section>
      {past.length > 0 && (
        <section aria-labelledby="booking-past">
          <h2 id="booking-past">{t("booking.past")}</h2>
          {past.map((a) => (
            <div key={a.id} class="card">
              {summary(a)}
            </div>
          ))}
        </section>
      )}
    </>
  );
}

/** A hold that ran out: it no longer keeps anything (the server drops it from the list). */
function lapsedHold(appointment: Appointment, now: number): boolean {
  return appointment.status === "held" && (appointment.hold_expires_at ?? 0) - serverAhead <= now;
}

function Summary(props: {
  appointment: Appointment;
  practitioner: Practitioner | undefined;
  forWhom: string | undefined;
}) {
  const { appointment } = props;
  const details = [
    reasonLabelOf(props.practitioner?.settings, appointment.reason),
    appointment.video ? t("booking.video") : "",
    props.forWhom ? t("booking.for", { name: props.forWhom }) : "",
  ].filter(Boolean);
  return (
    <div class="row">
      <div class="grow">
        <strong>
          {capitalized(formatDate(appointment.starts_at))} · {timeSpan(appointment)}
        </strong>
        <div>{props.practitioner?.name ?? t("booking.someone")}</div>
        <div class="muted">{details.join(" · ")}</div>
      </div>
      <StatusPill status={appointment.status} />
    </div>
  );
}

/** What the patient may do with an appointment ahead: finish a hold, or
 * move or cancel a confirmed one while the practice's notice allows. */
function UpcomingActions(props: {
  appointment: Appointment;
  now: number;
  settings: AgendaSettings | undefined;
  resume: () => void;
  changed: (news: string) => void;
}) {
  const session = useSession();
  const [step, setStep] = useState<"idle" | "cancel" | "move">("idle");
  const { appointment, settings } = props;
  if (appointment.status === "held") {
    return (
      <button type="button" class="primary" onClick={props.resume}>
        {t("booking.resume")}
      </button>
    );
  }
  if (appointment.status !== "confirmed") return null;
  const until = settings ? appointment.starts_at - settings.cancel_notice_hours * HOUR_MS : undefined;
  if (until !== undefined && until <= props.now) return <p class="muted">{t("booking.call_practice")}</p>;
  const when = formatDateTime(appointment.starts_at);
  return (
    <>
      {until !== undefined && <p class="muted">{t("booking.changeable_until", { when: formatDateTime(until) })}</p>}
      {step === "idle" && (
        <div class="row">
          <button type="button" onClick={() => setStep("move")}>
            {t("booking.move")}
          </button>
          <button type="button" class="danger" onClick={() => setStep("cancel")}>
            {t("booking.cancel")}
          </button>
        </div>
      )}
      {step === "cancel" && (
        <div class="row" role="group" aria-label={t("booking.cancel_question")}>
          <span>{t("booking.cancel_question")}</span>
          <Action
            kind="danger"
            label={t("booking.cancel_confirm")}
            action={async () => {
              await session.call("booking.cancel", { appointment: appointment.id });
              props.changed(t("booking.cancelled_news", { when }));
            }}
          />
          <button type="button" onClick={() => setStep("idle")}>
            {t("booking.keep")}
          </button>
        </div>
      )}
      {step === "move" && (
        <MoveStep
          appointment={appointment}
          close={() => setStep("idle")}
          moved={(news) => {
            setStep("idle");
            props.changed(news);
          }}
        />
      )}
    </>
  );
}

/** Another slot of the same visit, then the move: the new slot is taken and
 * the old one freed together (a slot taken meanwhile leaves it where it was). */
function MoveStep(props: { appointment: Appointment; close: () => void; moved: (news: string) => void }) {
  const session = useSession();
  const { appointment } = props;
  const [target, setTarget] = useState<number>();
  const [error, setError] = useState<unknown>();
  const [refresh, setRefresh] = useState(0);
  const move = async (start: number) => {
    setError(undefined);
    try {
      const moved = await session.call<Appointment>("booking.reschedule", {
        appointment: appointment.id,
        starts_at: start,
      });
      props.moved(t("booking.moved_news", { when: formatDateTime(moved.starts_at) }));
    } catch (failure) {
      setError(failure);
      setTarget(undefined);
      setRefresh((r) => r + 1);
    }
  };
  return (
    <div role="group" aria-labelledby={`booking-move-${appointment.id}`}>
      <h3 id={`booking-move-${appointment.id}`}>{t("booking.move_title")}</h3>
      <ErrorLine error={error} />
      {target === undefined ? (
        <SlotPicker
          practitioner={appointment.practitioner}
          reason={appointment.reason}
          refresh={refresh}
          pick={async (start) => setTarget(start)}
        />
      ) : (
        <div class="row">
          <span>{t("booking.move_question", { when: formatDateTime(target) })}</span>
          <Action kind="primary" label={t("booking.move_confirm")} action={() => move(target)} />
          <button type="button" onClick={() => setTarget(undefined)}>
            {t("booking.pick_again")}
          </button>
        </div>
      )}
      <p>
        <button type="button" class="link" onClick={props.close}>
          {t("booking.keep_time")}
        </button>
      </p>
    </div>
  );
}

// == The practice's side ======================================================

interface Owner {
  id: number;
  name: string;
  /** The practitioner's own agenda (else one delegated to an assistant). */
  own: boolean;
}

type View = "day" | "week" | "settings";

export function Agenda() {
  const session = useSession();
  if (session.role === "practitioner") return <AgendaBoard owner={{ id: session.me, name: session.name, own: true }} />;
  return <KeptAgendas />;
}

/** An assistant (or bot) works the agendas practitioners delegated to them. */
function KeptAgendas() {
  const session = useSession();
  const delegations = useTopic(session.store, "delegations");
  const kept = useLoad(() => agendasKept(session), [delegations]);
  const [chosen, setChosen] = useState<number>();
  if (!kept.value || kept.value.length === 0) {
    return (
      <Page title={t("agenda.title")}>
        {kept.value ? <p>{t("agenda.none_kept")}</p> : <Loading error={kept.error} />}
      </Page>
    );
  }
  const owners = kept.value;
  const owner = owners.find((o) => o.id === chosen) ?? (owners[0] as Owner);
  const picker =
    owners.length > 1 ? (
      <Field label={t("agenda.whose")}>
        <select value={owner.id} onChange={(e) => setChosen(Number((e.target as HTMLSelectElement).value))}>
          {owners.map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      </Field>
    ) : undefined;
  return <AgendaBoard key={owner.id} owner={owner} picker={picker} />;
}

async function agendasKept(session: Session): Promise<Owner[]> {
  const [delegations, practices] = await Promise.all([
    session.call<{ received: Delegation[] }>("delegations.list", {}),
    session.call<{ practices: { members: Member[] }[] }>("practices.list", {}),
  ]);
  const names = new Map(practices.practices.flatMap((p) => p.members.map((m) => [m.user, m.name] as const)));
  const now = Date.now();
  return delegations.received
    .filter((d) => !d.revoked && d.scope.includes("agenda") && (d.expires == null || d.expires > now))
    .map((d) => ({
      id: d.principal,
      name: names.get(d.principal) ?? t("agenda.a_practitioner", { id: d.principal }),
      own: false,
    }));
}

function ownerParams(owner: Owner): { practitioner?: number } {
  return owner.own ? {} : { practitioner: owner.id };
}

function AgendaBoard(props: { owner: Owner; picker?: JSX.Element }) {
  const session = useSession();
  const { owner } = props;
  const [view, setView] = useState<View>("day");
  const [date, setDate] = useState(today());
  const [saved, setSaved] = useState(0);
  const settings = useLoad(
    () =>
      session
        .call<Partial<AgendaSettings>>("agenda.get", ownerParams(owner))
        // A delegated agenda the practitioner never opened reads as an empty one.
        .catch((error: unknown) => (isNotFound(error) ? {} : Promise.reject(error)))
        .then(complete),
    [owner.id, saved],
  );
  const views: View[] = owner.own ? ["day", "week", "settings"] : ["day", "week"];
  const switcher = (
    <div class="row" role="group" aria-label={t("agenda.views")}>
      {views.map((v) => (
        <button
          key={v}
          type="button"
          class={view === v ? "primary" : undefined}
          aria-pressed={view === v}
          onClick={() => setView(v)}
        >
          {t(`agenda.view.${v}`)}
        </button>
      ))}
    </div>
  );
  const showDay = (day: string) => {
    setDate(day);
    setView("day");
  };
  return (
    <Page title={owner.own ? t("agenda.title") : t("agenda.title_of", { name: owner.name })} actions={switcher}>
      {props.picker}
      {!settings.value ? (
        <Loading error={settings.error} />
      ) : view === "settings" ? (
        <SettingsForm initial={settings.value} saved={() => setSaved((s) => s + 1)} />
      ) : (
        <Calendar owner={owner} view={view} date={date} setDate={setDate} showDay={showDay} settings={settings.value} />
      )}
    </Page>
  );
}

interface Span {
  view: AgendaView;
  names: Map<number, string>;
}

function Calendar(props: {
  owner: Owner;
  view: "day" | "week";
  date: string;
  setDate: (day: string) => void;
  showDay: (day: string) => void;
  settings: AgendaSettings;
}) {
  const session = useSession();
  const { owner, view, date, settings } = props;
  const changes = useTopic(session.store, "appointments");
  const [edits, setEdits] = useState(0);
  const span = useLoad(() => loadSpan(session, owner, view, date), [owner.id, view, date, changes, edits]);
  const edited = () => setEdits((e) => e + 1);
  const step = view === "day" ? 1 : 7;
  const heading =
    view === "day"
      ? capitalized(formatDate(midnight(date)))
      : t("agenda.week_of", { date: formatDate(midnight(mondayOf(date))) });
  return (
    <>
      {owner.own && settings.reasons.length === 0 && <p class="card">{t("agenda.not_open")}</p>}
      <div class="row" role="group" aria-label={t("agenda.navigation")}>
        <button type="button" onClick={() => props.setDate(addDays(date, -step))}>
          {t(`agenda.previous_${view}`)}
        </button>
        <button type="button" onClick={() => props.setDate(today())}>
          {t("agenda.today")}
        </button>
        <button type="button" onClick={() => props.setDate(addDays(date, step))}>
          {t(`agenda.next_${view}`)}
        </button>
        <Field label={t("agenda.go_to")}>
          <input
            type="date"
            value={date}
            onChange={(e) => {
              const value = (e.target as HTMLInputElement).value;
              if (value) props.setDate(value);
            }}
          />
        </Field>
      </div>
      <h2>{heading}</h2>
      {settings.time_zone !== timeZone() && (
        <p class="muted">{t("agenda.zone_note", { here: timeZone(), zone: settings.time_zone })}</p>
      )}
      {!span.value ? (
        <Loading error={span.error} />
      ) : view === "day" ? (
        <DayTable span={span.value} day={date} settings={settings} changed={edited} />
      ) : (
        <WeekGrid
          span={span.value}
          monday={mondayOf(date)}
          settings={settings}
          showDay={props.showDay}
          changed={edited}
        />
      )}
      <ExceptionForm key={date} owner={owner} day={date} reasons={settings.reasons} added={edited} />
    </>
  );
}

async function loadSpan(session: Session, owner: Owner, view: "day" | "week", date: string): Promise<Span> {
  const found = await session.call<AgendaView>(`agenda.${view}`, { date, ...ownerParams(owner) });
  const people = found.appointments.flatMap((a) => (a.subject ? [a.patient, a.subject] : [a.patient]));
  return { view: found, names: await patientNames(session, people) };
}

/** Names for the patients of an agenda: the practitioner's patients, then
 * whoever else the caller may see; the rest show by number. */
async function patientNames(session: Session, ids: number[]): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  if (ids.length === 0) return names;
  if (session.role === "practitioner") {
    const { patients } = await session.call<{ patients: { user: number; name: string }[] }>("patients.list", {});
    for (const patient of patients) names.set(patient.user, patient.name);
  }
  const missing = [...new Set(ids)].filter((id) => !names.has(id)).slice(0, 256);
  if (missing.length) {
    const { users } = await session.call<{ users: UserProfile[] }>("users.get", { users: missing });
    for (const user of users) names.set(user.user, user.name);
  }
  return names;
}

function whoIs(appointment: Appointment, names: Map<number, string>): string {
  const name = (id: number) => names.get(id) ?? t("agenda.patient_number", { id });
  return appointment.subject
    ? t("agenda.for_relative", { name: name(appointment.subject), by: name(appointment.patient) })
    : name(appointment.patient);
}

function visitText(appointment: Appointment, settings: AgendaSettings): string {
  const label = reasonLabelOf(settings, appointment.reason);
  return appointment.video ? `${label} · ${t("booking.video")}` : label;
}

function DayTable(props: { span: Span; day: string; settings: AgendaSettings; changed: () => void }) {
  const { appointments, exceptions } = props.span.view;
  const now = useNow(MINUTE_MS);
  return (
    <>
      {appointments.length === 0 ? (
        <p class="muted">{t("agenda.empty_day")}</p>
      ) : (
        <table>
          <caption class="visually-hidden">{t("agenda.day_caption")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("agenda.time")}</th>
              <th scope="col">{t("agenda.patient")}</th>
              <th scope="col">{t("agenda.reason")}</th>
              <th scope="col">{t("agenda.status")}</th>
              <th scope="col">
                <span class="visually-hidden">{t("agenda.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {appointments.map((a) => (
              <DayRow
                key={a.id}
                appointment={a}
                names={props.span.names}
                settings={props.settings}
                now={now}
                changed={props.changed}
              />
            ))}
          </tbody>
        </table>
      )}
      {exceptions.length > 0 && (
        <>
          <h3>{t("agenda.closures")}</h3>
          <ul>
            {exceptions.map((e) => (
              <li key={e.id}>
                <ExceptionItem exception={e} day={props.day} settings={props.settings} removed={props.changed} />
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function DayRow(props: {
  appointment: Appointment;
  names: Map<number, string>;
  settings: AgendaSettings;
  now: number;
  changed: () => void;
}) {
  const session = useSession();
  const { appointment } = props;
  const [cancelling, setCancelling] = useState(false);
  const confirmed = appointment.status === "confirmed";
  const begun = appointment.starts_at <= props.now;
  return (
    <tr>
      <td>{timeSpan(appointment)}</td>
      <td>
        {whoIs(appointment, props.names)}
        {appointment.note && <div class="muted">{t("agenda.note", { note: appointment.note })}</div>}
      </td>
      <td>{visitText(appointment, props.settings)}</td>
      <td>
        <StatusPill status={appointment.status} />
      </td>
      <td>
        {confirmed && begun && (
          <Action
            label={t("agenda.no_show")}
            action={async () => {
              await session.call("booking.no_show", { appointment: appointment.id });
              props.changed();
            }}
          />
        )}
        {confirmed && !begun && !cancelling && (
          <button type="button" class="danger" onClick={() => setCancelling(true)}>
            {t("agenda.cancel")}
          </button>
        )}
        {confirmed && !begun && cancelling && (
          <PracticeCancel appointment={appointment} done={props.changed} back={() => setCancelling(false)} />
        )}
      </td>
    </tr>
  );
}

/** The practice cancels at any time, and says why (the patient is told). */
function PracticeCancel(props: { appointment: Appointment; done: () => void; back: () => void }) {
  const session = useSession();
  const [reason, setReason] = useState("");
  return (
    <div>
      <Field label={t("agenda.cancel_reason")}>
        <input maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      </Field>
      <div class="row">
        <Action
          kind="danger"
          disabled={!reason.trim()}
          label={t("agenda.cancel_confirm")}
          action={async () => {
            await session.call("booking.cancel", { appointment: props.appointment.id, reason: reason.trim() });
            props.done();
          }}
        />
        <button type="button" onClick={props.back}>
          {t("agenda.keep")}
        </button>
      </div>
    </div>
  );
}

function WeekGrid(props: {
  span: Span;
  monday: string;
  settings: AgendaSettings;
  showDay: (day: string) => void;
  changed: () => void;
}) {
  const days = Array.from({ length: 7 }, (_, i) => addDays(props.monday, i));
  const { appointments, exceptions } = props.span.view;
  return (
    <div class="week">
      {days.map((day) => {
        const from = midnight(day);
        const to = midnight(addDays(day, 1));
        return (
          <section key={day} aria-labelledby={`agenda-day-${day}`}>
            <h3 id={`agenda-day-${day}`}>
              <button type="button" class="link" onClick={() => props.showDay(day)}>
                {capitalized(formatDate(from))}
              </button>
            </h3>
            {exceptions
              .filter((e) => e.starts_at < to && e.ends_at > from)
              .map((e) => (
                <div key={e.id} class="card">
                  <ExceptionItem exception={e} day={day} settings={props.settings} removed={props.changed} />
                </div>
              ))}
            {appointments
              .filter((a) => isoDate(a.starts_at) === day)
              .map((a) => (
                <div key={a.id} class="card">
                  <strong>{formatTime(a.starts_at)}</strong> {whoIs(a, props.span.names)}
                  <div class="muted">{visitText(a, props.settings)}</div>
                  <StatusPill status={a.status} />
                </div>
              ))}
          </section>
        );
      })}
    </div>
  );
}

/** An absence, a block or an opening as it meets `day`, and its removal. */
function ExceptionItem(props: {
  exception: AgendaException;
  day: string;
  settings: AgendaSettings;
  removed: () => void;
}) {
  const session = useSession();
  const { exception } = props;
  const from = midnight(props.day);
  const to = midnight(addDays(props.day, 1));
  const whole = exception.starts_at <= from && exception.ends_at >= to;
  const when = whole
    ? t("agenda.all_day")
    : `${formatTime(Math.max(exception.starts_at, from))} – ${formatTime(Math.min(exception.ends_at, to))}`;
  const visits = (exception.reasons ?? []).map((code) => reasonLabelOf(props.settings, code)).join(", ");
  const what = [t(`agenda.kind.${exception.kind}`), when, visits, exception.note ?? ""].filter(Boolean).join(" · ");
  return (
    <span class="row">
      <span class="grow">{what}</span>
      <Action
        label={t("agenda.remove")}
        action={async () => {
          await session.call("agenda.remove_exception", { exception: exception.id });
          props.removed();
        }}
      />
    </span>
  );
}

interface ExceptionDraft {
  kind: ExceptionKind;
  start: string;
  end: string;
  reasons: string[];
  note: string;
}

/** Close time (an absence, a block) or open some, from the day on screen. */
function ExceptionForm(props: { owner: Owner; day: string; reasons: VisitReason[]; added: () => void }) {
  const session = useSession();
  const [draft, setDraft] = useState<ExceptionDraft>();
  const [error, setError] = useState<unknown>();
  const [problem, setProblem] = useState<string>();
  if (!draft) {
    const whole = { start: localInput(midnight(props.day)), end: localInput(midnight(addDays(props.day, 1))) };
    return (
      <p>
        <button
          type="button"
          aria-expanded={false}
          onClick={() => setDraft({ kind: "absence", reasons: [], note: "", ...whole })}
        >
          {t("agenda.add_exception")}
        </button>
      </p>
    );
  }
  const change = (part: Partial<ExceptionDraft>) => setDraft({ ...draft, ...part });
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const startsAt = new Date(draft.start).getTime();
    const endsAt = new Date(draft.end).getTime();
    setProblem(endsAt > startsAt ? undefined : t("agenda.ends_before"));
    if (!(endsAt > startsAt)) return;
    try {
      await session.call("agenda.add_exception", {
        ...ownerParams(props.owner),
        kind: draft.kind,
        starts_at: startsAt,
        ends_at: endsAt,
        ...(draft.kind === "opening" && draft.reasons.length ? { reasons: draft.reasons } : {}),
        ...(draft.note.trim() ? { note: draft.note.trim() } : {}),
      });
      setDraft(undefined);
      props.added();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form class="card" aria-labelledby="agenda-exception" onSubmit={submit}>
      <h3 id="agenda-exception">{t("agenda.exception_title")}</h3>
      <Field label={t("agenda.kind")}>
        <select
          value={draft.kind}
          onChange={(e) => change({ kind: (e.target as HTMLSelectElement).value as ExceptionKind })}
        >
          {EXCEPTION_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {t(`agenda.kind.${kind}`)}
            </option>
          ))}
        </select>
      </Field>
      <div class="row">
        <Field label={t("agenda.starts")}>
          <input
            type="datetime-local"
            required
            value={draft.start}
            onInput={(e) => change({ start: (e.target as HTMLInputElement).value })}
          />
        </Field>
        <Field label={t("agenda.ends")}>
          <input
            type="datetime-local"
            required
            value={draft.end}
            onInput={(e) => change({ end: (e.target as HTMLInputElement).value })}
          />
        </Field>
      </div>
      {draft.kind === "opening" && props.reasons.length > 1 && (
        <fieldset>
          <legend>{t("agenda.opening_reasons")}</legend>
          <ReasonChecks
            reasons={props.reasons.map((r) => ({ key: r.code, label: r.label }))}
            chosen={draft.reasons}
            change={(reasons) => change({ reasons })}
          />
        </fieldset>
      )}
      <Field label={t("agenda.exception_note")}>
        <input
          maxLength={500}
          value={draft.note}
          onInput={(e) => change({ note: (e.target as HTMLInputElement).value })}
        />
      </Field>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <ErrorLine error={error} />
      <div class="row">
        <button type="submit" class="primary">
          {t("common.add")}
        </button>
        <button type="button" onClick={() => setDraft(undefined)}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

function ReasonChecks(props: {
  reasons: { key: string; label: string }[];
  chosen: string[];
  change: (chosen: string[]) => void;
}) {
  return (
    <span class="row">
      {props.reasons.map((reason) => (
        <label key={reason.key} class="row">
          <input
            type="checkbox"
            checked={props.chosen.includes(reason.key)}
            onChange={(e) => {
              const on = (e.target as HTMLInputElement).checked;
              props.change(on ? [...props.chosen, reason.key] : props.chosen.filter((k) => k !== reason.key));
            }}
          />
          {reason.label || "—"}
        </label>
      ))}
    </span>
  );
}

// -- settings --

/** A visit type being edited: `key` ties opening hours to it before it has a code. */
interface ReasonDraft {
  key: string;
  code: string;
  label: string;
  minutes: string;
  newPatients: boolean;
  video: boolean;
}

interface HoursDraft {
  key: string;
  weekday: number;
  start: string;
  end: string;
  /** reason keys */
  reasons: string[];
}

interface SettingsDraft {
  timeZone: string;
  reasons: ReasonDraft[];
  hours: HoursDraft[];
  horizonDays: string;
  noticeHours: string;
  cancelHours: string;
  /** hours before */
  reminders: string[];
}

const MAX_REMINDERS = 4;
const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];
let lastKey = 0;

function freshKey(): string {
  lastKey += 1;
  return `new-${lastKey}`;
}

function draftOf(settings: AgendaSettings): SettingsDraft {
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

/** A code for each visit type: kept once given (hours and bookings name it),
 * made from the label for a new one. */
function assignCodes(reasons: ReasonDraft[]): Map<string, string> {
  const taken = new Set(reasons.filter((r) => r.code).map((r) => r.code));
  const codes = new Map<string, string>();
  for (const reason of reasons) {
    let code = reason.code;
    if (!code) {
      const base = slug(reason.label) || "visit";
      code = base;
      for (let n = 2; taken.has(code); n += 1) code = `${base.slice(0, 28)}_${n}`;
      taken.add(code);
    }
    codes.set(reason.key, code);
  }
  return codes;
}

function slug(label: string): string {
  return label
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 32);
}

/** The hours' visit types: all of them while there is only one (no choice is shown then). */
function hoursReasons(draft: SettingsDraft, hours: HoursDraft): string[] {
  return draft.reasons.length === 1 ? [(draft.reasons[0] as ReasonDraft).key] : hours.reasons;
}

function inRange(value: number, low: number, high: number, whole = false): boolean {
  return Number.isFinite(value) && value >= low && value <= high && (!whole || Number.isInteger(value));
}

/** The settings to send, or what is wrong with the draft, in words. */
function settingsOf(draft: SettingsDraft): { settings: AgendaSettings; problems: string[] } {
  const problems: string[] = [];
  const codes = assignCodes(draft.reasons);
  const reasons = draft.reasons.map((r) => ({
    code: codes.get(r.key) as string,
    label: r.label.trim(),
    minutes: Number(r.minutes),
    new_patients: r.newPatients,
    video: r.video,
  }));
  if (reasons.some((r) => !r.label)) problems.push(t("agenda.problem.label"));
  if (reasons.some((r) => !inRange(r.minutes, 5, 480, true))) problems.push(t("agenda.problem.minutes"));
  const hours: OpeningHours[] = [];
  for (const h of [...draft.hours].sort((a, b) => a.weekday - b.weekday || a.start.localeCompare(b.start))) {
    const words = { day: capitalized(weekdayName(h.weekday)), start: h.start, end: h.end };
    const visits = hoursReasons(draft, h).flatMap((key) => (codes.has(key) ? [codes.get(key) as string] : []));
    if (!h.start || !h.end || h.end <= h.start) problems.push(t("agenda.problem.order", words));
    if (visits.length === 0) problems.push(t("agenda.problem.no_reason", words));
    hours.push([h.weekday, h.start, h.end, visits]);
  }
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

function SettingsForm(props: { initial: AgendaSettings; saved: () => void }) {
  const session = useSession();
  const [draft, setDraft] = useState(() => draftOf(props.initial));
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const change = (part: Partial<SettingsDraft>) => {
    setDone(false);
    setDraft({ ...draft, ...part });
  };
  const save = async (event: Event) => {
    event.preventDefault();
    const { settings, problems: found } = settingsOf(draft);
    setProblems(found);
    setError(undefined);
    setDone(false);
    if (found.length) return;
    setBusy(true);
    try {
      const stored = await session.call<Partial<AgendaSettings>>("agenda.set", settings);
      setDraft(draftOf(complete(stored)));
      setDone(true);
      props.saved();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save}>
      <ReasonsEditor draft={draft} change={change} />
      <HoursEditor draft={draft} change={change} />
      <RulesEditor draft={draft} change={change} />
      {problems.length > 0 && (
        <ul class="error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <ErrorLine error={error} />
      <p class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t("agenda.save")}
        </button>
        {done && (
          <span class="ok" role="status">
            {t("agenda.saved")}
          </span>
        )}
      </p>
    </form>
  );
}

interface EditorProps {
  draft: SettingsDraft;
  change: (part: Partial<SettingsDraft>) => void;
}

function ReasonsEditor({ draft, change }: EditorProps) {
  const update = (key: string, part: Partial<ReasonDraft>) =>
    change({ reasons: draft.reasons.map((r) => (r.key === key ? { ...r, ...part } : r)) });
  const remove = (key: string) =>
    change({
      reasons: draft.reasons.filter((r) => r.key !== key),
      hours: draft.hours.map((h) => ({ ...h, reasons: h.reasons.filter((k) => k !== key) })),
    });
  const add = () =>
    change({
      reasons: [
        ...draft.reasons,
        { key: freshKey(), code: "", label: "", minutes: "20", newPatients: true, video: false },
      ],
    });
  return (
    <section class="card" aria-labelledby="agenda-reasons">
      <h2 id="agenda-reasons">{t("agenda.reasons_title")}</h2>
      {draft.reasons.length === 0 ? (
        <p class="muted">{t("agenda.no_reasons")}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("agenda.reason_name")}</th>
              <th scope="col">{t("agenda.reason_minutes")}</th>
              <th scope="col">{t("agenda.reason_new")}</th>
              <th scope="col">{t("agenda.reason_video")}</th>
              <th scope="col">
                <span class="visually-hidden">{t("agenda.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {draft.reasons.map((r) => (
              <tr key={r.key}>
                <td>
                  <input
                    aria-label={t("agenda.reason_name")}
                    maxLength={120}
                    value={r.label}
                    onInput={(e) => update(r.key, { label: (e.target as HTMLInputElement).value })}
                  />
                </td>
                <td>
                  <input
                    aria-label={t("agenda.reason_minutes")}
                    type="number"
                    min={5}
                    max={480}
                    value={r.minutes}
                    onInput={(e) => update(r.key, { minutes: (e.target as HTMLInputElement).value })}
                  />
                </td>
                <td>
                  <input
                    aria-label={t("agenda.reason_new")}
                    type="checkbox"
                    checked={r.newPatients}
                    onChange={(e) => update(r.key, { newPatients: (e.target as HTMLInputElement).checked })}
                  />
                </td>
                <td>
                  <input
                    aria-label={t("agenda.reason_video")}
                    type="checkbox"
                    checked={r.video}
                    onChange={(e) => update(r.key, { video: (e.target as HTMLInputElement).checked })}
                  />
                </td>
                <td>
                  <button type="button" class="link" onClick={() => remove(r.key)}>
                    {t("agenda.remove_reason", { name: r.label || "—" })}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <button type="button" onClick={add}>
          {t("agenda.add_reason")}
        </button>
      </p>
    </section>
  );
}

function HoursEditor({ draft, change }: EditorProps) {
  const zones = timeZones(draft.timeZone);
  const update = (key: string, part: Partial<HoursDraft>) =>
    change({ hours: draft.hours.map((h) => (h.key === key ? { ...h, ...part } : h)) });
  const add = (weekday: number) => {
    // A morning first, then an afternoon: the usual day of a practice, adjusted from there.
    const [start, end] = draft.hours.some((h) => h.weekday === weekday) ? ["14:00", "18:00"] : ["09:00", "12:00"];
    const reasons = draft.reasons.map((r) => r.key);
    change({ hours: [...draft.hours, { key: freshKey(), weekday, start, end, reasons }] });
  };
  const choices = draft.reasons.map((r) => ({ key: r.key, label: r.label }));
  return (
    <section class="card" aria-labelledby="agenda-hours">
      <h2 id="agenda-hours">{t("agenda.hours_title")}</h2>
      <Field label={t("agenda.time_zone")}>
        <select value={draft.timeZone} onChange={(e) => change({ timeZone: (e.target as HTMLSelectElement).value })}>
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </select>
      </Field>
      {WEEKDAYS.map((weekday) => {
        const rows = draft.hours.filter((h) => h.weekday === weekday);
        return (
          <fieldset key={weekday}>
            <legend>{capitalized(weekdayName(weekday))}</legend>
            {rows.length === 0 && <p class="muted">{t("agenda.closed_day")}</p>}
            {rows.map((h) => (
              <div key={h.key} class="row">
                <Field label={t("agenda.from")}>
                  <input
                    type="time"
                    required
                    value={h.start}
                    onInput={(e) => update(h.key, { start: (e.target as HTMLInputElement).value })}
                  />
                </Field>
                <Field label={t("agenda.to")}>
                  <input
                    type="time"
                    required
                    value={h.end === "24:00" ? "00:00" : h.end}
                    onInput={(e) => update(h.key, { end: endOfDay((e.target as HTMLInputElement).value) })}
                  />
                </Field>
                {draft.reasons.length > 1 && (
                  <fieldset>
                    <legend>{t("agenda.for_reasons")}</legend>
                    <ReasonChecks
                      reasons={choices}
                      chosen={h.reasons}
                      change={(reasons) => update(h.key, { reasons })}
                    />
                  </fieldset>
                )}
                <button
                  type="button"
                  class="link"
                  onClick={() => change({ hours: draft.hours.filter((other) => other.key !== h.key) })}
                >
                  {t("agenda.remove_hours", { start: h.start, end: h.end })}
                </button>
              </div>
            ))}
            <button type="button" onClick={() => add(weekday)}>
              {t("agenda.add_hours")}
            </button>
          </fieldset>
        );
      })}
    </section>
  );
}

/** Hours end at midnight as "24:00" (a time input says "00:00"). */
function endOfDay(value: string): string {
  return value === "00:00" ? "24:00" : value;
}

function timeZones(current: string): string[] {
  const known = Intl.supportedValuesOf("timeZone");
  return known.includes(current) ? known : [current, ...known];
}

function RulesEditor({ draft, change }: EditorProps) {
  const setReminder = (index: number, value: string) =>
    change({ reminders: draft.reminders.map((r, i) => (i === index ? value : r)) });
  return (
    <section class="card" aria-labelledby="agenda-rules">
      <h2 id="agenda-rules">{t("agenda.rules_title")}</h2>
      <NumberField
        label={t("agenda.horizon")}
        value={draft.horizonDays}
        set={(v) => change({ horizonDays: v })}
        min={1}
        max={365}
      />
      <NumberField
        label={t("agenda.min_notice")}
        value={draft.noticeHours}
        set={(v) => change({ noticeHours: v })}
        min={0}
        max={720}
        step={0.25}
      />
      <NumberField
        label={t("agenda.cancel_notice")}
        value={draft.cancelHours}
        set={(v) => change({ cancelHours: v })}
        min={0}
        max={336}
      />
      <fieldset>
        <legend>{t("agenda.reminders")}</legend>
        {draft.reminders.map((hours, index) => (
          <div key={index} class="row">
            <span class="grow">
              <input
                type="number"
                required
                min={0.25}
                max={336}
                step={0.25}
                aria-label={t("agenda.reminder", { n: index + 1 })}
                value={hours}
                onInput={(e) => setReminder(index, (e.target as HTMLInputElement).value)}
              />
            </span>
            <button
              type="button"
              class="link"
              onClick={() => change({ reminders: draft.reminders.filter((_, i) => i !== index) })}
            >
              {t("agenda.remove_reminder", { n: index + 1 })}
            </button>
          </div>
        ))}
        <button
          type="button"
          disabled={draft.reminders.length >= MAX_REMINDERS}
          onClick={() => change({ reminders: [...draft.reminders, "1"] })}
        >
          {t("agenda.add_reminder")}
        </button>
      </fieldset>
    </section>
  );
}

function NumberField(props: {
  label: string;
  value: string;
  set: (value: string) => void;
  min: number;
  max: number;
  step?: number;
}) {
  return (
    <Field label={props.label}>
      <input
        type="number"
        required
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={props.value}
        onInput={(e) => props.set((e.target as HTMLInputElement).value)}
      />
    </Field>
  );
}
