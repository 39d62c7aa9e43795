/** The shapes of the wire the app reads (docs/protocol.schema.json), as the
 * screens use them. Only what the app touches is typed. */

export type Role = "patient" | "practitioner" | "assistant" | "bot" | "admin";
export type ThreadKind = "patient_practitioner" | "practitioner_practitioner" | "group";
export type PresenceStatus = "online" | "away" | "offline";

export interface Member {
  user: number;
  role: Role;
  name: string;
  /** In a thread: how far this member's receipts reached. */
  delivered_seq?: number;
  read_seq?: number;
}

export interface ThreadInfo {
  id: number;
  kind: ThreadKind;
  members: Member[];
  created_by: number;
  created_at: number;
  last_seq?: number;
  read_seq?: number;
  delivered_seq?: number;
  unread?: number;
  reason?: string | null;
  subject?: number | null;
  closed?: boolean;
  reply_allowed?: boolean;
  via?: number | null;
  /** When its latest message was sent. */
  last_at?: number | null;
  /** The caller muted it: no notification for it, on any device. */
  muted?: boolean;
}

export interface RequestReason {
  code: string;
  label: string;
  response_hours?: number | null;
}

export interface PractitionerInfo {
  id: number;
  name: string;
  accepting: string;
  reasons: RequestReason[];
  /** The directory's (RPPS, in French), when verified with their number: "Médecin". */
  profession?: string;
  /** "Médecine générale"; absent for a profession without one. */
  specialty?: string;
  emergency_notice?: string;
  refusal?: string | null;
  refusal_text?: string | null;
  campaigns_opted_out?: boolean;
}

/** What the directory says a practitioner practises, "Médecin · Médecine générale";
 * empty when they were verified without their number. */
export function professionOf(practitioner: Pick<PractitionerInfo, "profession" | "specialty">): string {
  return [practitioner.profession, practitioner.specialty].filter(Boolean).join(" · ");
}

export interface UserProfile {
  user: number;
  name: string;
  role: Role;
  acting_for?: number[];
}

export interface Notify {
  thread: number;
  from: number;
  unread?: number;
  reason?: string | null;
}

export interface ReceiptUpdated {
  thread: number;
  user: number;
  delivered_seq: number;
  read_seq: number;
}
