/** Safety numbers (docs/e2e.md): one per contact, to compare in person or
 * by phone; the same on both sides means nobody stands between them. */
import { useEffect, useState } from "preact/hooks";
import { IdentityChanged, UntrustedDevices } from "../../../src/index.js";
import { useSession } from "../context.js";
import { defineTexts, t } from "../i18n.js";
import { contactsOf } from "../names.js";
import { Loading, useLoad } from "../ui.js";

defineTexts({
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
});

/** With more contacts than this, each safety number is computed when its
 * person is opened: one costs some 10 ms of hashing (5,200 SHA-512 rounds a side). */
const SHOWN_OPEN = 5;

export function SafetyNumbers() {
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
      <details open={open} onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
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
export function SafetyDigits({ number }: { number: string }) {
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
