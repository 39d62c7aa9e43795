/** A practitioner's free slots for a visit, a week at a time, to pick one
 * (to book it, or to move an appointment there). */
import { useState } from "preact/hooks";
import { useSession } from "../context.js";
import { defineTexts, formatDate, formatTime, t } from "../i18n.js";
import { addDays, isoDate, midnight, today } from "../local-time.js";
import { ErrorLine, Loading, useLoad } from "../ui.js";
import { capitalized } from "./booking-common.js";

defineTexts({
  "booking.earlier": ["← Plus tôt", "← Earlier"],
  "booking.later": ["Plus tard →", "Later →"],
  "booking.range": ["Du {from} au {to}", "From {from} to {to}"],
  "booking.no_slots": [
    "Aucun créneau libre sur ces jours : regardez plus tard.",
    "No free slot on these days: look later.",
  ],
});

const SLOT_PAGE_DAYS = 7;

/** A week of free slots, day by day; a refused pick is said, and the slots
 * are fetched again (someone may just have taken the one picked). */
export function SlotPicker(props: {
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
      ) : (
        <SlotDays slots={slots.value.slots} busy={busy} choose={choose} />
      )}
    </div>
  );
}

function SlotDays(props: { slots: number[]; busy: boolean; choose: (start: number) => void }) {
  const days = slotsByDay(props.slots);
  if (days.length === 0) return <p class="muted">{t("booking.no_slots")}</p>;
  return (
    <>
      {days.map((starts) => {
        const day = capitalized(formatDate(starts[0] as number));
        return (
          <div key={starts[0]} role="group" aria-label={day}>
            <h3>{day}</h3>
            <div class="slots">
              {starts.map((start) => (
                <button key={start} type="button" disabled={props.busy} onClick={() => props.choose(start)}>
                  {formatTime(start)}
                </button>
              ))}
            </div>
          </div>
        );
      })}
    </>
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
