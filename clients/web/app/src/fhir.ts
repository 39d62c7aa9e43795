/**
 * Conversations as FHIR R4 resources, made in the browser that decrypted
 * them: the same resources, identifiers and `urn:uuid:` references as the
 * Python SDK's `clients/fhir.py` (a `Communication` per message, a
 * `DocumentReference` per document, `Patient` / `Practitioner` / `Device`
 * for the people), so an export made here and one made by a program name
 * the same things the same way. The browser test validates what this
 * module writes with `fhir.resources`, as the Python side does.
 */
import { concat } from "../../src/e2e/bytes.js";

export interface Person {
  id: number;
  name: string;
  role: string; // patient, practitioner, assistant, bot, admin
}

export interface ReadDocument {
  name: string;
  mime: string;
  size: number;
  sha1: Uint8Array; // of the plaintext: FHIR's Attachment.hash
  url: string; // where the file is in the archive
}

export interface ReadMessage {
  id: number;
  threadSeq: number;
  sender: number;
  sentAt: number; // ms UTC
  text: string;
  documents: ReadDocument[];
  notice: boolean; // written by the server, not a person
  expired: boolean;
}

export interface Conversation {
  id: number;
  reason: string | null;
  members: Person[];
  subject: Person | null;
  messages: ReadMessage[];
  former: Person[]; // who wrote in it and is no longer a member
}

type Resource = Record<string, unknown>;

const CAREHUB = "6f0d3c1e-2b9a-4c3e-9d1f-5a7b8c9d0e1f"; // clients/fhir.py's namespace
const SYSTEM = "urn:carehub";
const RETRACTED = "Message retiré par son auteur / retracted by its sender";
const EXPIRED = "Message effacé de la messagerie après sa durée de conservation / past the chat retention";

/** The `urn:uuid:` of carehub's `kind` `id`: a UUID version 5 (RFC 9562). */
export async function reference(kind: string, id: number | string): Promise<string> {
  const namespace = Uint8Array.from(CAREHUB.replaceAll("-", "").match(/../g) ?? [], (h) => parseInt(h, 16));
  const name = new TextEncoder().encode(`${kind}/${id}`);
  const named = concat(namespace, name) as Uint8Array<ArrayBuffer>;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", named)).slice(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Each resource of the conversation with its `urn:uuid:`. */
export async function conversationResources(talk: Conversation): Promise<[string, Resource][]> {
  const people = new Map([...talk.members, ...talk.former].map((p) => [p.id, p]));
  const about = talk.subject && !people.has(talk.subject.id) ? [talk.subject] : [];
  const made: [string, Resource][] = [];
  for (const person of [...people.values(), ...about]) made.push([await reference(kind(person), person.id), personResource(person)]);
  const spoken = talk.messages.filter((m) => people.has(m.sender) && !m.notice);
  for (const [i, message] of spoken.entries()) {
    const first = i ? await reference("Communication", spoken[0]!.id) : null;
    const before = i ? await reference("Communication", spoken[i - 1]!.id) : null;
    made.push([await reference("Communication", message.id), await communication(talk, message, [first, before], people)]);
    for (const n of message.documents.keys()) {
      made.push([await reference("DocumentReference", `${message.id}-${n}`), await documentReference(talk, message, n, people)]);
    }
  }
  return made;
}

/** A `collection` Bundle of the entries, each once. */
export function bundle(entries: [string, Resource][]): Resource {
  const unique = new Map(entries);
  return { resourceType: "Bundle", type: "collection", entry: [...unique].map(([fullUrl, resource]) => ({ fullUrl, resource })) };
}

function kind(person: Person): string {
  return person.role === "patient" ? "Patient" : person.role === "bot" ? "Device" : "Practitioner";
}

function nameOf(person: Person): string {
  return person.name.trim() || `n° ${person.id}`; // FHIR strings are never empty
}

function personResource(person: Person): Resource {
  const identifier = [{ system: `${SYSTEM}:user`, value: String(person.id) }];
  if (kind(person) === "Device") {
    return { resourceType: "Device", identifier, deviceName: [{ name: nameOf(person), type: "user-friendly-name" }] };
  }
  return { resourceType: kind(person), identifier, name: [{ text: nameOf(person) }] };
}

function when(ms: number): string {
  return new Date(ms).toISOString();
}

function attachment(document: ReadDocument): Resource {
  return {
    contentType: document.mime.trim() || "application/octet-stream",
    title: document.name.trim() || "document",
    size: document.size,
    hash: base64(document.sha1),
    ...(document.url ? { url: document.url } : {}),
  };
}

async function communication(
  talk: Conversation,
  message: ReadMessage,
  [partOf, before]: [string | null, string | null],
  people: Map<number, Person>,
): Promise<Resource> {
  const sender = people.get(message.sender)!;
  const recipients = talk.members.filter((p) => p.id !== message.sender);
  const payload = [
    ...(message.text ? [{ contentString: message.text }] : []),
    ...message.documents.map((d) => ({ contentAttachment: attachment(d) })),
  ];
  const resource: Resource = {
    resourceType: "Communication",
    identifier: [{ system: `${SYSTEM}:message`, value: String(message.id) }],
    status: "completed",
    sent: when(message.sentAt),
    sender: { reference: await reference(kind(sender), sender.id), display: nameOf(sender) },
    recipient: await Promise.all(recipients.map(async (p) => ({ reference: await reference(kind(p), p.id), display: nameOf(p) }))),
    ...(payload.length ? { payload } : {}),
  };
  if (talk.subject) resource["subject"] = { reference: await reference("Patient", talk.subject.id) };
  if (talk.reason) resource["topic"] = { coding: [{ system: `${SYSTEM}:reason`, code: talk.reason }], text: talk.reason };
  if (partOf) resource["partOf"] = [{ reference: partOf }];
  if (before) resource["inResponseTo"] = [{ reference: before }];
  if (message.expired) Object.assign(resource, { status: "unknown", note: [{ text: EXPIRED }] });
  else if (!payload.length) Object.assign(resource, { status: "entered-in-error", note: [{ text: RETRACTED }] });
  return resource;
}

async function documentReference(
  talk: Conversation,
  message: ReadMessage,
  rank: number,
  people: Map<number, Person>,
): Promise<Resource> {
  const author = people.get(message.sender)!;
  const document = message.documents[rank]!;
  return {
    resourceType: "DocumentReference",
    identifier: [{ system: `${SYSTEM}:document`, value: `${message.id}-${rank}` }],
    status: "current",
    date: when(message.sentAt),
    description: document.name.trim() || "document",
    author: [{ reference: await reference(kind(author), author.id), display: nameOf(author) }],
    content: [{ attachment: attachment(document) }],
    context: { related: [{ reference: await reference("Communication", message.id) }] },
    ...(talk.subject ? { subject: { reference: await reference("Patient", talk.subject.id) } } : {}),
  };
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
