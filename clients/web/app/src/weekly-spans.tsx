/** Hours of the week that repeat ("every Monday, 19:00 to 08:00"), as an
 * away rule and quiet hours take them (`protocol.practice.WeeklySpan`: day 0
 * is Monday; an end at or before the start runs past midnight; "24:00" ends
 * at midnight). */
import type { ComponentChildren } from "preact";
import { type Option, SelectField } from "./controls.js";
import { valueOf } from "./forms.js";
import { defineTexts, t } from "./i18n.js";
import { savedEnd, shownEnd } from "./local-time.js";
import { Field } from "./ui.js";

defineTexts({
  "weekly.slot": ["Créneau {n}", "Slot {n}"],
  "weekly.slot_day": ["Jour", "Day"],
  "weekly.slot_start": ["De", "From"],
  "weekly.slot_end": ["À", "To"],
  "weekly.slot_remove": ["Retirer le créneau {n}", "Remove slot {n}"],
  "weekly.slot_add": ["Ajouter un créneau", "Add a slot"],
  "weekly.add_evenings": ["Ajouter les soirs de semaine (19:00–08:00)", "Add weekday evenings (19:00–08:00)"],
  "weekly.add_weekend": ["Ajouter le week-end", "Add the weekend"],
  "weekly.slot_empty": [
    "Le créneau {n} finit à l'heure où il commence : pour une journée entière, indiquez de 00:00 à 00:00.",
    "Slot {n} ends when it starts: for a whole day, enter 00:00 to 00:00.",
  ],
  "weekly.day.0": ["Lundi", "Monday"],
  "weekly.day.1": ["Mardi", "Tuesday"],
  "weekly.day.2": ["Mercredi", "Wednesday"],
  "weekly.day.3": ["Jeudi", "Thursday"],
  "weekly.day.4": ["Vendredi", "Friday"],
  "weekly.day.5": ["Samedi", "Saturday"],
  "weekly.day.6": ["Dimanche", "Sunday"],
});

/** Wall-clock hours of a weekday (0 Monday). */
export type Span = [day: number, start: string, end: string];

const DAYS = [0, 1, 2, 3, 4, 5, 6];
const EVENINGS: Span[] = [0, 1, 2, 3, 4].map((day) => [day, "19:00", "08:00"]);
const WEEKEND: Span[] = [
  [5, "00:00", "24:00"],
  [6, "00:00", "24:00"],
];

export function dayName(day: number): string {
  return t(`weekly.day.${day}`);
}

/** What the server would refuse in `spans`, in the reader's words; null if nothing. */
export function spanProblem(spans: Span[]): string | null {
  const empty = spans.findIndex(([, start, end]) => start === end);
  return empty >= 0 ? t("weekly.slot_empty", { n: empty + 1 }) : null;
}

/** The spans, one row each, with buttons that add one, the weekday evenings
 * or the weekend; at most `most` of them (the protocol's limit). `card`: a
 * card of its own, its legend the title; `children` follow the buttons. */
export function WeeklySpans(props: {
  legend: string;
  hint: string;
  spans: Span[];
  most: number;
  onChange: (spans: Span[]) => void;
  card?: boolean;
  children?: ComponentChildren;
}) {
  const { spans } = props;
  const set = (index: number, span: Span) => props.onChange(spans.map((s, i) => (i === index ? span : s)));
  const add = (more: Span[]) => props.onChange([...spans, ...more].slice(0, props.most));
  return (
    <fieldset class={props.card ? "card field" : "field"}>
      <legend class="label">{props.legend}</legend>
      <p class="hint">{props.hint}</p>
      {spans.map((span, index) => (
        <SpanRow
          key={index}
          n={index + 1}
          span={span}
          set={(changed) => set(index, changed)}
          remove={() => props.onChange(spans.filter((_, i) => i !== index))}
        />
      ))}
      <div class="row">
        <button type="button" onClick={() => add([[0, "09:00", "12:00"]])}>
          {t("weekly.slot_add")}
        </button>
        <button type="button" onClick={() => add(EVENINGS)}>
          {t("weekly.add_evenings")}
        </button>
        <button type="button" onClick={() => add(WEEKEND)}>
          {t("weekly.add_weekend")}
        </button>
      </div>
      {props.children}
    </fieldset>
  );
}

function SpanRow(props: { n: number; span: Span; set: (span: Span) => void; remove: () => void }) {
  const [day, start, end] = props.span;
  return (
    <fieldset class="row bare bottom">
      <legend class="visually-hidden">{t("weekly.slot", { n: props.n })}</legend>
      <SelectField
        label={t("weekly.slot_day")}
        value={String(day)}
        options={DAYS.map((d): Option => [String(d), dayName(d)])}
        onChange={(chosen) => props.set([Number(chosen), start, end])}
      />
      <Field label={t("weekly.slot_start")}>
        <input type="time" required value={start} onInput={(e) => props.set([day, valueOf(e), end])} />
      </Field>
      <Field label={t("weekly.slot_end")}>
        <input
          type="time"
          required
          value={shownEnd(end)}
          onInput={(e) => props.set([day, start, savedEnd(valueOf(e))])}
        />
      </Field>
      <button type="button" class="link" onClick={props.remove}>
        {t("weekly.slot_remove", { n: props.n })}
      </button>
    </fieldset>
  );
}
