/**
 * The SDK's errors, as the Python SDK has them (`clients/errors.py`):
 *
 *     CarehubError
 *     ├── CallError      the server refused a call (`code` is the wire's error code)
 *     ├── AuthError      login refused, or the socket closed for a stale token
 *     ├── Disconnected   the connection ended and will not come back
 *     └── E2EError       end-to-end encryption refused something (`e2e/`)
 */

/** Root of every error the SDK throws. */
export class CarehubError extends Error {
  override name = "CarehubError";
}

/** The wire's error codes (`docs/protocol.md`, "Error codes"). */
export type ErrorCode =
  | "invalid"
  | "unknown_method"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "quota_exceeded"
  | "stale_devices"
  | "rate_limited"
  | "unavailable"
  | "internal";

/** The server refused a call: switch on `code`; `message` is for people. */
export class CallError extends CarehubError {
  override name = "CallError";
  constructor(
    readonly code: ErrorCode | string,
    readonly description: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${description}`);
  }
}

/** Login refused, or the socket was closed for a stale or revoked token. */
/**
 * A login refused, or a socket closed for a stale token. `details.reason`
 * says what a login lacks: `second_factor` (send `otp`), `wrong_code`,
 * `reset_link` (docs/accounts.md).
 */
export class AuthError extends CarehubError {
  override name = "AuthError";
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The connection ended and the client will not reconnect. */
export class Disconnected extends CarehubError {
  override name = "Disconnected";
  constructor(
    readonly code: number | null,
    readonly reason = "",
  ) {
    super(`disconnected (${code}): ${reason}`);
  }
}
