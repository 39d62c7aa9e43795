import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { Session } from "./session.js";
import { useStore } from "./store.js";

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; screens under the shell always have one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in screen");
  useStore(session.store);
  return session;
}

/** The hash route as path parts: `#/threads/12` -> ["threads", "12"]. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}
