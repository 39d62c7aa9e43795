/** A slot held for the patient while they confirm it: 15 minutes on the
 * server's clock, counted down here, then their booking or its release. */
import { useState } from "preact/hooks";
import { CallError } from "../../../src/index.js";
import { useSession } from "../context.js";
import { type Option, SelectField } from "../controls.js";
import { defineTexts, formatDate, t } from "../i18n.js";
import { valueOf } from "../forms.js";
import { pad } from "../local-time.js";
import { Action, Field } from "../ui.js";
import { type Appointment, MINUTE_MS, capitalized, timeSpan, useNow } from "./booking-common.js";

defineTexts({
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
});

/** protocol/booking.py HOLD_MINUTES: how long a hold keeps its slot. */
const HOLD_MS = 15 * MINUTE_MS;

export interface Hold {
  appointment: Appointment;
  /** When it runs out, on this device's clock. */
  deadline: number;
  practitioner: string;
  reason: string;
}

/** Someone the patient may book for (docs/protocol.schema.json `relatives.list`). */
export interface Relative {
  user: number;
  name: string;
}

/** How far this device's clock runs behind the server's, learnt when a hold
 * is made (the server makes it HOLD_MS before it expires): the countdown
 * then ends when the server's hold does, whatever this clock says. */
let serverAhead = 0;

export function holdDeadline(hold: Appointment, justMade: boolean): number {
  const expires = hold.hold_expires_at ?? 0;
  if (justMade) serverAhead = expires - HOLD_MS - Date.now();
  return expires - serverAhead;
}

/** A hold that ran out: it no longer keeps anything (the server drops it from the list). */
export function lapsedHold(appointment: Appointment, now: number): boolean {
  return appointment.status === "held" && (appointment.hold_expires_at ?? 0) - serverAhead <= now;
}

function refusalOf(error: unknown): string | undefined {
  const reason = error instanceof CallError ? error.details.reason : undefined;
  return typeof reason === "string" ? reason : undefined;
}

function mmss(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${pad(Math.floor(seconds / 60))}:${pad(seconds % 60)}`;
}

/** The held slot, its countdown, and the confirmation; when the hold runs
 * out it says so and offers to choose again. */
export function HoldPanel(props: {
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
  if (expired || left <= 0) return <HoldExpired again={props.released} />;
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
      {props.relatives.length > 0 && <ForWhom relatives={props.relatives} subject={subject} choose={setSubject} />}
      <Field label={t("booking.note")}>
        <textarea rows={2} maxLength={500} value={note} onInput={(e) => setNote(valueOf(e))} />
      </Field>
      <div class="row">
        <Action kind="primary" label={t("booking.confirm")} action={confirm} />
        <Action label={t("booking.release")} action={release} />
      </div>
    </section>
  );
}

function HoldExpired({ again }: { again: () => void }) {
  return (
    <>
      <p class="error" role="alert">
        {t("booking.hold_expired")}
      </p>
      <button type="button" class="primary" onClick={again}>
        {t("booking.pick_again")}
      </button>
    </>
  );
}

/** The patient, or one of the relatives they book for. */
function ForWhom(props: { relatives: Relative[]; subject: number | undefined; choose: (subject?: number) => void }) {
  const people = props.relatives.map((r): Option => [String(r.user), r.name]);
  return (
    <SelectField
      label={t("booking.for_whom")}
      value={String(props.subject ?? "")}
      options={[["", t("booking.myself")], ...people]}
      onChange={(chosen) => props.choose(chosen ? Number(chosen) : undefined)}
    />
  );
}
