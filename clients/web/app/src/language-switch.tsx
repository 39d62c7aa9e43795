/** The button that switches the app between French and English. */
import { currentLanguage, setLanguage, t } from "./i18n.js";

/** Its label names the other language in that language (`lang` says so to
 * screen readers). The signed-in shell's own button also tells the server. */
export function LanguageSwitch(props: { class?: string }) {
  const other = currentLanguage() === "fr" ? "en" : "fr";
  return (
    <button type="button" class={props.class} lang={other} onClick={() => setLanguage(other)}>
      {t("shell.language")}
    </button>
  );
}
