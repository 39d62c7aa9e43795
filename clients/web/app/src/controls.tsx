/** Controls several screens use alike: checkboxes, a button that asks
 * before it does what cannot be undone, a table, a choice among options. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { checkedOf, valueOf } from "./forms.js";
import { defineTexts, t } from "./i18n.js";
import { timeZones } from "./local-time.js";
import { Action, Field } from "./ui.js";

defineTexts({
  "practice.confirm": ["Confirmer : {action}", "Confirm: {action}"],
});

/** `list` with `item` in it when `on`, without it otherwise (in order, once). */
export function withItem<T>(list: readonly T[], item: T, on: boolean): T[] {
  if (!on) return list.filter((other) => other !== item);
  return list.includes(item) ? [...list] : [...list, item];
}

/** A checkbox with its label beside it. */
export function Check(props: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ComponentChildren;
  disabled?: boolean;
}) {
  return (
    <label class="row">
      <input
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(event) => props.onChange(checkedOf(event))}
      />
      <span class="grow">{props.children}</span>
    </label>
  );
}

/** A form's yes-or-no setting, with what it means under it. */
export function CheckField(props: {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: string;
}) {
  return (
    <div class="field">
      <Check checked={props.checked} onChange={props.onChange}>
        {props.label}
      </Check>
      {props.hint && <span class="hint">{props.hint}</span>}
    </div>
  );
}

/** A button for what cannot be undone: it asks `question` first (else
 * "Confirm: label"), and the `confirm` button does it. */
export function ConfirmAction(props: {
  label: string;
  action: () => Promise<unknown>;
  question?: string;
  confirm?: string;
}) {
  const [asked, setAsked] = useState(false);
  if (!asked) {
    return (
      <button type="button" class="danger" onClick={() => setAsked(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="row" role="group" aria-label={props.question ?? props.label}>
      {props.question && <span>{props.question}</span>}
      <Action
        kind="danger"
        label={props.confirm ?? t("practice.confirm", { action: props.label })}
        action={props.action}
      />
      <button type="button" onClick={() => setAsked(false)}>
        {t("common.cancel")}
      </button>
    </span>
  );
}

/** A column heading only screen readers need (over a column of buttons, say). */
interface HiddenHeading {
  hidden: string;
}

/** A table under a row of column headings; its rows are the children. */
export function Table(props: {
  head: (string | HiddenHeading)[];
  caption?: string;
  labelledBy?: string;
  children: ComponentChildren;
}) {
  return (
    <table aria-labelledby={props.labelledBy}>
      {props.caption && <caption class="visually-hidden">{props.caption}</caption>}
      <thead>
        <tr>
          {props.head.map((heading, index) => (
            <th key={index} scope="col">
              {typeof heading === "string" ? heading : <span class="visually-hidden">{heading.hidden}</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}

/** A value and what a person reads for it. */
export type Option = readonly [value: string, label: string];

/** A labelled choice of one of `options`. */
export function SelectField(props: {
  label: string;
  value: string;
  options: Option[];
  onChange: (value: string) => void;
}) {
  return (
    <Field label={props.label}>
      <select value={props.value} onChange={(event) => props.onChange(valueOf(event))}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function TimeZoneField(props: { label: string; value: string; onChange: (zone: string) => void }) {
  const zones = timeZones(props.value).map((zone): Option => [zone, zone]);
  return <SelectField label={props.label} value={props.value} options={zones} onChange={props.onChange} />;
}
