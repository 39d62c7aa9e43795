/** The patient books: a practitioner (theirs, or one found by name), a
 * type of visit, then a free slot, which the server holds for them. */
import { useState } from "preact/hooks";
import { type PractitionerInfo, professionOf } from "../api.js";
import { useSession } from "../context.js";
import { isNotFound, useSubmit, valueOf } from "../forms.js";
import { Check, type Option, SelectField } from "../controls.js";
import { defineTexts, t } from "../i18n.js";
import { ErrorLine, Field, Loading, useLoad } from "../ui.js";
import { type AgendaSettings, type Appointment, type VisitReason, complete } from "./booking-common.js";
import { type Hold, holdDeadline } from "./booking-hold.js";
import { SlotPicker } from "./booking-slots.js";

defineTexts({
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
});

export interface Practitioner {
  id: number;
  name: string;
  /** Absent when they take no online bookings. */
  settings?: AgendaSettings;
}

type Person = { id: number; name: string };

export interface Choice {
  practitioner: Person;
  reason?: string;
  video: boolean;
}

export function NewBooking(props: {
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

function PractitionerPicker(props: { known: Practitioner[]; pick: (practitioner: Person) => void }) {
  const session = useSession();
  const [text, setText] = useState("");
  const [found, setFound] = useState<{ text: string; practitioners: PractitionerInfo[] }>();
  const search = useSubmit(async () => {
    const wanted = text.trim();
    const result = await session.call<{ practitioners: PractitionerInfo[] }>("practitioners.search", { text: wanted });
    setFound({ text: wanted, practitioners: result.practitioners });
  });
  return (
    <>
      {props.known.length > 0 && (
        <>
          <h3>{t("booking.yours")}</h3>
          <People people={props.known} pick={props.pick} />
        </>
      )}
      <form class="row" role="search" onSubmit={search.onSubmit}>
        <div class="grow">
          <Field label={t("booking.search")} hint={t("booking.search_hint")}>
            <input
              type="search"
              minLength={2}
              maxLength={64}
              required
              value={text}
              onInput={(e) => setText(valueOf(e))}
            />
          </Field>
        </div>
        <button type="submit">{t("booking.search_go")}</button>
      </form>
      <ErrorLine error={search.error} />
      {found &&
        (found.practitioners.length ? (
          <>
            <h3>{t("booking.found")}</h3>
            <People people={found.practitioners} pick={props.pick} />
          </>
        ) : (
          <p class="muted" role="status">
            {t("booking.search_none", { text: found.text })}
          </p>
        ))}
    </>
  );
}

/** Those found by name show what the directory says they practise. */
function People(props: {
  people: (Person & Pick<PractitionerInfo, "profession" | "specialty">)[];
  pick: (person: Person) => void;
}) {
  return (
    <div class="row">
      {props.people.map((p) => {
        const profession = professionOf(p);
        return (
          <button key={p.id} type="button" onClick={() => props.pick({ id: p.id, name: p.name })}>
            {profession ? `${p.name} — ${profession}` : p.name}
          </button>
        );
      })}
    </div>
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
  const visit = (r: VisitReason) => `${r.label} · ${t("booking.minutes", { minutes: r.minutes })}`;
  return (
    <>
      {reasons.length > 1 ? (
        <SelectField
          label={t("booking.reason")}
          value={reason.code}
          options={reasons.map((r): Option => [r.code, visit(r)])}
          onChange={(code) => props.choose({ ...choice, reason: code })}
        />
      ) : (
        <p>{visit(reason)}</p>
      )}
      {reason.video && (
        <Check checked={video} onChange={(on) => props.choose({ ...choice, video: on })}>
          {t("booking.video")}
        </Check>
      )}
      <SlotPicker practitioner={practitioner.id} reason={reason.code} pick={hold} />
    </>
  );
}
