/** The alert when a contact's identity key changes (or the account's
 * own): what it may mean, the new safety number to check, and accepting
 * it; until then the SDK sends them nothing. */
import { useEffect, useRef, useState } from "preact/hooks";
import { safetyNumber } from "../../../src/index.js";
import { useRoute, useSession } from "../context.js";
import { defineTexts, ofName, t } from "../i18n.js";
import { useContactNames } from "../names.js";
import type { Session } from "../session.js";
import { ErrorLine } from "../ui.js";
import { SafetyDigits } from "./safety-numbers.js";

defineTexts({
  "identity.title": ["La clé de sécurité {of_name} a changé", "{name}'s security key changed"],
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
  const names = useContactNames(session, [user]);
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
        <h2 id="identity-title">{self ? t("identity.self_title") : t("identity.title", { name, of_name: ofName(name) })}</h2>
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
