/** The practitioner's inbox settings: who may write to them, the reasons a
 * patient picks from (with the response time announced), and how much each
 * patient may write. */
import { useEffect, useState } from "preact/hooks";
import type { RequestReason } from "../api.js";
import { codeFor } from "../codes.js";
import { useSession } from "../context.js";
import { SubmitRow, numberOf, useSubmit, valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { useTopic } from "../store.js";
import { Field, Loading, Page, useLoad } from "../ui.js";
import { PatientPicker, type PatientSummary, loadPatients } from "./patient-picker.js";

defineTexts({
  "inboxsettings.title": ["Réglages de la boîte de réception", "Inbox settings"],
  "inboxsettings.accepting": ["Qui peut vous écrire", "Who may write to you"],
  "inboxsettings.accepting.off": [
    "Personne : vos patients ne peuvent pas ouvrir de demande (vous pouvez toujours leur écrire).",
    "Nobody: your patients cannot open a request (you can still write to them).",
  ],
  "inboxsettings.accepting.patients": ["Tous mes patients", "All my patients"],
  "inboxsettings.accepting.list": ["Seulement les patients choisis ci-dessous", "Only the patients chosen below"],
  "inboxsettings.accept_list": ["Patients autorisés", "Patients allowed"],
  "inboxsettings.reasons": ["Motifs de demande", "Request reasons"],
  "inboxsettings.reasons_hint": [
    "Le patient choisit un motif avant d'écrire ; le délai annoncé lui est montré.",
    "The patient picks a reason before writing; the announced delay is shown to them.",
  ],
  "inboxsettings.no_reasons": [
    "Sans motif, vos patients ne peuvent pas ouvrir de demande.",
    "Without a reason, your patients cannot open a request.",
  ],
  "inboxsettings.reason": ["Motif {n}", "Reason {n}"],
  "inboxsettings.reason_label": ["Libellé", "Label"],
  "inboxsettings.reason_hours": ["Délai de réponse annoncé (heures)", "Announced response time (hours)"],
  "inboxsettings.reason_remove": ["Retirer le motif {n}", "Remove reason {n}"],
  "inboxsettings.reason_add": ["Ajouter un motif", "Add a reason"],
  "inboxsettings.limits": ["Limites par patient", "Limits per patient"],
  "inboxsettings.max_open_threads": ["Demandes ouvertes en même temps", "Requests open at the same time"],
  "inboxsettings.max_daily_messages": ["Messages sur 24 heures", "Messages in 24 hours"],
  "inboxsettings.save": ["Enregistrer les réglages", "Save the settings"],
});

type Accepting = "off" | "patients" | "list";

/** docs/protocol.schema.json `inbox.get`. */
interface Settings {
  accepting: Accepting;
  accept_list: number[];
  reasons: RequestReason[];
  max_open_threads: number;
  max_daily_messages: number;
}

const ACCEPTING: Accepting[] = ["patients", "list", "off"];
const MAX_REASONS = 32;

/** The server omits the fields left at their defaults. */
function settingsOf(sent: Partial<Settings>): Settings {
  return { accepting: "patients", accept_list: [], reasons: [], max_open_threads: 3, max_daily_messages: 20, ...sent };
}

export function InboxSettings() {
  const session = useSession();
  const topic = useTopic(session.store, "inbox");
  const loaded = useLoad(
    () => Promise.all([session.call<Partial<Settings>>("inbox.get", {}).then(settingsOf), loadPatients(session)]),
    [topic],
  );
  return (
    <Page title={t("inboxsettings.title")}>
      {loaded.value ? (
        <InboxForm settings={loaded.value[0]} patients={loaded.value[1]} />
      ) : (
        <Loading error={loaded.error} />
      )}
    </Page>
  );
}

function InboxForm(props: { settings: Settings; patients: PatientSummary[] }) {
  const session = useSession();
  const [settings, setSettings] = useState(props.settings);
  const form = useSubmit(async () => {
    await session.call("inbox.set", { ...settings, reasons: withCodes(settings.reasons) });
    return t("common.saved");
  });
  useEffect(() => setSettings(props.settings), [props.settings]);
  const change = (part: Partial<Settings>) => {
    setSettings({ ...settings, ...part });
    form.edited();
  };
  return (
    <form onSubmit={form.onSubmit}>
      <fieldset class="card field">
        <legend class="label">{t("inboxsettings.accepting")}</legend>
        {ACCEPTING.map((accepting) => (
          <label key={accepting} class="row">
            <input
              type="radio"
              name="accepting"
              checked={settings.accepting === accepting}
              onChange={() => change({ accepting })}
            />
            {t(`inboxsettings.accepting.${accepting}`)}
          </label>
        ))}
        {settings.accepting === "list" && (
          <PatientPicker
            legend={t("inboxsettings.accept_list")}
            patients={props.patients}
            chosen={settings.accept_list}
            onChange={(accept_list) => change({ accept_list })}
          />
        )}
      </fieldset>
      <Reasons reasons={settings.reasons} onChange={(reasons) => change({ reasons })} />
      <Limits settings={settings} change={change} />
      <SubmitRow form={form} label={t("inboxsettings.save")} />
    </form>
  );
}

/** A number input's value while it is being typed: empty, not "NaN". */
const shownNumber = (value: number) => (Number.isFinite(value) ? value : "");

function Limits(props: { settings: Settings; change: (part: Partial<Settings>) => void }) {
  const { settings, change } = props;
  return (
    <fieldset class="card field">
      <legend class="label">{t("inboxsettings.limits")}</legend>
      <div class="row">
        <LimitField
          label={t("inboxsettings.max_open_threads")}
          value={settings.max_open_threads}
          max={100}
          set={(max_open_threads) => change({ max_open_threads })}
        />
        <LimitField
          label={t("inboxsettings.max_daily_messages")}
          value={settings.max_daily_messages}
          max={100000}
          set={(max_daily_messages) => change({ max_daily_messages })}
        />
      </div>
    </fieldset>
  );
}

function LimitField(props: { label: string; value: number; max: number; set: (value: number) => void }) {
  return (
    <Field label={props.label}>
      <input
        type="number"
        required
        min={1}
        max={props.max}
        value={shownNumber(props.value)}
        onInput={(e) => props.set(numberOf(e))}
      />
    </Field>
  );
}

function Reasons(props: { reasons: RequestReason[]; onChange: (reasons: RequestReason[]) => void }) {
  const { reasons } = props;
  const set = (index: number, part: Partial<RequestReason>) =>
    props.onChange(reasons.map((reason, i) => (i === index ? { ...reason, ...part } : reason)));
  return (
    <fieldset class="card field">
      <legend class="label">{t("inboxsettings.reasons")}</legend>
      <p class="hint">{t("inboxsettings.reasons_hint")}</p>
      {reasons.length === 0 && (
        <p class="error" role="status">
          {t("inboxsettings.no_reasons")}
        </p>
      )}
      {reasons.map((reason, index) => (
        <fieldset key={index} class="row bare bottom">
          <legend class="visually-hidden">{t("inboxsettings.reason", { n: index + 1 })}</legend>
          <div class="grow">
            <Field label={t("inboxsettings.reason_label")}>
              <input required maxLength={120} value={reason.label} onInput={(e) => set(index, { label: valueOf(e) })} />
            </Field>
          </div>
          <Field label={t("inboxsettings.reason_hours")}>
            <input
              type="number"
              min={1}
              max={24 * 60}
              value={reason.response_hours ?? ""}
              onInput={(e) => {
                const hours = numberOf(e);
                set(index, { response_hours: Number.isFinite(hours) ? hours : null });
              }}
            />
          </Field>
          <button type="button" class="link" onClick={() => props.onChange(reasons.filter((_, i) => i !== index))}>
            {t("inboxsettings.reason_remove", { n: index + 1 })}
          </button>
        </fieldset>
      ))}
      <div class="row">
        <button
          type="button"
          disabled={reasons.length >= MAX_REASONS}
          onClick={() => props.onChange([...reasons, { code: "", label: "" }])}
        >
          {t("inboxsettings.reason_add")}
        </button>
      </div>
    </fieldset>
  );
}

/** The reasons as the server takes them: a new one gets a code made from its
 * label (kept when it is renamed later, since threads name it); codes are unique. */
function withCodes(reasons: RequestReason[]): RequestReason[] {
  const taken = new Set(reasons.map((r) => r.code).filter(Boolean));
  return reasons.map((reason) => {
    const label = reason.label.trim();
    const hours = reason.response_hours ? { response_hours: reason.response_hours } : {};
    return { code: reason.code || codeFor(label, "reason", taken), label, ...hours };
  });
}
