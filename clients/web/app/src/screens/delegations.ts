/** Delegations as the server enforces them (docs/protocol.schema.json
 * `delegations.list`): what a practitioner let an assistant or a bot do. */
import type { Scope } from "../../../src/index.js";

export interface Delegation {
  principal: number;
  delegate: number;
  scope: Scope[];
  expires?: number | null;
  /** Only in a `delegation.updated` event. */
  revoked?: boolean;
}

export interface DelegationsList {
  given: Delegation[];
  received: Delegation[];
}

/** The practitioners who let me do `scope` for them, and still do. */
export function principalsFor(received: Delegation[], scope: Scope, now = Date.now()): number[] {
  return received
    .filter((d) => !d.revoked && d.scope.includes(scope) && (d.expires == null || d.expires > now))
    .map((d) => d.principal);
}
