/** Reply templates: the caller's own, their practices', those of the
 * practitioners whose templates an assistant keeps, and the built-in ones. */
import { useState } from "preact/hooks";
import { Scope } from "../../../src/index.js";
import { useSession } from "../context.js";
import { ConfirmAction } from "../controls.js";
import { defineTexts, t } from "../i18n.js";
import { memberNames } from "../names.js";
import type { Session } from "../session.js";
import { useTopic } from "../store.js";
import { Loading, Page, useLoad } from "../ui.js";
import { type PracticeInfo, colleagueName } from "./colleagues.js";
import { type DelegationsList, principalsFor } from "./delegations.js";
import { type Home, TemplateEditor, type TemplateRecord, homeOf } from "./template-editor.js";

defineTexts({
  "templates.title": ["Modèles de réponse", "Reply templates"],
  "templates.new": ["Nouveau modèle", "New template"],
  "templates.intro": [
    "Un modèle se remplit au moment de l'envoi : les variables entre accolades prennent les valeurs de la conversation.",
    "A template is filled in when it is sent: the variables in braces take the conversation's values.",
  ],
  "templates.none": ["Vous n'avez pas encore de modèle à vous.", "You have no templates of your own yet."],
  "templates.no_home": [
    "Seul un praticien, ou un assistant à qui il a délégué ses modèles, peut en créer.",
    "Only a practitioner, or an assistant they delegated their templates to, can create them.",
  ],
  "templates.builtin": ["Intégré", "Built in"],
  "templates.builtin_hint": ["Fourni par carehub : il ne se modifie pas.", "Provided by carehub: it cannot be changed."],
  "templates.mine": ["Mes modèles", "My templates"],
  "templates.of_practice": ["Cabinet {name}", "Practice {name}"],
  "templates.of_practitioner": ["Modèles de {name}", "{name}'s templates"],
  "templates.read_only": ["Lecture seule", "Read only"],
  "templates.takes_no_reply": ["N'attend pas de réponse", "Takes no reply"],
  "templates.closes": ["Clôt la conversation", "Closes the conversation"],
  "templates.home_mine": ["Moi seul", "Only me"],
  "templates.home_practice": ["Tout le cabinet {name}", "The whole practice {name}"],
  "templates.edit": ["Modifier {name}", "Edit {name}"],
  "templates.delete": ["Supprimer {name}", "Delete {name}"],
  "templates.confirm_delete": ["Supprimer « {name} » ?", "Delete “{name}”?"],
  "templates.list": ["Vos modèles", "Your templates"],
});

interface TemplatesData {
  templates: TemplateRecord[];
  homes: Home[];
  practices: PracticeInfo[];
}

export function Templates() {
  const session = useSession();
  const practices = useTopic(session.store, "practices");
  const delegations = useTopic(session.store, "delegations");
  const loaded = useLoad(() => loadTemplates(session), [practices, delegations]);
  const [editing, setEditing] = useState<TemplateRecord | "new" | null>(null);
  const data = loaded.value;
  const saved = () => {
    setEditing(null);
    loaded.reload();
  };
  const start = (what: TemplateRecord | "new") => {
    setEditing(what);
    window.scrollTo({ top: 0 }); // the editor opens above the list
  };
  return (
    <Page
      title={t("templates.title")}
      actions={
        data && data.homes.length > 0 && editing === null ? (
          <button type="button" class="primary" onClick={() => start("new")}>
            {t("templates.new")}
          </button>
        ) : undefined
      }
    >
      <p class="muted">{t("templates.intro")}</p>
      {!data ? (
        <Loading error={loaded.error} />
      ) : (
        <>
          {data.homes.length === 0 && <p class="muted">{t("templates.no_home")}</p>}
          {editing !== null && (
            <TemplateEditor
              key={editing === "new" ? "new" : editing.id}
              template={editing === "new" ? undefined : editing}
              homes={data.homes}
              saved={saved}
              cancel={() => setEditing(null)}
            />
          )}
          <TemplateList data={data} edit={start} changed={loaded.reload} />
        </>
      )}
    </Page>
  );
}

async function loadTemplates(session: Session): Promise<TemplatesData> {
  const [{ templates }, { practices }] = await Promise.all([
    session.call<{ templates: TemplateRecord[] }>("templates.list", {}),
    session.call<{ practices: PracticeInfo[] }>("practices.list", {}),
  ]);
  const homes =
    session.role === "practitioner" ? practitionerHomes(session, practices) : await assistantHomes(session, practices);
  return { templates, homes, practices };
}

function practitionerHomes(session: Session, practices: PracticeInfo[]): Home[] {
  return [
    { key: "mine", label: t("templates.home_mine"), practitionerName: session.name },
    ...practices.map((practice) => ({
      key: `practice-${practice.id}`,
      label: t("templates.home_practice", { name: practice.name }),
      practice: practice.id,
      practitionerName: session.name,
      practiceName: practice.name,
    })),
  ];
}

/** An assistant keeps the templates of the practitioners who delegated
 * `templates` to them (and whose delegation has not expired). */
async function assistantHomes(session: Session, practices: PracticeInfo[]): Promise<Home[]> {
  const { received } = await session.call<DelegationsList>("delegations.list", {});
  const names = memberNames(practices);
  return principalsFor(received, Scope.TEMPLATES).map((principal) => {
    const name = colleagueName(names, principal);
    const label = t("templates.of_practitioner", { name });
    return { key: `owner-${principal}`, label, owner: principal, practitionerName: name };
  });
}

/** Whether the caller may change `template`: never a built-in one; a
 * practice's by its practitioners; an own one by its owner or their keeper
 * (the places the caller may keep templates in). */
function editable(session: Session, data: TemplatesData, template: TemplateRecord): boolean {
  return !template.builtin && homeOf(template, data.homes, session.me) !== undefined;
}

function whose(session: Session, data: TemplatesData, template: TemplateRecord): string {
  if (template.builtin) return t("templates.builtin");
  if (template.practice) {
    const name = data.practices.find((p) => p.id === template.practice)?.name ?? "";
    return t("templates.of_practice", { name });
  }
  if (template.owner === session.me) return t("templates.mine");
  return t("templates.of_practitioner", { name: colleagueName(memberNames(data.practices), template.owner ?? 0) });
}

function TemplateList(props: { data: TemplatesData; edit: (template: TemplateRecord) => void; changed: () => void }) {
  const { data } = props;
  const own = data.templates.filter((template) => !template.builtin);
  return (
    <section aria-labelledby="templates-list">
      <h2 id="templates-list">{t("templates.list")}</h2>
      {own.length === 0 && <p class="muted">{t("templates.none")}</p>}
      {data.templates.map((template) => (
        <TemplateCard
          key={template.builtin ? `builtin-${template.code}` : template.id}
          template={template}
          data={data}
          edit={props.edit}
          changed={props.changed}
        />
      ))}
    </section>
  );
}

function TemplateCard(props: {
  template: TemplateRecord;
  data: TemplatesData;
  edit: (template: TemplateRecord) => void;
  changed: () => void;
}) {
  const session = useSession();
  const { template } = props;
  const canEdit = editable(session, props.data, template);
  return (
    <article class="card">
      <div class="row">
        <h3 class="grow subhead">{template.name}</h3>
        <span class="pill">{whose(session, props.data, template)}</span>
        {template.reply_allowed === false && <span class="pill">{t("templates.takes_no_reply")}</span>}
        {template.closes_thread && <span class="pill">{t("templates.closes")}</span>}
        {!canEdit && !template.builtin && <span class="pill">{t("templates.read_only")}</span>}
      </div>
      <p class="prose">{template.text}</p>
      {template.builtin && <p class="muted">{t("templates.builtin_hint")}</p>}
      {canEdit && (
        <div class="row">
          <button type="button" onClick={() => props.edit(template)}>
            {t("templates.edit", { name: template.name })}
          </button>
          <ConfirmAction
            label={t("templates.delete", { name: template.name })}
            question={t("templates.confirm_delete", { name: template.name })}
            confirm={t("common.delete")}
            action={async () => {
              await session.call("templates.delete", { template: template.id });
              props.changed();
            }}
          />
        </div>
      )}
    </article>
  );
}
