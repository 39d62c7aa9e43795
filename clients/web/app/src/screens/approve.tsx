/** A new device, waiting (docs/e2e.md): it shows its approval request as a
 * QR code and as text, until a device already logged in approves it. */
import { useMemo, useState } from "preact/hooks";
import { renderSVG } from "uqr";
import { toBase64Url } from "../base64url.js";
import { useSession } from "../context.js";
import { ConfirmAction } from "../controls.js";
import { defineTexts, t } from "../i18n.js";
import { LanguageSwitch } from "../language-switch.js";
import { Action } from "../ui.js";

defineTexts({
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
  "approve.lost.title": ["Plus aucun autre appareil ?", "No other device left?"],
  "approve.lost.explain": [
    "Si vous avez perdu ou effacé tous vos appareils connectés, recommencez avec une nouvelle clé de sécurité. Les messages chiffrés pour vos anciens appareils ne pourront pas être lus ici, et chacun de vos interlocuteurs verra que votre clé a changé.",
    "If you lost or wiped every logged-in device, start again with a new security key. Messages encrypted for your old devices cannot be read here, and everyone you talk with will see that your key changed.",
  ],
  "approve.lost.start": ["Recommencer avec une nouvelle clé", "Start again with a new key"],
  "approve.lost.question": [
    "Vos anciens appareils ne recevront plus vos messages. Continuer ?",
    "Your old devices will stop receiving your messages. Go on?",
  ],
  "approve.lost.confirm": ["Oui, nouvelle clé", "Yes, a new key"],
  "approve.waiting": [
    "En attente d'approbation. Cet écran s'ouvrira tout seul dès que l'appareil sera approuvé.",
    "Waiting for approval. This screen opens by itself as soon as the device is approved.",
  ],
});

export function ApproveThisDevice() {
  const session = useSession();
  const request = session.approvalRequest as Uint8Array;
  const code = useMemo(() => toBase64Url(request), [request]);
  const qr = useMemo(() => renderSVG(code, { ecc: "M", border: 2 }), [code]);
  return (
    <main class="page" aria-labelledby="approve-title">
      <header class="page-head">
        <h1 id="approve-title">{t("approve.title")}</h1>
        <LanguageSwitch />
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
      <section class="card" aria-labelledby="approve-lost">
        <h2 id="approve-lost">{t("approve.lost.title")}</h2>
        <p>{t("approve.lost.explain")}</p>
        <ConfirmAction
          label={t("approve.lost.start")}
          question={t("approve.lost.question")}
          confirm={t("approve.lost.confirm")}
          action={() => session.startOver()}
        />
      </section>
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
