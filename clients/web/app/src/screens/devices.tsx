/** The devices of an account and the trust around them (docs/e2e.md):
 * approving or removing a device from the one that holds the identity key,
 * erasing this one from a shared computer, and the delegates the signed list
 * names; safety numbers beside them. */
import { useEffect, useRef, useState } from "preact/hooks";
import {
  type Delegate,
  type DeviceEntry,
  E2EError,
  IdentityChanged,
  Scope,
  StructureError,
  codecs,
} from "../../../src/index.js";
import { fromBase64Url } from "../base64url.js";
import { useSession } from "../context.js";
import { ConfirmAction, Table } from "../controls.js";
import { valueOf } from "../forms.js";
import { defineTexts, formatDateTime, t } from "../i18n.js";
import { useContactNames } from "../names.js";
import type { Session } from "../session.js";
import { ErrorLine, Field, Page, useLoad } from "../ui.js";
import { PushSwitch } from "./push-switch.js";
import { Scanner, canScan } from "./qr-scanner.js";
import { SafetyNumbers } from "./safety-numbers.js";


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
  "devices.code": ["Code affiché par le nouvel appareil", "Code shown by the new device"],
  "devices.approve": ["Approuver cet appareil", "Approve this device"],
  "devices.approving": ["Approbation…", "Approving…"],
  "devices.approve_question": ["Approuver l'appareil n° {device} ?", "Approve device no. {device}?"],
  "devices.approve_yes": ["Approuver", "Approve"],
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
  "devices.shared_title": ["Ordinateur partagé ?", "Shared computer?"],
  "devices.shared_logout": [
    "« Se déconnecter » garde les clés de cet appareil dans ce navigateur : en s'y reconnectant avec votre mot de passe, on retrouve vos messages et leur historique.",
    "“Log out” keeps this device's keys in this browser: whoever logs in here again with your password finds your messages and their history.",
  ],
  "devices.shared_forget": [
    "« Se déconnecter et effacer cet appareil » retire ses clés de ce navigateur : une nouvelle connexion ici crée un nouvel appareil, qui devra être approuvé et ne pourra pas lire les messages d'avant.",
    "“Log out and erase this device” removes its keys from this browser: logging in here again makes a new device, which must be approved and cannot read earlier messages.",
  ],
  "devices.shared_only_key": [
    "Cet appareil est le seul à détenir la clé de sécurité de votre compte. Si vous l'effacez, aucun appareil ne pourra plus en approuver un nouveau : pour vous reconnecter ici ou sur un autre appareil, vous devrez recommencer avec une nouvelle clé, et chacun de vos interlocuteurs verra que votre clé a changé.",
    "This device is the only one that holds your account's security key. If you erase it, no device can approve a new one any more: to log in again here or on another device you will have to start over with a new key, and everyone you talk with will see that your key changed.",
  ],
  "devices.forget": ["Se déconnecter et effacer cet appareil", "Log out and erase this device"],
  "devices.forget_question": [
    "Effacer les clés de cet appareil de ce navigateur et vous déconnecter ?",
    "Erase this device's keys from this browser and log out?",
  ],
  "devices.forget_yes": ["Oui, effacer cet appareil", "Yes, erase this device"],
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
});

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
      <PushSwitch />
      <SharedComputer holder={holder} />
      {(session.role === "practitioner" || (list?.delegates.length ?? 0) > 0) && (
        <Delegates delegates={list?.delegates ?? []} />
      )}
      <SafetyNumbers />
    </Page>
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

/** Our list changed on this device: keep it, and show it. */
function keysChanged(session: Session): void {
  session.saveKeys();
  session.store.changed();
}

/** The devices of the signed list; the holder of the identity key may remove
 * the others (it asks first: a removed device stops receiving keys at once). */
function DeviceTable({ devices, holder }: { devices: DeviceEntry[]; holder: boolean }) {
  const session = useSession();
  const mine = session.secure.keys.device.device;
  const [removed, setRemoved] = useState(false);
  if (!devices.length) return <p class="muted">{t("common.none")}</p>;
  const head = [t("devices.column_device"), t("devices.column_until"), ...(holder ? [t("devices.column_action")] : [])];
  const remove = (device: number) => async () => {
    await session.secure.removeDevice(device);
    keysChanged(session);
    setRemoved(true);
  };
  return (
    <>
      <Table head={head} labelledBy="devices-mine">
        {devices.map((entry) => (
          <tr key={entry.device}>
            <td>
              {t("devices.device", { id: entry.device })}{" "}
              {entry.device === mine && <span class="pill">{t("devices.this")}</span>}
            </td>
            <td>{formatDateTime(entry.expires)}</td>
            {holder && (
              <td>
                {entry.device !== mine && (
                  <ConfirmAction
                    label={t("devices.remove", { id: entry.device })}
                    question={t("devices.remove_confirm", { id: entry.device })}
                    confirm={t("devices.remove_yes")}
                    action={remove(entry.device)}
                  />
                )}
              </td>
            )}
          </tr>
        ))}
      </Table>
      {removed && (
        <p class="ok" role="status">
          {t("devices.removed")}
        </p>
      )}
    </>
  );
}

/** Logging out keeps this device's keys (the person comes back to their
 * history); on a computer others use, they can erase it instead. */
function SharedComputer({ holder }: { holder: boolean }) {
  const session = useSession();
  const forget = async () => {
    await session.forgetThisDevice();
    location.reload();
  };
  return (
    <section class="card" aria-labelledby="devices-shared">
      <h2 id="devices-shared">{t("devices.shared_title")}</h2>
      <p>{t("devices.shared_logout")}</p>
      <p>{t("devices.shared_forget")}</p>
      {/* Approving never copies the identity key (docs/e2e.md): the device
          that holds it is the only one, whatever else is listed. */}
      {holder && <p class="emergency">{t("devices.shared_only_key")}</p>}
      <ConfirmAction
        label={t("devices.forget")}
        question={t("devices.forget_question")}
        confirm={t("devices.forget_yes")}
        action={forget}
      />
    </section>
  );
}

/** Where approving a new device stands: its code is read, then the person
 * confirms which device it is before anything is published. */
type Approval =
  | { state: "idle" }
  | { state: "asking"; request: Uint8Array; device: number }
  | { state: "busy" }
  | { state: "done" }
  | { state: "refused"; why: unknown };

function ApproveDevice() {
  const session = useSession();
  const [code, setCode] = useState("");
  const [scanning, setScanning] = useState(false);
  const [approval, setApproval] = useState<Approval>({ state: "idle" });
  const check = (text: string) => {
    const read = readRequest(session, text);
    setApproval(typeof read === "string" ? { state: "refused", why: read } : { state: "asking", ...read });
  };
  const approve = async (request: Uint8Array) => {
    setApproval({ state: "busy" });
    const refusal = await approveRequest(session, request);
    if (refusal === undefined) {
      setCode("");
      setApproval({ state: "done" });
    } else setApproval({ state: "refused", why: refusal });
  };
  const cancel = () => {
    setCode("");
    setApproval({ state: "idle" });
  };
  return (
    <section class="card" aria-labelledby="devices-approve">
      <h2 id="devices-approve">{t("devices.approve_title")}</h2>
      <p class="muted">{t("devices.approve_intro")}</p>
      {canScan() &&
        (scanning ? (
          <Scanner
            stop={() => setScanning(false)}
            found={(text) => {
              setScanning(false);
              setCode(text);
              check(text);
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
          check(code);
        }}
      >
        <Field label={t("devices.code")}>
          <textarea
            rows={3}
            required
            spellcheck={false}
            autocomplete="off"
            value={code}
            onInput={(event) => {
              setCode(valueOf(event));
              setApproval({ state: "idle" }); // another code: ask again
            }}
          />
        </Field>
        <button type="submit" class="primary" disabled={approval.state === "asking" || approval.state === "busy"}>
          {approval.state === "busy" ? t("devices.approving") : t("devices.approve")}
        </button>
      </form>
      {approval.state === "asking" && (
        <ConfirmApproval device={approval.device} approve={() => approve(approval.request)} cancel={cancel} />
      )}
      <ApprovalOutcome approval={approval} />
    </section>
  );
}

/** Which device the code names, asked before approving it: a code scanned by
 * mistake (or slipped in by someone else) is not approved unseen. */
function ConfirmApproval(props: { device: number; approve: () => void; cancel: () => void }) {
  const question = t("devices.approve_question", { device: props.device });
  const group = useRef<HTMLDivElement>(null);
  useEffect(() => group.current?.focus(), []); // read out at once, after a scan too
  return (
    <div ref={group} class="card preview" role="group" aria-label={question} tabIndex={-1}>
      <p>{question}</p>
      <p class="row">
        <button type="button" class="primary" onClick={props.approve}>
          {t("devices.approve_yes")}
        </button>
        <button type="button" onClick={props.cancel}>
          {t("common.cancel")}
        </button>
      </p>
    </div>
  );
}

function ApprovalOutcome({ approval }: { approval: Approval }) {
  if (approval.state === "done") {
    return (
      <p class="ok" role="status">
        {t("devices.approved")}
      </p>
    );
  }
  if (approval.state !== "refused") return null;
  if (typeof approval.why !== "string") return <ErrorLine error={approval.why} />;
  return (
    <p class="error" role="alert">
      {approval.why}
    </p>
  );
}

/** The request `text` is, and the device it asks for; else why it cannot be
 * approved, as a sentence. */
function readRequest(session: Session, text: string): { request: Uint8Array; device: number } | string {
  const request = fromBase64Url(text);
  let asked;
  try {
    asked = request && codecs.deviceRequest.decode(request);
  } catch (error) {
    if (!(error instanceof StructureError)) throw error;
  }
  if (!request || !asked) return t("devices.bad_code");
  if (asked.user !== session.me) return t("devices.other_account");
  return { request, device: asked.device };
}

/** Approve the device that sent `request`; what went wrong, as a sentence of
 * ours or the server's refusal, or undefined once it is approved. */
async function approveRequest(session: Session, request: Uint8Array): Promise<unknown> {
  try {
    await session.secure.approve(request);
  } catch (error) {
    if (error instanceof E2EError) return t("devices.bad_code");
    return error;
  }
  keysChanged(session);
  return undefined;
}

function Delegates({ delegates }: { delegates: Delegate[] }) {
  const session = useSession();
  const now = Date.now();
  const current = delegates.filter((d) => d.expires === null || d.expires > now);
  const names = useContactNames(session, current.map((d) => d.user));
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

/** "read.reply" -> "read your conversations, answer for you". */
function scopeWords(scope: string): string {
  const known: string[] = Object.values(Scope);
  return scope
    .split(".")
    .filter((word) => known.includes(word))
    .map((word) => t(`devices.scope.${word}`))
    .join(", ");
}
