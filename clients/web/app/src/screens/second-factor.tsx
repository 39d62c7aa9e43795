/** A second factor turned on (docs/accounts.md): the secret as a QR code
 * for an authenticator app and as text to type, a code from the app to
 * confirm it, then the ten recovery codes, shown this once. Used at sign-in
 * (a deployment that requires one of practitioners) and in the security
 * settings. */
import { useMemo, useState } from "preact/hooks";
import { renderSVG } from "uqr";
import { totpConfirm, totpEnrol } from "../../../src/index.js";
import { valueOf } from "../forms.js";
import { defineTexts, t } from "../i18n.js";
import { Action, Field, Loading, useLoad } from "../ui.js";

defineTexts({
  "totp.scan": [
    "Scannez ce code avec votre application d'authentification (Google Authenticator, Microsoft Authenticator, FreeOTP…).",
    "Scan this code with your authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP…).",
  ],
  "totp.qr": ["Code QR du secret", "QR code of the secret"],
  "totp.secret": ["Ou saisissez ce secret dans l'application :", "Or type this secret into the app:"],
  "totp.code": ["Code à six chiffres affiché par l'application", "Six-digit code the app shows"],
  "totp.confirm": ["Activer la double authentification", "Turn two-factor authentication on"],
  "totp.codes_title": ["Vos codes de secours", "Your recovery codes"],
  "totp.codes_explain": [
    "Chacun remplace une fois le code de l'application si vous perdez votre téléphone. Notez-les ou imprimez-les maintenant et rangez-les en lieu sûr : ils ne seront plus affichés.",
    "Each stands in once for the app's code if you lose your phone. Write them down or print them now and keep them safe: they will not be shown again.",
  ],
});

/** The six digits of a code, as typed (spaces dropped). */
export function typedCode(text: string): string {
  return text.replace(/\s+/g, "");
}

/** Offer a secret, then turn it on with one of its codes; `enabled` gets the recovery codes. */
export function EnrolSecondFactor(props: { username: string; password: string; enabled: (codes: string[]) => void }) {
  const offered = useLoad(() => totpEnrol(location.origin, props.username, props.password), [props.username]);
  const [code, setCode] = useState("");
  const qr = useMemo(() => offered.value && renderSVG(offered.value.uri, { ecc: "M", border: 2 }), [offered.value]);
  if (!offered.value) return <Loading error={offered.error} />;
  const confirm = async () => props.enabled(await totpConfirm(location.origin, props.username, props.password, typedCode(code)));
  return (
    <div class="card">
      <p>{t("totp.scan")}</p>
      {/* The SVG is uqr's own rendering of the otpauth URI, not outside markup. */}
      <div class="qr" role="img" aria-label={t("totp.qr")} dangerouslySetInnerHTML={{ __html: qr ?? "" }} />
      <p>
        {t("totp.secret")} <code class="request">{offered.value.secret}</code>
      </p>
      <Field label={t("totp.code")}>
        <input
          name="totp-code"
          inputMode="numeric"
          autocomplete="one-time-code"
          required
          value={code}
          onInput={(event) => setCode(valueOf(event))}
        />
      </Field>
      <Action kind="primary" label={t("totp.confirm")} action={confirm} disabled={typedCode(code).length !== 6} />
    </div>
  );
}

export function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <section class="card" aria-labelledby="recovery-codes">
      <h2 id="recovery-codes">{t("totp.codes_title")}</h2>
      <p>{t("totp.codes_explain")}</p>
      <ul class="codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}
