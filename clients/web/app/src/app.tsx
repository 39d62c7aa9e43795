/** The shell: sign-in, then the navigation of the signed-in role and the
 * screen the hash route names. */
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { SessionContext, go, useRoute, useSession } from "./context.js";
import { currentLanguage, defineTexts, onLanguage, setLanguage, t } from "./i18n.js";
import { Admin } from "./screens/admin.js";
import { Agenda } from "./screens/agenda.js";
import { Appointments } from "./screens/appointments.js";
import { ApproveThisDevice } from "./screens/approve.js";
import { Audit } from "./screens/audit.js";
import { Devices } from "./screens/devices.js";
import { IdentityAlert } from "./screens/identity.js";
import { Inbox } from "./screens/inbox.js";
import { InboxSettings } from "./screens/inbox-settings.js";
import { NotificationSettings } from "./screens/notifications.js";
import { ResetPassword, resetToken } from "./screens/password-reset.js";
import { SignIn } from "./screens/signin.js";
import { NewRequest, Relatives } from "./screens/patient.js";
import { Patients } from "./screens/patients.js";
import { Rules } from "./screens/rules.js";
import { Security } from "./screens/security.js";
import { Team } from "./screens/team.js";
import { Templates } from "./screens/templates.js";
import { Popups } from "./screens/popups.js";
import { Session } from "./session.js";
import type { Role } from "./api.js";

defineTexts({
  "nav.messages": ["Messages", "Messages"],
  "nav.inbox": ["Boîte de réception", "Inbox"],
  "nav.new": ["Nouvelle demande", "New request"],
  "nav.appointments": ["Rendez-vous", "Appointments"],
  "nav.relatives": ["Mes proches", "My relatives"],
  "nav.agenda": ["Agenda", "Agenda"],
  "nav.patients": ["Patients", "Patients"],
  "nav.templates": ["Modèles", "Templates"],
  "nav.rules": ["Absences et réponses", "Away and auto-replies"],
  "nav.inbox_settings": ["Réglages de la messagerie", "Messaging settings"],
  "nav.team": ["Cabinet et équipe", "Practice and team"],
  "nav.notifications": ["Notifications", "Notifications"],
  "nav.devices": ["Appareils", "Devices"],
  "nav.security": ["Compte", "Account"],
  "nav.main": ["Navigation principale", "Main navigation"],
  "shell.logout": ["Se déconnecter", "Log out"],
  "shell.language": ["English", "Français"],
  "shell.offline": ["Connexion perdue : reconnexion en cours…", "Connection lost: reconnecting…"],
  "shell.unreachable": [
    "Hors connexion : carehub se reconnecte dès que possible.",
    "Offline: carehub reconnects as soon as it can.",
  ],
  "shell.ended": ["Votre session a pris fin : reconnectez-vous.", "Your session ended: please log in again."],
  "shell.unknown_page": ["Cette page n'existe pas.", "This page does not exist."],
});

interface NavItem {
  path: string;
  label: string;
  roles: Role[];
}

const NAV: NavItem[] = [
  { path: "", label: "nav.messages", roles: ["patient", "practitioner", "assistant", "bot", "admin"] },
  { path: "new", label: "nav.new", roles: ["patient"] },
  { path: "appointments", label: "nav.appointments", roles: ["patient"] },
  { path: "relatives", label: "nav.relatives", roles: ["patient"] },
  { path: "agenda", label: "nav.agenda", roles: ["practitioner", "assistant"] },
  { path: "patients", label: "nav.patients", roles: ["practitioner"] },
  { path: "templates", label: "nav.templates", roles: ["practitioner", "assistant"] },
  { path: "rules", label: "nav.rules", roles: ["practitioner"] },
  { path: "inbox", label: "nav.inbox_settings", roles: ["practitioner"] },
  { path: "team", label: "nav.team", roles: ["practitioner", "assistant"] },
  { path: "admin", label: "nav.admin", roles: ["admin"] },
  { path: "notifications", label: "nav.notifications", roles: ["patient", "practitioner", "assistant"] },
  { path: "devices", label: "nav.devices", roles: ["patient", "practitioner", "assistant", "bot", "admin"] },
  { path: "security", label: "nav.security", roles: ["patient", "practitioner", "assistant", "bot", "admin"] },
];

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [ended, setEnded] = useState(false);
  const [resetting, setResetting] = useState(() => resetToken(location.hash));
  const [notice, setNotice] = useState<string>();
  const [, setLanguageVersion] = useState(0);
  useEffect(() => onLanguage(() => setLanguageVersion((v) => v + 1)), []);
  const [offline, setOffline] = useState(false);
  useEffect(() => restoreWhenReachable(setSession, setOffline), []);
  useEffect(() => {
    if (!session) return;
    session.ended = () => setEnded(true);
    session.left = (said) => {
      setNotice(said);
      setSession(null);
    };
  }, [session]);
  if (resetting) {
    const done = (said: string) => {
      history.replaceState(null, "", location.pathname); // the spent token leaves the address bar
      Session.forget(); // its token ended with every other session
      if (session) {
        session.ended = undefined; // the close that follows is expected: no "session ended"
        void session.client.close();
      }
      setEnded(false);
      setResetting(undefined);
      setNotice(said);
      setSession(null); // every session ended, this browser's too
    };
    return <ResetPassword token={resetting} done={done} />;
  }
  if (session === undefined) {
    return (
      <main class="splash" aria-busy="true">
        <p>carehub</p>
        {offline && <p role="status">{t("shell.unreachable")}</p>}
      </main>
    );
  }
  if (session === null || ended) {
    return (
      <SignIn
        notice={ended ? t("shell.ended") : notice}
        signedIn={(started) => {
          setEnded(false);
          setSession(started);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell signedOut={() => setSession(null)} />
    </SessionContext.Provider>
  );
}

function Shell({ signedOut }: { signedOut: () => void }) {
  const session = useSession();
  const route = useRoute();
  const unread = session.store.totalUnread();
  const [header, setHeader] = useState<HTMLElement | null>(null);
  useHeightOf(header, "--top-height");
  useEffect(() => {
    document.title = unread ? `(${unread}) carehub` : "carehub";
  }, [unread]);
  if (session.approvalRequest) return <ApproveThisDevice />;
  const items = NAV.filter((item) => item.roles.includes(session.role));
  const here = route[0] === "threads" ? "" : (route[0] ?? "");
  return (
    <>
      <header class="top" ref={setHeader}>
        <a class="brand" href="#/">
          carehub
        </a>
        <nav aria-label={t("nav.main")}>
          {items.map((item) => (
            <a key={item.path} href={`#/${item.path}`} aria-current={here === item.path ? "page" : undefined}>
              {t(item.label)}
              {item.path === "" && unread > 0 && <span class="badge">{unread}</span>}
            </a>
          ))}
        </nav>
        <span class="who">{session.name}</span>
        <button type="button" lang={currentLanguage() === "fr" ? "en" : "fr"} onClick={() => void switchLanguage(session).catch(() => undefined)}>
          {t("shell.language")}
        </button>
        <button
          type="button"
          onClick={async () => {
            await session.logout();
            go("");
            signedOut();
          }}
        >
          {t("shell.logout")}
        </button>
      </header>
      {session.store.link === "offline" && (
        <p class="link-state" role="status">
          {t("shell.offline")}
        </p>
      )}
      <Screen route={route} />
      <Popups />
      <IdentityAlert />
    </>
  );
}

/** Keeps the CSS variable ``name`` at ``element``'s height: the header wraps
 * to more lines on narrower screens, and the popups open right below it,
 * never over its buttons. */
function useHeightOf(element: HTMLElement | null, name: string): void {
  useLayoutEffect(() => {
    if (!element) return;
    const root = document.documentElement.style;
    const observer = new ResizeObserver(() => root.setProperty(name, `${element.offsetHeight}px`));
    observer.observe(element);
    return () => observer.disconnect();
  }, [element, name]);
}

function Screen({ route }: { route: string[] }) {
  const [first, second, third] = route;
  switch (first) {
    case undefined:
      return <Inbox />;
    case "threads":
      return third === "audit" ? <Audit thread={Number(second)} /> : <Inbox thread={Number(second)} />;
    case "new":
      return <NewRequest />;
    case "appointments":
      return <Appointments />;
    case "relatives":
      return <Relatives />;
    case "agenda":
      return <Agenda />;
    case "patients":
      return <Patients />;
    case "templates":
      return <Templates />;
    case "rules":
      return <Rules />;
    case "inbox":
      return <InboxSettings />;
    case "team":
      return <Team />;
    case "notifications":
      return <NotificationSettings />;
    case "admin":
      return <Admin />;
    case "devices":
      return <Devices />;
    case "security":
      return <Security />;
    default:
      return (
        <p class="page" role="alert">
          {t("shell.unknown_page")}
        </p>
      );
  }
}

const RETRY_MAX_MS = 30_000;

/** Reopen the saved session; while the server cannot be reached, say so and
 * try again (doubling the wait, at once when the browser is back online). */
function restoreWhenReachable(
  found: (session: Session | null) => void,
  unreachable: (offline: boolean) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let stopped = false;
  let trying = false; // one attempt at a time: two would open two sessions
  const attemptNow = () => {
    if (trying) return;
    trying = true;
    clearTimeout(timer);
    Session.restore().then(
      (session) => !stopped && found(session),
      () => {
        trying = false;
        if (stopped) return;
        unreachable(true);
        timer = setTimeout(attemptNow, Math.min(RETRY_MAX_MS, 1000 * 2 ** attempt++));
      },
    );
  };
  attemptNow();
  addEventListener("online", attemptNow);
  return () => {
    stopped = true;
    clearTimeout(timer);
    removeEventListener("online", attemptNow);
  };
}

/** The server's language for this account first (refusals, notices), then
 * the app's: what a screen fetches once switched comes in the new language. */
async function switchLanguage(session: Session): Promise<void> {
  const next = currentLanguage() === "fr" ? "en" : "fr";
  try {
    await session.call("account.set", { locale: next });
  } finally {
    setLanguage(next); // offline: the app switches anyway, the server on the next try
  }
}
