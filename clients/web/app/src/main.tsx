/** Start the app, and register the service worker that keeps the shell for offline use. */
import { render } from "preact";
import { App } from "./app.js";
import { currentLanguage, tellServiceWorker } from "./i18n.js";

document.documentElement.lang = currentLanguage();
tellServiceWorker();
render(<App />, document.getElementById("app") as HTMLElement);

if ("serviceWorker" in navigator && location.protocol !== "file:") {
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((error: unknown) => {
    console.warn("the offline shell is not available:", error);
  });
}
