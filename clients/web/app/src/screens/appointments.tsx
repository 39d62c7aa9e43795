/** The patient's appointments (docs/booking.md): booking a new one, those
 * ahead (finish a hold, move or cancel while the practice's notice allows)
 * and those past. */
import { useState } from "preact/hooks";
import type { PractitionerInfo } from "../api.js";
import { useSession } from "../context.js";
import { defineTexts, formatDate, formatDateTime, t } from "../i18n.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Action, ErrorLine, Loading, Page, useLoad } from "../ui.js";
import {
  type AgendaSettings,
  type Appointment,
  HOUR_MS,
  MINUTE_MS,
  StatusPill,
  capitalized,
  complete,
  reasonLabelOf,
  timeSpan,
  useNow,
} from "./booking-common.js";
import { type Choice, NewBooking, type Practitioner } from "./booking-choice.js";
import { type Hold, HoldPanel, type Relative, holdDeadline, lapsedHold } from "./booking-hold.js";
import { SlotPicker } from "./booking-slots.js";

defineTexts({
  "booking.title": ["Mes rendez-vous", "My appointments"],
  "booking.new": ["Prendre rendez-vous", "Book an appointment"],
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
});

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
  const moved = (news: string) => {
    setStep("idle");
    props.changed(news);
  };
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
        <CancelStep appointment={appointment} keep={() => setStep("idle")} cancelled={props.changed} />
      )}
      {step === "move" && <MoveStep appointment={appointment} close={() => setStep("idle")} moved={moved} />}
    </>
  );
}

function CancelStep(props: { appointment: Appointment; keep: () => void; cancelled: (news: string) => void }) {
  const session = useSession();
  const cancel = async () => {
    await session.call("booking.cancel", { appointment: props.appointment.id });
    props.cancelled(t("booking.cancelled_news", { when: formatDateTime(props.appointment.starts_at) }));
  };
  return (
    <div class="row" role="group" aria-label={t("booking.cancel_question")}>
      <span>{t("booking.cancel_question")}</span>
      <Action kind="danger" label={t("booking.cancel_confirm")} action={cancel} />
      <button type="button" onClick={props.keep}>
        {t("booking.keep")}
      </button>
    </div>
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
