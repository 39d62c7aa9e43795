/** A pushed message opened on this device, for a device that chose previews:
 * with the keyring the app saved, verified as the app verifies a message
 * (the sender's device in their verified list, its signature, the thread, a
 * key sealed for this device, or in a big group the sender key the app
 * saved). The worker cannot ask the server for a list or a sender key it
 * lacks, nor record what it opened: a sender it does not know yet, a group
 * sender's first message under a new key, or a message the app already
 * opened (a replay, for all it can tell), gets the generic notification
 * instead. */
import {
  IndexedDbKeyStore,
  type Keyring,
  decodeEnvelope,
  openEnvelope,
  ready,
  senderKeyName,
  toHex,
} from "../../src/e2e/index.js";
import { type SignedIn, keyringName } from "../src/worker-settings.js";

/** A preview is a glance: a lock screen shows about two lines. */
const PREVIEW_CHARACTERS = 80;

/** The first words of the message `envelope` holds, or null when it cannot
 * be shown: no keyring here, a check that fails, a message without text. */
export async function previewOf(envelope: Uint8Array, thread: number, signedIn: SignedIn): Promise<string | null> {
  await ready();
  const keys = await new IndexedDbKeyStore(keyringName(signedIn.user, signedIn.device)).load();
  if (!keys) return null;
  try {
    return shorten(openedText(envelope, thread, keys));
  } catch {
    return null; // whichever check refused it (or a damaged payload): the generic words
  }
}

function openedText(envelope: Uint8Array, thread: number, keys: Keyring): string {
  // The push names no sender: the header does, and its signature must then
  // verify under that sender's device as their signed list gives it.
  const { header } = decodeEnvelope(envelope);
  const opened = openEnvelope(envelope, {
    me: keys.device,
    trust: keys.trust,
    thread,
    senderUser: header.senderUser,
    senderDevice: header.senderDevice,
    now: Date.now(),
    firstTime: (msgId) => !keys.seen.has(toHex(msgId)),
    senderKey:
      "senderKey" in header
        ? keys.senderKeys.get(senderKeyName(thread, header.senderDevice, header.senderKey))
        : null,
  });
  return opened.body.text;
}

/** `text` on one line, cut after PREVIEW_CHARACTERS characters; null if empty. */
function shorten(text: string): string | null {
  const line = text.replace(/\s+/g, " ").trim();
  if (!line) return null; // documents only: nothing to quote
  const characters = Array.from(line); // an emoji is one character, not two halves
  if (characters.length <= PREVIEW_CHARACTERS) return line;
  return `${characters.slice(0, PREVIEW_CHARACTERS - 1).join("").trimEnd()}…`;
}
