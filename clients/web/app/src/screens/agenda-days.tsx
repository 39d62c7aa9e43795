/** The agenda's appointments: a day as a table (marking a no-show,
 * cancelling), a week as seven columns, and the closures they meet. */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { Table } from "../controls.js";
import { valueOf } from "../forms.js";
import { defineTexts, formatDate, formatTime, t } from "../i18n.js";
import { addDays, isoDate, midnight } from "../local-time.js";
import { Action, Field } from "../ui.js";
import {
  type AgendaSettings,
  type Appointment,
  MINUTE_MS,
  StatusPill,
  capitalized,
  reasonLabelOf,
  timeSpan,
  useNow,
} from "./booking-common.js";
import { type AgendaException, ExceptionItem } from "./agenda-exceptions.js";

defineTexts({
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
});

/** docs/protocol.schema.json `agenda.day` and `agenda.week`. */
export interface AgendaView {
  time_zone: string;
  starts_at: number;
  ends_at: number;
  appointments: Appointment[];
  exceptions: AgendaException[];
  /** The display names of the appointments' patients, by user id. */
  names?: Record<string, string>;
}

/** A day or a week of the agenda, and the names of its patients. */
export interface Span {
  view: AgendaView;
  names: Map<number, string>;
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

export function DayTable(props: { span: Span; day: string; settings: AgendaSettings; changed: () => void }) {
  const { appointments, exceptions } = props.span.view;
  const now = useNow(MINUTE_MS);
  const head = [
    t("agenda.time"),
    t("agenda.patient"),
    t("agenda.reason"),
    t("agenda.status"),
    { hidden: t("agenda.actions") },
  ];
  return (
    <>
      {appointments.length === 0 ? (
        <p class="muted">{t("agenda.empty_day")}</p>
      ) : (
        <Table head={head} caption={t("agenda.day_caption")}>
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
        </Table>
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
  const { appointment } = props;
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
        {appointment.status === "confirmed" && (
          <ConfirmedActions
            appointment={appointment}
            begun={appointment.starts_at <= props.now}
            changed={props.changed}
          />
        )}
      </td>
    </tr>
  );
}

/** Once it has begun, a missed appointment is marked; before, the practice may cancel it. */
function ConfirmedActions(props: { appointment: Appointment; begun: boolean; changed: () => void }) {
  const session = useSession();
  const [cancelling, setCancelling] = useState(false);
  const { appointment } = props;
  if (props.begun) {
    return (
      <Action
        label={t("agenda.no_show")}
        action={async () => {
          await session.call("booking.no_show", { appointment: appointment.id });
          props.changed();
        }}
      />
    );
  }
  if (cancelling) {
    return <PracticeCancel appointment={appointment} done={props.changed} back={() => setCancelling(false)} />;
  }
  return (
    <button type="button" class="danger" onClick={() => setCancelling(true)}>
      {t("agenda.cancel")}
    </button>
  );
}

/** The practice cancels at any time, and says why (the patient is told). */
function PracticeCancel(props: { appointment: Appointment; done: () => void; back: () => void }) {
  const session = useSession();
  const [reason, setReason] = useState("");
  return (
    <div>
      <Field label={t("agenda.cancel_reason")}>
        <input maxLength={500} value={reason} onInput={(e) => setReason(valueOf(e))} />
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

export function WeekGrid(props: {
  span: Span;
  monday: string;
  settings: AgendaSettings;
  showDay: (day: string) => void;
  changed: () => void;
}) {
  const days = Array.from({ length: 7 }, (_, i) => addDays(props.monday, i));
  return (
    <div class="week">
      {days.map((day) => (
        <WeekDay
          key={day}
          day={day}
          span={props.span}
          settings={props.settings}
          showDay={props.showDay}
          changed={props.changed}
        />
      ))}
    </div>
  );
}

function WeekDay(props: {
  day: string;
  span: Span;
  settings: AgendaSettings;
  showDay: (day: string) => void;
  changed: () => void;
}) {
  const { day } = props;
  const { appointments, exceptions } = props.span.view;
  const from = midnight(day);
  const to = midnight(addDays(day, 1));
  return (
    <section aria-labelledby={`agenda-day-${day}`}>
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
}
