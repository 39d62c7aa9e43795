/**
 * A person's own conversations and documents, exported in the browser
 * that decrypts them (docs/accounts.md, "Your own data"): the same archive
 * as the Python SDK's `clients/export.py`, as one ZIP file to keep:
 *
 * - `index.html`: the conversations, in French and English, readable in any
 *   browser without carehub;
 * - `conversations/<thread>.html`: each conversation's messages in order;
 * - `documents/`: the documents, decrypted, under their own names;
 * - `conversations.json`: the same, for a program;
 * - `fhir.json`: a FHIR `Bundle` (`fhir.ts`).
 *
 * Nothing leaves the browser but the download itself: the server hands over
 * ciphertext it already holds. Messages this device cannot open are counted
 * and listed, never dropped silently.
 */
import { zipSync } from "fflate";
import { concat } from "../../src/e2e/bytes.js";
import type { DocumentRef, MessageData } from "../../src/index.js";
import type { Member, ThreadInfo, UserProfile } from "./api.js";
import { bundle, conversationResources, type Conversation, type Person, type ReadDocument, type ReadMessage } from "./fhir.js";
import { noticeWords } from "./screens/conversation.js";
import type { Session } from "./session.js";
import type { ShownMessage } from "./store.js";

export interface Exported {
  conversations: number;
  messages: number;
  documents: number;
  unreadable: number[]; // message ids this device cannot open
}

const PAGE = 200;
const UNSAFE = /[^\p{L}\p{N}_.\- ]+/gu;
const MAX_NAME = 120;
const COMPRESSED = /^(image|video|audio)\/|zip|pdf/; // stored as is: deflating them gains nothing

type Files = Record<string, Uint8Array | [Uint8Array, { level: 0 }]>;

/** The archive of the caller's conversations, and what went into it. */
export async function exportConversations(
  session: Session,
  progress: (done: number, of: number) => void = () => undefined,
): Promise<{ zip: Blob; done: Exported }> {
  const { threads } = await session.call<{ threads: ThreadInfo[] }>("threads.list", {});
  const own = threads.filter((t) => !t.via).sort((a, b) => a.id - b.id); // a delegate's are the practitioner's
  const relatives = await relativeNames(session);
  const files: Files = {};
  const done: Exported = { conversations: own.length, messages: 0, documents: 0, unreadable: [] };
  const talks: Conversation[] = [];
  for (const [n, thread] of own.entries()) {
    progress(n, own.length);
    const talk = await conversation(session, thread, relatives, files, done);
    talks.push(talk);
    files[`conversations/${thread.id}.html`] = utf8(page(talk));
  }
  progress(own.length, own.length);
  files["index.html"] = utf8(index(talks, done));
  files["conversations.json"] = utf8(JSON.stringify({ conversations: talks.map(plain), unreadable: done.unreadable }, null, 2));
  const resources = (await Promise.all(talks.map(conversationResources))).flat();
  files["fhir.json"] = utf8(JSON.stringify(bundle(resources), null, 2));
  const zip = zipSync(files, { level: 6 });
  return { zip: new Blob([zip as BlobPart], { type: "application/zip" }), done };
}

async function relativeNames(session: Session): Promise<Map<number, string>> {
  if (session.role !== "patient") return new Map();
  const { relatives } = await session.call<{ relatives: { user: number; name: string }[] }>("relatives.list", {});
  return new Map(relatives.map((r) => [r.user, r.name]));
}

async function conversation(
  session: Session,
  thread: ThreadInfo,
  relatives: Map<number, string>,
  files: Files,
  done: Exported,
): Promise<Conversation> {
  const members = thread.members.map(person);
  const read: ReadMessage[] = [];
  for (const { shown, fromServer } of await history(session, thread.id)) {
    if (shown.unreadable) {
      done.unreadable.push(shown.id);
      continue;
    }
    const documents = [];
    for (const [n, ref] of shown.documents.entries()) documents.push(await save(session, shown.id, n, ref, files));
    read.push(readMessage(shown, fromServer, thread.members, documents));
    if (!fromServer && !shown.retracted && !shown.expired) {
      done.messages += 1;
      done.documents += documents.length;
    }
  }
  const present = new Set(members.map((m) => m.id));
  const gone = [...new Set(read.filter((m) => !m.notice && !present.has(m.sender)).map((m) => m.sender))];
  const former = await people(session, gone);
  return { id: thread.id, reason: thread.reason ?? null, members, subject: subject(thread, members, relatives), messages: read, former };
}

/** Every message of the thread, oldest first, as this device opens it, and
 * whether the server wrote it (a notice, even one emptied since). */
async function history(session: Session, thread: number): Promise<{ shown: ShownMessage; fromServer: boolean }[]> {
  const all = [];
  for (let before: number | undefined; ; ) {
    const page = await session.call<{ messages: MessageData[]; has_more: boolean }>("messages.history", {
      thread,
      limit: PAGE,
      ...(before ? { before_seq: before } : {}),
    });
    for (const message of page.messages) all.push({ shown: await session.show(message), fromServer: message.sender_device == null });
    if (!page.has_more || !page.messages.length) return all.sort((a, b) => a.shown.threadSeq - b.shown.threadSeq);
    before = page.messages[page.messages.length - 1]!.thread_seq;
  }
}

function readMessage(shown: ShownMessage, fromServer: boolean, members: Member[], documents: ReadDocument[]): ReadMessage {
  const name = (user?: number | null) => members.find((m) => m.user === user)?.name ?? (user ? `n° ${user}` : "");
  // A notice as the app shows it; an auto-reply's own words as written.
  const text = shown.notice ? shown.notice.text || noticeWords(shown.notice, name) : shown.text;
  return {
    id: shown.id,
    threadSeq: shown.threadSeq,
    sender: shown.sender,
    sentAt: shown.sentAt,
    text,
    documents,
    notice: fromServer,
    expired: shown.expired,
  };
}

/** Download and decrypt a document into `documents/`, under its own name
 * made safe (no path, no control characters), prefixed to be unique. */
async function save(session: Session, message: number, n: number, ref: DocumentRef, files: Files): Promise<ReadDocument> {
  const pieces: Uint8Array[] = [];
  for await (const piece of session.secure.downloadHttp(location.origin, ref)) pieces.push(piece);
  const data = concat(...pieces);
  const base = ref.name.replaceAll("\\", "/").split("/").pop() ?? "";
  const safe = base.replace(UNSAFE, "_").slice(0, MAX_NAME) || "document";
  const url = `documents/${message}-${n}-${safe}`;
  files[url] = COMPRESSED.test(ref.mime) ? [data, { level: 0 }] : data;
  const sha1 = new Uint8Array(await crypto.subtle.digest("SHA-1", data as BufferSource));
  return { name: ref.name, mime: ref.mime, size: data.length, sha1, url };
}

function person(member: Member): Person {
  return { id: member.user, name: member.name, role: member.role };
}

function subject(thread: ThreadInfo, members: Person[], relatives: Map<number, string>): Person | null {
  if (thread.subject) return { id: thread.subject, name: relatives.get(thread.subject) ?? "", role: "patient" };
  const patients = members.filter((m) => m.role === "patient");
  return patients.length === 1 ? patients[0]! : null;
}

async function people(session: Session, users: number[]): Promise<Person[]> {
  if (!users.length) return [];
  const { users: shown } = await session.call<{ users: UserProfile[] }>("users.get", { users });
  const byId = new Map(shown.map((u) => [u.user, u]));
  return users.map((u) => ({ id: u, name: byId.get(u)?.name ?? "", role: byId.get(u)?.role ?? "patient" }));
}

function title(talk: Conversation): string {
  const names = talk.members.map((p) => p.name).join(", ");
  return talk.reason ? `${names} — ${talk.reason}` : names;
}

function index(talks: Conversation[], done: Exported): string {
  const rows = talks
    .map((t) => `<li><a href="conversations/${t.id}.html">${escape(title(t))}</a> (${t.messages.length} messages)</li>`)
    .join("");
  const lost = done.unreadable.length
    ? `<p>${done.unreadable.length} message(s) illisible(s) sur cet appareil / unreadable on this device.</p>`
    : "";
  return html(
    "Vos conversations carehub / Your carehub conversations",
    "<p>Exporté et déchiffré sur votre appareil. Exported and decrypted on your device.</p>" +
      `${lost}<ul>${rows}</ul>` +
      '<p><a href="fhir.json">FHIR (Bundle)</a> · <a href="conversations.json">JSON</a></p>',
  );
}

function page(talk: Conversation): string {
  const names = new Map([...talk.members, ...talk.former].map((p) => [p.id, p.name]));
  const items = talk.messages.map((m) => messageHtml(m, names)).join("");
  return html(title(talk), `<p><a href="../index.html">←</a></p><ol>${items}</ol>`);
}

function messageHtml(message: ReadMessage, names: Map<number, string>): string {
  const when = new Date(message.sentAt).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const who = escape(names.get(message.sender) || `n° ${message.sender}`);
  const text = escape(message.text).replaceAll("\n", "<br>");
  const links = message.documents
    .map((d) => `<li><a href="../${escape(d.url)}" download>${escape(d.name)}</a> (${d.size} o)</li>`)
    .join("");
  return `<li><p><b>${who}</b> · ${when}</p><p>${text}</p><ul>${links}</ul></li>`;
}

function html(heading: string, body: string): string {
  return (
    `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>${escape(heading)}</title></head>` +
    `<body><h1>${escape(heading)}</h1>${body}</body></html>\n`
  );
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A conversation as `conversations.json` holds it: hashes as hex. */
function plain(talk: Conversation): unknown {
  const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return {
    ...talk,
    messages: talk.messages.map((m) => ({ ...m, documents: m.documents.map((d) => ({ ...d, sha1: hex(d.sha1) })) })),
  };
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
