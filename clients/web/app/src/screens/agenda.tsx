/** The practice's agenda (docs/booking.md): a practitioner's own, or the
 * ones practitioners gave an assistant, by day and by week, with the
 * practitioner's settings beside them. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { Scope } from "../../../src/index.js";
import { useSession } from "../context.js";
import { type Option, SelectField } from "../controls.js";
import { isNotFound, valueOf } from "../forms.js";
import { defineTexts, formatDate, t, timeZone } from "../i18n.js";
import { addDays, midnight, mondayOf, today } from "../local-time.js";
import { memberNames } from "../names.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Field, Loading, Page, useLoad } from "../ui.js";
import { type AgendaSettings, capitalized, complete } from "./booking-common.js";
import type { PracticeInfo } from "./colleagues.js";
import { type AgendaView, DayTable, type Span, WeekGrid } from "./agenda-days.js";
import { ExceptionForm } from "./agenda-exceptions.js";
import { SettingsForm } from "./agenda-settings.js";
import { type DelegationsList, principalsFor } from "./delegations.js";

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
});

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
      <SelectField
        label={t("agenda.whose")}
        value={String(owner.id)}
        options={owners.map((o): Option => [String(o.id), o.name])}
        onChange={(chosen) => setChosen(Number(chosen))}
      />
    ) : undefined;
  return <AgendaBoard key={owner.id} owner={owner} picker={picker} />;
}

async function agendasKept(session: Session): Promise<Owner[]> {
  const [delegations, practices] = await Promise.all([
    session.call<DelegationsList>("delegations.list", {}),
    session.call<{ practices: PracticeInfo[] }>("practices.list", {}),
  ]);
  const names = memberNames(practices.practices);
  return principalsFor(delegations.received, Scope.AGENDA).map((id) => ({
    id,
    name: names.get(id) ?? t("agenda.a_practitioner", { id }),
    own: false,
  }));
}

/** Whose agenda a call is about: the caller's own needs no saying. */
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
  const showDay = (day: string) => {
    setDate(day);
    setView("day");
  };
  const views: View[] = owner.own ? ["day", "week", "settings"] : ["day", "week"];
  return (
    <Page
      title={owner.own ? t("agenda.title") : t("agenda.title_of", { name: owner.name })}
      actions={<ViewSwitch views={views} view={view} setView={setView} />}
    >
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

function ViewSwitch(props: { views: View[]; view: View; setView: (view: View) => void }) {
  return (
    <div class="row" role="group" aria-label={t("agenda.views")}>
      {props.views.map((v) => (
        <button
          key={v}
          type="button"
          class={props.view === v ? "primary" : undefined}
          aria-pressed={props.view === v}
          onClick={() => props.setView(v)}
        >
          {t(`agenda.view.${v}`)}
        </button>
      ))}
    </div>
  );
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
  const heading =
    view === "day"
      ? capitalized(formatDate(midnight(date)))
      : t("agenda.week_of", { date: formatDate(midnight(mondayOf(date))) });
  return (
    <>
      {owner.own && settings.reasons.length === 0 && <p class="card">{t("agenda.not_open")}</p>}
      <PeriodNavigation view={view} date={date} setDate={props.setDate} />
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
      <ExceptionForm key={date} owner={ownerParams(owner)} day={date} reasons={settings.reasons} added={edited} />
    </>
  );
}

function PeriodNavigation(props: { view: "day" | "week"; date: string; setDate: (day: string) => void }) {
  const { view, date, setDate } = props;
  const step = view === "day" ? 1 : 7;
  return (
    <div class="row" role="group" aria-label={t("agenda.navigation")}>
      <button type="button" onClick={() => setDate(addDays(date, -step))}>
        {t(`agenda.previous_${view}`)}
      </button>
      <button type="button" onClick={() => setDate(today())}>
        {t("agenda.today")}
      </button>
      <button type="button" onClick={() => setDate(addDays(date, step))}>
        {t(`agenda.next_${view}`)}
      </button>
      <Field label={t("agenda.go_to")}>
        <input
          type="date"
          value={date}
          onChange={(e) => {
            const value = valueOf(e);
            if (value) setDate(value);
          }}
        />
      </Field>
    </div>
  );
}

async function loadSpan(session: Session, owner: Owner, view: "day" | "week", date: string): Promise<Span> {
  const found = await session.call<AgendaView>(`agenda.${view}`, { date, ...ownerParams(owner) });
  // The server names the patients of the appointments for whoever keeps the agenda.
  const names = new Map(Object.entries(found.names ?? {}).map(([user, name]) => [Number(user), name]));
  return { view: found, names };
}
