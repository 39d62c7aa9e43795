/** The devices of an account and the trust around them (docs/e2e.md): a new
 * device waiting to be approved, approving or removing one from the device
 * that holds the identity key, the delegates the signed list names, safety
 * numbers to compare in person, and the alert when a contact's identity
 * key changes. */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { renderSVG } from "uqr";
import {
  type Delegate,
  type DeviceEntry,
  E2EError,
  IdentityChanged,
  Scope,
  StructureError,
  UntrustedDevices,
  codecs,
  safetyNumber,
} from "../../../src/index.js";
import type { UserProfile } from "../api.js";
import { useRoute, useSession } from "../context.js";
import { currentLanguage, defineTexts, formatDateTime, setLanguage, t } from "../i18n.js";
import type { Session } from "../session.js";
import { Action, ErrorLine, Field, Loading, Page, useLoad } from "../ui.js";

defineTexts({
  "devices.title": ["Appareils et sécurité", "Devices and security"],
  "devices.mine": ["Vos appareils", "Your devices"],
  "devices.mine_intro": [
    "Vos messages sont chiffrés pour chacun de ces appareils, et pour aucun autre.",
    "Your messages are encrypted for each of these devices, and for no other.",
  ],
  "devices.device": ["Appareil n° {id}", "Device no. {id}"],
  "devices.this": ["cet appareil", "this device"],
  "devices.column_device": ["Appareil", "Device"],
  "devices.column_until": ["Valable jusqu'au", "Valid until"],
  "devices.column_action": ["Action", "Action"],
  "devices.remove": ["Retirer l'appareil n° {id}", "Remove device no. {id}"],
  "devices.remove_confirm": [
    "Retirer l'appareil n° {id} ? Il ne pourra plus lire vos nouveaux messages ni écrire en votre nom.",
    "Remove device no. {id}? It will no longer read your new messages nor write as you.",
  ],
  "devices.remove_yes": ["Oui, retirer", "Yes, remove"],
  "devices.removed": ["Appareil retiré.", "Device removed."],
  "devices.not_holder": [
    "Seul l'appareil qui détient la clé de sécurité de votre compte (le premier sur lequel vous vous êtes connecté) peut approuver ou retirer un appareil : faites-le depuis celui-ci.",
    "Only the device that holds your account's security key (the first one you logged in on) can approve or remove a device: do it from there.",
  ],
  "devices.approve_title": ["Approuver un nouvel appareil", "Approve a new device"],
  "devices.approve_intro": [
    "Connectez-vous à carehub sur le nouvel appareil : il affiche un code. Scannez-le avec la caméra, ou copiez-le et collez-le ici.",
    "Log in to carehub on the new device: it shows a code. Scan it with the camera, or copy it and paste it here.",
  ],
  "devices.scan": ["Scanner le code avec la caméra", "Scan the code with the camera"],
  "devices.scan_stop": ["Arrêter la caméra", "Stop the camera"],
  "devices.camera": ["Image de la caméra", "Camera view"],
  "devices.camera_unavailable": [
    "La caméra n'est pas disponible : collez le code à la place.",
    "The camera is not available: paste the code instead.",
  ],
  "devices.code": ["Code affiché par le nouvel appareil", "Code shown by the new device"],
  "devices.approve": ["Approuver cet appareil", "Approve this device"],
  "devices.approving": ["Approbation…", "Approving…"],
  "devices.approved": [
    "Appareil approuvé : il reçoit désormais vos messages.",
    "Device approved: it now receives your messages.",
  ],
  "devices.bad_code": [
    "Ce code n'est pas valide : copiez-le à nouveau depuis le nouvel appareil.",
    "This code is not valid: copy it again from the new device.",
  ],
  "devices.other_account": [
    "Ce code vient d'un appareil connecté à un autre compte.",
    "This code comes from a device logged in to another account.",
  ],
  "devices.delegates": ["Délégations", "Delegations"],
  "devices.delegates_intro": [
    "Ces personnes de votre cabinet peuvent agir pour vous, dans les limites indiquées.",
    "These people of your practice may act for you, within the limits shown.",
  ],
  "devices.delegates_none": ["Aucune délégation.", "No delegation."],
  "devices.scope.read": ["lire vos conversations", "read your conversations"],
  "devices.scope.reply": ["répondre pour vous", "answer for you"],
  "devices.scope.templates": ["gérer vos modèles", "manage your templates"],
  "devices.scope.agenda": ["gérer votre agenda", "manage your agenda"],
  "devices.delegate": ["{name} : {scope}, {until}", "{name}: {scope}, {until}"],
  "devices.delegate_until": ["jusqu'au {date}", "until {date}"],
  "devices.delegate_open": ["sans date de fin", "with no end date"],
  "devices.safety_title": ["Numéros de sécurité", "Safety numbers"],
  "devices.safety_intro": [
    "Comparez ce numéro avec celui que la personne voit sur son écran, en personne ou par téléphone : s'ils sont identiques, personne ne s'interpose entre vous.",
    "Compare this number with the one the person sees on their screen, in person or by phone: if they match, nobody stands between you.",
  ],
  "devices.safety_none": ["Vous n'échangez encore avec personne.", "You are not talking with anyone yet."],
  "devices.safety_missing": [
    "Pas encore de clé de sécurité : cette personne ne s'est pas encore connectée.",
    "No security key yet: this person has not logged in yet.",
  ],
  "devices.safety_changed": [
    "Sa clé de sécurité vient de changer : vérifiez-la avant de continuer.",
    "Their security key just changed: check it before going on.",
  ],
  "approve.title": ["Approuvez ce nouvel appareil", "Approve this new device"],
  "approve.why": [
    "Pour protéger vos messages, approuvez ce nouvel appareil depuis un appareil déjà connecté.",
    "To protect your messages, approve this new device from a device that is already logged in.",
  ],
  "approve.step_open": [
    "Sur l'appareil déjà connecté, ouvrez carehub puis « Appareils ».",
    "On the device that is already logged in, open carehub, then “Devices”.",
  ],
  "approve.step_scan": [
    "Choisissez « Approuver un nouvel appareil », puis scannez ce code ou collez le texte ci-dessous.",
    "Choose “Approve a new device”, then scan this code or paste the text below.",
  ],
  "approve.qr": ["Code QR de cet appareil", "This device's QR code"],
  "approve.code": ["Le même code, à copier", "The same code, to copy"],
  "approve.copy": ["Copier le code", "Copy the code"],
  "approve.copied": ["Code copié.", "Code copied."],
  "approve.copy_failed": [
    "La copie n'a pas fonctionné : sélectionnez le code et copiez-le.",
    "Copying did not work: select the code and copy it.",
  ],
  "approve.waiting": [
    "En attente d'approbation. Cet écran s'ouvrira tout seul dès que l'appareil sera approuvé.",
    "Waiting for approval. This screen opens by itself as soon as the device is approved.",
  ],
  "identity.title": ["La clé de sécurité de {name} a changé", "{name}'s security key changed"],
  "identity.why": [
    "Cela arrive quand {name} change de téléphone ou réinstalle carehub. Cela peut aussi vouloir dire que quelqu'un d'autre essaie de se faire passer pour {name}.",
    "This happens when {name} gets a new phone or reinstalls carehub. It can also mean that someone else is trying to pass for {name}.",
  ],
  "identity.what": [
    "Avant de continuer, comparez le nouveau numéro de sécurité avec celui que {name} voit sur son écran, en personne ou par téléphone, pas par message.",
    "Before going on, compare the new safety number with the one {name} sees on their screen, in person or by phone, not by message.",
  ],
  "identity.number": ["Nouveau numéro de sécurité", "New safety number"],
  "identity.blocked": [
    "Tant que vous n'avez pas vérifié, vos messages ne lui sont pas envoyés.",
    "Until you have checked, your messages are not sent to them.",
  ],
  "identity.self_title": ["La clé de sécurité de votre compte a changé", "Your account's security key changed"],
  "identity.self_why": [
    "Elle a été remplacée depuis un autre appareil connecté à votre compte, par exemple après une réinstallation. Si ce n'est pas vous, prévenez votre cabinet.",
    "It was replaced from another device logged in to your account, for instance after a reinstall. If it was not you, tell your practice.",
  ],
  "identity.self_what": [
    "Si c'est bien vous, continuez : cet appareil devra ensuite être approuvé à nouveau.",
    "If it was you, go on: this device will then need to be approved again.",
  ],
  "identity.accept": ["J'ai vérifié, continuer", "I have checked, continue"],
  "identity.later": ["Plus tard", "Later"],
});

/** With more contacts than this, each safety number is computed when its
 * person is opened: one costs some 10 ms of hashing (5,200 SHA-512 rounds a side). */
const SHOWN_OPEN = 5;

// -- a new device, waiting ----------------------------------------------------

export function ApproveThisDevice() {
  const session = useSession();
  const request = session.approvalRequest as Uint8Array;
  const code = useMemo(() => toBase64Url(request), [request]);
  const qr = useMemo(() => renderSVG(code, { ecc: "M", border: 2 }), [code]);
  return (
    <main class="page" aria-labelledby="approve-title">
      <header class="page-head">
        <h1 id="approve-title">{t("approve.title")}</h1>
        <button type="button" lang={currentLanguage() === "fr" ? "en" : "fr"} onClick={switchLanguage}>
          {t("shell.language")}
        </button>
      </header>
      <p>{t("approve.why")}</p>
      <ol>
        <li>{t("approve.step_open")}</li>
        <li>{t("approve.step_scan")}</li>
      </ol>
      <div class="card">
        {/* The SVG is uqr's own rendering of our code, not outside markup. */}
        <div class="qr" role="img" aria-label={t("approve.qr")} dangerouslySetInnerHTML={{ __html: qr }} />
        <h2>{t("approve.code")}</h2>
        <code class="request">{code}</code>
        <CopyButton text={code} />
      </div>
      <p role="status">{t("approve.waiting")}</p>
      <Action
        label={t("shell.logout")}
        action={async () => {
          await session.logout();
          location.reload();
        }}
      />
    </main>
  );
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState<boolean>();
  return (
    <p class="row">
      <button
        type="button"
        class="primary"
        onClick={() => navigator.clipboard.writeText(text).then(() => setCopied(true), () => setCopied(false))}
      >
        {t("approve.copy")}
      </button>
      {copied === true && (
        <span class="ok" role="status">
          {t("approve.copied")}
        </span>
      )}
      {copied === false && (
        <span class="error" role="alert">
          {t("approve.copy_failed")}
        </span>
      )}
    </p>
  );
}

function switchLanguage(): void {
  setLanguage(currentLanguage() === "fr" ? "en" : "fr");
}

// -- the devices screen -------------------------------------------------------

export function Devices() {
  const session = useSession();
  // Our own list may have moved while this device was away.
  const refreshed = useLoad(() => refreshOwnList(session), []);
  const list = session.secure.keys.trust.lists.get(session.me)?.parsed;
  const holder = session.secure.keys.identity !== null;
  return (
    <Page title={t("devices.title")}>
      <ErrorLine error={refreshed.error} />
      <section class="card" aria-labelledby="devices-mine">
        <h2 id="devices-mine">{t("devices.mine")}</h2>
        <p class="muted">{t("devices.mine_intro")}</p>
        <DeviceTable devices={list?.devices ?? []} holder={holder} />
        {!holder && <p>{t("devices.not_holder")}</p>}
      </section>
      {holder && <ApproveDevice />}
      {(session.role === "practitioner" || (list?.delegates.length ?? 0) > 0) && (
        <Delegates delegates={list?.delegates ?? []} />
      )}
      <SafetyNumbers />
    </Page>
  );
}

function DeviceTable({ devices, holder }: { devices: DeviceEntry[]; holder: boolean }) {
  const session = useSession();
  const mine = session.secure.keys.device.device;
  const [removed, setRemoved] = useState(false);
  if (!devices.length) return <p class="muted">{t("common.none")}</p>;
  return (
    <>
      <table aria-labelledby="devices-mine">
        <thead>
          <tr>
            <th scope="col">{t("devices.column_device")}</th>
            <th scope="col">{t("devices.column_until")}</th>
            {holder && <th scope="col">{t("devices.column_action")}</th>}
          </tr>
        </thead>
        <tbody>
          {devices.map((entry) => (
            <tr key={entry.device}>
              <td>
                {t("devices.device", { id: entry.device })}{" "}
                {entry.device === mine && <span class="pill">{t("devices.this")}</span>}
              </td>
              <td>{formatDateTime(entry.expires)}</td>
              {holder && (
                <td>
                  {entry.device !== mine && <RemoveDevice device={entry.device} removed={() => setRemoved(true)} />}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {removed && (
        <p class="ok" role="status">
          {t("devices.removed")}
        </p>
      )}
    </>
  );
}

async function refreshOwnList(session: Session): Promise<void> {
  try {
    await session.secure.refresh([session.me]);
  } catch (error) {
    if (!(error instanceof IdentityChanged)) throw error;
    session.store.identityChanged(session.me, true); // the alert says what to do
  }
  keysChanged(session);
}

/** Removing asks first: the device stops receiving keys at once. */
function RemoveDevice({ device, removed }: { device: number; removed: () => void }) {
  const session = useSession();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {t("devices.remove", { id: device })}
      </button>
    );
  }
  const remove = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await session.secure.removeDevice(device);
      keysChanged(session);
      removed();
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  return (
    <div role="group" aria-label={t("devices.remove", { id: device })}>
      <p>{t("devices.remove_confirm", { id: device })}</p>
      <div class="row">
        <button type="button" class="danger" disabled={busy} onClick={remove}>
          {t("devices.remove_yes")}
        </button>
        <button type="button" disabled={busy} onClick={() => setAsking(false)}>
          {t("common.cancel")}
        </button>
      </div>
      <ErrorLine error={error} />
    </div>
  );
}

type Approval = { state: "idle" } | { state: "busy" } | { state: "done" } | { state: "refused"; why: unknown };

function ApproveDevice() {
  const session = useSession();
  const [code, setCode] = useState("");
  const [scanning, setScanning] = useState(false);
  const [approval, setApproval] = useState<Approval>({ state: "idle" });
  const approve = async (text: string) => {
    setApproval({ state: "busy" });
    const refusal = await approveCode(session, text);
    if (refusal === undefined) {
      setCode("");
      setApproval({ state: "done" });
    } else setApproval({ state: "refused", why: refusal });
  };
  return (
    <section class="card" aria-labelledby="devices-approve">
      <h2 id="devices-approve">{t("devices.approve_title")}</h2>
      <p class="muted">{t("devices.approve_intro")}</p>
      {barcodeDetector() &&
        (scanning ? (
          <Scanner
            stop={() => setScanning(false)}
            found={(text) => {
              setScanning(false);
              setCode(text);
              void approve(text);
            }}
          />
        ) : (
          <button type="button" onClick={() => setScanning(true)}>
            {t("devices.scan")}
          </button>
        ))}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void approve(code);
        }}
      >
        <Field label={t("devices.code")}>
          <textarea
            rows={3}
            required
            spellcheck={false}
            autocomplete="off"
            value={code}
            onInput={(event) => setCode((event.target as HTMLTextAreaElement).value)}
          />
        </Field>
        <button type="submit" class="primary" disabled={approval.state === "busy"}>
          {approval.state === "busy" ? t("devices.approving") : t("devices.approve")}
        </button>
      </form>
      {approval.state === "done" && (
        <p class="ok" role="status">
          {t("devices.approved")}
        </p>
      )}
      {approval.state === "refused" &&
        (typeof approval.why === "string" ? (
          <p class="error" role="alert">
            {approval.why}
          </p>
        ) : (
          <ErrorLine error={approval.why} />
        ))}
    </section>
  );
}

/** Approve the device whose request `text` is; what went wrong, as a sentence
 * of ours or the server's refusal, or undefined once it is approved. */
async function approveCode(session: Session, text: string): Promise<unknown> {
  const request = fromBase64Url(text);
  let asked;
  try {
    asked = request && codecs.deviceRequest.decode(request);
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
  }
  if (!request || !asked) return t("devices.bad_code");
  if (asked.user !== session.me) return t("devices.other_account");
  try {
    await session.secure.approve(request);
  } catch (error) {
    if (error instanceof E2EError) return t("devices.bad_code");
    return error;
  }
  keysChanged(session);
  return undefined;
}

/** Our list changed on this device: keep it, and show it. */
function keysChanged(session: Session): void {
  session.saveKeys();
  session.store.changed();
}

interface DetectedCode {
  rawValue: string;
}

interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<DetectedCode[]>;
}

type BarcodeDetectorClass = new (options: { formats: string[] }) => BarcodeDetectorLike;

/** The browser's QR reader, where it has one (Chrome on Android, macOS, ChromeOS). */
function barcodeDetector(): BarcodeDetectorClass | undefined {
  return (globalThis as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
}

const SCAN_EVERY_MS = 250;

/** The camera's picture until a QR code shows in it. */
function Scanner({ found, stop }: { found: (text: string) => void; stop: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [unavailable, setUnavailable] = useState(false);
  useEffect(() => {
    const Detector = barcodeDetector() as BarcodeDetectorClass;
    const detector = new Detector({ formats: ["qr_code"] });
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let over = false;
    const look = async () => {
      const shown = video.current;
      if (over || !shown) return;
      const codes = await detector.detect(shown).catch(() => []);
      const first = codes[0];
      if (first) found(first.rawValue);
      else timer = setTimeout(look, SCAN_EVERY_MS);
    };
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(
      async (opened) => {
        stream = opened;
        if (over || !video.current) return stopTracks(opened);
        video.current.srcObject = opened;
        await video.current.play();
        void look();
      },
      () => setUnavailable(true),
    );
    return () => {
      over = true;
      clearTimeout(timer);
      if (stream) stopTracks(stream);
    };
  }, []);
  return (
    <div>
      {unavailable ? (
        <p class="error" role="alert">
          {t("devices.camera_unavailable")}
        </p>
      ) : (
        <video ref={video} class="scanner" muted playsInline aria-label={t("devices.camera")} />
      )}
      <p>
        <button type="button" onClick={stop}>
          {t("devices.scan_stop")}
        </button>
      </p>
    </div>
  );
}

function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}

function Delegates({ delegates }: { delegates: Delegate[] }) {
  const now = Date.now();
  const current = delegates.filter((d) => d.expires === null || d.expires > now);
  const names = useNames(current.map((d) => d.user));
  return (
    <section class="card" aria-labelledby="devices-delegates">
      <h2 id="devices-delegates">{t("devices.delegates")}</h2>
      {current.length === 0 ? (
        <p class="muted">{t("devices.delegates_none")}</p>
      ) : (
        <>
          <p class="muted">{t("devices.delegates_intro")}</p>
          <ErrorLine error={names.error} />
          <ul>
            {current.map((d) => (
              <li key={d.user}>
                {t("devices.delegate", {
                  name: names.of(d.user),
                  scope: scopeWords(d.scope),
                  until:
                    d.expires === null
                      ? t("devices.delegate_open")
                      : t("devices.delegate_until", { date: formatDateTime(d.expires) }),
                })}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function scopeWords(scope: string): string {
  const known: string[] = Object.values(Scope);
  return scope
    .split(".")
    .filter((word) => known.includes(word))
    .map((word) => t(`devices.scope.${word}`))
    .join(", ");
}

// -- safety numbers -----------------------------------------------------------

function SafetyNumbers() {
  const session = useSession();
  const contacts = contactsOf(session);
  return (
    <section class="card" aria-labelledby="devices-safety">
      <h2 id="devices-safety">{t("devices.safety_title")}</h2>
      <p class="muted">{t("devices.safety_intro")}</p>
      {contacts.length === 0 ? (
        <p class="muted">{t("devices.safety_none")}</p>
      ) : (
        <ul class="threads" aria-label={t("devices.safety_title")}>
          {contacts.map((contact) => (
            <Contact key={contact.user} user={contact.user} name={contact.name} open={contacts.length <= SHOWN_OPEN} />
          ))}
        </ul>
      )}
    </section>
  );
}

function Contact(props: { user: number; name: string; open: boolean }) {
  const [open, setOpen] = useState(props.open);
  return (
    <li>
      <details
        open={open}
        onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}
      >
        <summary>{props.name}</summary>
        {open && <ContactNumber user={props.user} />}
      </details>
    </li>
  );
}

/** Their list fetched again (a key may have changed meanwhile), then the number. */
function ContactNumber({ user }: { user: number }) {
  const session = useSession();
  const number = useLoad(async () => {
    await session.secure.refresh([user]);
    return session.secure.safetyNumber(user);
  }, [user, session.store.identityChanges.has(user)]);
  const failure = number.error;
  useEffect(() => {
    if (failure instanceof IdentityChanged) session.store.identityChanged(user, true);
  }, [failure]);
  if (failure instanceof IdentityChanged) return <p class="error">{t("devices.safety_changed")}</p>;
  if (failure instanceof UntrustedDevices) return <p class="muted">{t("devices.safety_missing")}</p>;
  if (number.value === undefined) return <Loading error={failure} />;
  return <SafetyDigits number={number.value} />;
}

/** Sixty digits as Signal shows them: twelve groups of five, four to a line. */
function SafetyDigits({ number }: { number: string }) {
  const groups = number.match(/\d{5}/g) ?? [];
  const lines = [0, 4, 8].map((start) => groups.slice(start, start + 4).join(" "));
  return (
    <p class="safety">
      {lines.map((line, index) => (
        <span key={index}>
          {line}
          {index < lines.length - 1 && <br />}
        </span>
      ))}
    </p>
  );
}

/** Everyone I share a thread with, by name. */
function contactsOf(session: Session): { user: number; name: string }[] {
  const found = new Map<number, string>();
  for (const state of session.store.threads.values())
    for (const member of state.info.members) if (member.user !== session.me) found.set(member.user, member.name);
  return [...found]
    .map(([user, name]) => ({ user, name }))
    .sort((a, b) => a.name.localeCompare(b.name, currentLanguage()));
}

/** People's names: from the threads when they are in one, else from the server. */
function useNames(users: number[]): { of: (user: number) => string; error?: unknown } {
  const session = useSession();
  const known = new Map(contactsOf(session).map((c) => [c.user, c.name]));
  const missing = users.filter((user) => !known.has(user));
  const fetched = useLoad(
    () =>
      missing.length
        ? session.call<{ users: UserProfile[] }>("users.get", { users: missing })
        : Promise.resolve({ users: [] }),
    [missing.join(",")],
  );
  for (const profile of fetched.value?.users ?? []) known.set(profile.user, profile.name);
  return { of: (user) => known.get(user) ?? `#${user}`, error: fetched.error };
}

// -- an identity changed ------------------------------------------------------

/** One dialog at a time for the people whose identity key changed. "Later"
 * hides it until the person moves to another screen: sending to them stays
 * blocked by the SDK meanwhile, so the question comes back. */
export function IdentityAlert() {
  const session = useSession();
  const route = useRoute().join("/");
  const [postponed, setPostponed] = useState<number[]>([]);
  useEffect(() => setPostponed([]), [route]);
  const user = [...session.store.identityChanges].find((changed) => !postponed.includes(changed));
  if (user === undefined) return null;
  return <IdentityDialog key={user} user={user} later={() => setPostponed([...postponed, user])} />;
}

function IdentityDialog({ user, later }: { user: number; later: () => void }) {
  const session = useSession();
  const names = useNames([user]);
  const self = user === session.me;
  const name = names.of(user);
  const number = self ? undefined : newSafetyNumber(session, user);
  const modal = useRef<HTMLDivElement>(null);
  const laterButton = useRef<HTMLButtonElement>(null);
  useEffect(() => laterButton.current?.focus(), []);
  // Again after each render: the shell may have put a new screen behind.
  useEffect(() => (modal.current ? makeTheRestInert(modal.current) : undefined));
  const accept = async () => {
    session.acceptIdentity(user);
    if (self) await session.checkApproved();
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") later();
  };
  return (
    <div class="modal" ref={modal}>
      <div
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="identity-title"
        aria-describedby="identity-why"
        onKeyDown={onKeyDown}
      >
        <h2 id="identity-title">{self ? t("identity.self_title") : t("identity.title", { name })}</h2>
        <p id="identity-why">{self ? t("identity.self_why") : t("identity.why", { name })}</p>
        <p>{self ? t("identity.self_what") : t("identity.what", { name })}</p>
        {number && (
          <>
            <h3>{t("identity.number")}</h3>
            <SafetyDigits number={number} />
          </>
        )}
        {!self && <p class="muted">{t("identity.blocked")}</p>}
        <ErrorLine error={names.error} />
        <div class="row">
          <button type="button" class="primary" onClick={accept}>
            {t("identity.accept")}
          </button>
          <button type="button" ref={laterButton} onClick={later}>
            {t("identity.later")}
          </button>
        </div>
      </div>
    </div>
  );
}

/** The number with `user`'s new identity key, the one held back until accepted. */
function newSafetyNumber(session: Session, user: number): string | undefined {
  const { trust } = session.secure.keys;
  const held = trust.held.get(user);
  const mine = trust.lists.get(session.me)?.parsed;
  if (!held || !mine) return undefined;
  return safetyNumber(session.me, mine.identityPk, user, held.parsed.identityPk);
}

/** While the dialog is open nothing behind it can be reached, by pointer,
 * keyboard or screen reader; the undo for when it closes. */
function makeTheRestInert(modal: HTMLElement): () => void {
  const others = [...(modal.parentElement?.children ?? [])].filter(
    (element): element is HTMLElement => element !== modal && element instanceof HTMLElement && !element.inert,
  );
  for (const element of others) element.inert = true;
  return () => {
    for (const element of others) element.inert = false;
  };
}

// -- base64url ----------------------------------------------------------------

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The bytes `text` spells in base64url (spaces and line breaks ignored), or null. */
function fromBase64Url(text: string): Uint8Array | null {
  const compact = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9_-]+$/.test(compact) || compact.length % 4 === 1) return null;
  const binary = atob(compact.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(compact.length / 4) * 4, "="));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
