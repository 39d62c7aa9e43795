/** When notifications keep quiet, for every device of the account
 * (`notify.get`, `notify.set`; docs/push.md): quiet hours each week in a
 * time zone, do-not-disturb until a moment, and, for a patient, the email
 * address told that a message waits when no device of theirs can be reached. */
import { useEffect, useState } from "preact/hooks";
import { TimeZoneField } from "../controls.js";
import { useSession } from "../context.js";
import { SubmitRow, useSubmit, valueOf } from "../forms.js";
import { defineTexts, formatDateTime, t, timeZone } from "../i18n.js";
import { localInput } from "../local-time.js";
import type { Session } from "../session.js";
import { Action, Field, Loading, Page, Problem, useLoad } from "../ui.js";
import { type Span, WeeklySpans, spanProblem } from "../weekly-spans.js";

defineTexts({
  "notifications.title": ["Notifications", "Notifications"],
  "notifications.intro": [
    "Ces réglages valent pour tous vos appareils. Chaque appareil reçoit ou non les notifications selon son propre choix, dans « Appareils ».",
    "These settings hold for all your devices. Each device gets notifications or not by its own choice, in “Devices”.",
  ],
  "notifications.dnd": ["Ne pas déranger", "Do not disturb"],
  "notifications.dnd_explain": [
    "Les notifications arrivent sans son ni vibration et disent seulement combien de messages vous attendent.",
    "Notifications come without sound or vibration and only say how many messages wait for you.",
  ],
  "notifications.dnd_off": ["Désactivé.", "Off."],
  "notifications.dnd_until": ["Activé jusqu'au {date}.", "On until {date}."],
  "notifications.dnd_for": ["Ne pas déranger :", "Do not disturb:"],
  "notifications.dnd_hour": ["1 heure", "1 hour"],
  "notifications.dnd_tomorrow": ["Jusqu'à demain 8 h", "Until tomorrow 8 am"],
  "notifications.dnd_choose": ["Choisir…", "Choose…"],
  "notifications.dnd_end": ["Fin", "Ends"],
  "notifications.dnd_start": ["Activer jusqu'à cette heure", "Turn on until then"],
  "notifications.dnd_past": ["Choisissez un moment à venir.", "Choose a moment still to come."],
  "notifications.dnd_stop": ["Désactiver", "Turn off"],
  "notifications.quiet": ["Heures calmes", "Quiet hours"],
  "notifications.quiet_hint": [
    "Chaque semaine pendant ces heures, les notifications arrivent sans son et disent seulement le nombre de messages. Une fin avant le début passe minuit ; 00:00 en fin veut dire minuit.",
    "Each week during these hours, notifications come without sound and only say the number of messages. An end before the start runs past midnight; 00:00 as an end means midnight.",
  ],
  "notifications.zone": ["Fuseau horaire des heures calmes", "Time zone of the quiet hours"],
  "notifications.email_title": ["Par e-mail", "By email"],
  "notifications.email": [
    "Me prévenir par e-mail quand je n'ai pas l'application",
    "Tell me by email when I do not have the app",
  ],
  "notifications.email_hint": [
    "Quand aucun de vos appareils ne peut recevoir de notification, un e-mail vous dit qu'un message vous attend ou qu'un rendez-vous a changé, au plus une fois par heure. Il ne contient jamais le message, ni le nom de qui l'a envoyé, ni le motif. Laissez vide pour ne pas en recevoir.",
    "When none of your devices can get a notification, an email tells you that a message waits or that an appointment changed, at most once an hour. It never contains the message, nor the name of who sent it, nor the reason. Leave empty to receive none.",
  ],
  "notifications.email_incomplete": [
    "Cette adresse e-mail est incomplète (par exemple : nom@exemple.fr).",
    "This email address is incomplete (for example: name@example.com).",
  ],
  "notifications.save": ["Enregistrer les notifications", "Save the notifications"],
});

/** `protocol.push.NotifyPreferences`, the defaults filled in. */
interface Preferences {
  quiet_hours: Span[];
  time_zone: string;
  do_not_disturb_until: number | null;
  email: string | null;
}

/** docs/protocol.schema.json `NotifyPreferences.quiet_hours`: 28 at most. */
const MOST_SPANS = 28;
const HOUR_MS = 3_600_000;
/** An address as the server takes it (`protocol.push.Email`). */
const EMAIL = /^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$/;

/** The server leaves out what is at its default; a zone never chosen is the browser's. */
function preferencesOf(sent: Partial<Preferences>): Preferences {
  return { quiet_hours: [], time_zone: timeZone(), do_not_disturb_until: null, email: null, ...sent };
}

async function save(session: Session, preferences: Preferences): Promise<Preferences> {
  return preferencesOf(await session.call<Partial<Preferences>>("notify.set", preferences));
}

export function NotificationSettings() {
  const session = useSession();
  const loaded = useLoad(() => session.call<Partial<Preferences>>("notify.get", {}).then(preferencesOf), []);
  // What the server holds: do-not-disturb saves at once, beside the form's unsaved edits.
  const [saved, setSaved] = useState<Preferences>();
  useEffect(() => setSaved(loaded.value), [loaded.value]);
  return (
    <Page title={t("notifications.title")}>
      <p class="muted">{t("notifications.intro")}</p>
      {saved ? (
        <>
          <DoNotDisturb saved={saved} setSaved={setSaved} />
          <QuietForm saved={saved} setSaved={setSaved} />
        </>
      ) : (
        <Loading error={loaded.error} />
      )}
    </Page>
  );
}

interface Held {
  saved: Preferences;
  setSaved: (preferences: Preferences) => void;
}

/** Tomorrow at 08:00, the browser's time. */
function tomorrowMorning(now: number): number {
  const day = new Date(now);
  day.setDate(day.getDate() + 1);
  day.setHours(8, 0, 0, 0);
  return day.getTime();
}

function DoNotDisturb({ saved, setSaved }: Held) {
  const session = useSession();
  const [choosing, setChoosing] = useState(false);
  const until = saved.do_not_disturb_until;
  const on = until !== null && until > Date.now();
  const set = async (end: number | null) => {
    setSaved(await save(session, { ...saved, do_not_disturb_until: end }));
    setChoosing(false);
  };
  return (
    <section class="card" aria-labelledby="dnd-title">
      <h2 id="dnd-title">{t("notifications.dnd")}</h2>
      <p class="muted">{t("notifications.dnd_explain")}</p>
      <p role="status">
        {on ? t("notifications.dnd_until", { date: formatDateTime(until) }) : t("notifications.dnd_off")}
      </p>
      {on ? (
        <Action label={t("notifications.dnd_stop")} action={() => set(null)} />
      ) : (
        <div class="row" role="group" aria-label={t("notifications.dnd_for")}>
          <Action label={t("notifications.dnd_hour")} action={() => set(Date.now() + HOUR_MS)} />
          <Action label={t("notifications.dnd_tomorrow")} action={() => set(tomorrowMorning(Date.now()))} />
          <button type="button" aria-expanded={choosing} onClick={() => setChoosing(!choosing)}>
            {t("notifications.dnd_choose")}
          </button>
        </div>
      )}
      {choosing && !on && <ChooseEnd set={set} />}
    </section>
  );
}

function ChooseEnd({ set }: { set: (end: number) => Promise<void> }) {
  const [end, setEnd] = useState(() => localInput(Date.now() + 2 * HOUR_MS));
  const form = useSubmit(async () => {
    const chosen = new Date(end).getTime(); // a datetime-local value reads as the browser's time
    if (!(chosen > Date.now())) throw new Problem(t("notifications.dnd_past"));
    await set(chosen);
  });
  return (
    <form onSubmit={form.onSubmit} class="row bottom">
      <Field label={t("notifications.dnd_end")}>
        <input
          type="datetime-local"
          required
          value={end}
          onInput={(e) => {
            setEnd(valueOf(e));
            form.edited();
          }}
        />
      </Field>
      <SubmitRow form={form} label={t("notifications.dnd_start")} />
    </form>
  );
}

/** Quiet hours, their zone and the email: saved together, with the
 * do-not-disturb the server holds. */
function QuietForm({ saved, setSaved }: Held) {
  const session = useSession();
  const [draft, setDraft] = useState({
    quiet_hours: saved.quiet_hours,
    time_zone: saved.time_zone,
    email: saved.email ?? "",
  });
  const form = useSubmit(async () => {
    const problem = spanProblem(draft.quiet_hours);
    if (problem) throw new Problem(problem);
    const email = draft.email.trim();
    if (email && !EMAIL.test(email)) throw new Problem(t("notifications.email_incomplete"));
    setSaved(await save(session, { ...saved, ...draft, email: email || null }));
    return t("common.saved");
  });
  const change = (part: Partial<typeof draft>) => {
    setDraft({ ...draft, ...part });
    form.edited();
  };
  return (
    <form onSubmit={form.onSubmit}>
      <WeeklySpans
        card
        legend={t("notifications.quiet")}
        hint={t("notifications.quiet_hint")}
        spans={draft.quiet_hours}
        most={MOST_SPANS}
        onChange={(quiet_hours) => change({ quiet_hours })}
      >
        <TimeZoneField
          label={t("notifications.zone")}
          value={draft.time_zone}
          onChange={(time_zone) => change({ time_zone })}
        />
      </WeeklySpans>
      {session.role === "patient" && (
        <section class="card" aria-labelledby="email-title">
          <h2 id="email-title">{t("notifications.email_title")}</h2>
          <Field label={t("notifications.email")} hint={t("notifications.email_hint")}>
            <input
              type="email"
              autocomplete="email"
              maxLength={254}
              value={draft.email}
              onInput={(e) => change({ email: valueOf(e) })}
            />
          </Field>
        </section>
      )}
      <SubmitRow form={form} label={t("notifications.save")} />
    </form>
  );
}
