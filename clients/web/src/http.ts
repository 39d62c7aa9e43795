/**
 * Accounts over HTTP (`POST /v1/register`, `/v1/login`, `/v1/logout`, a
 * second factor's `/v1/totp/*`, a forgotten password's `/v1/password/*`),
 * JSON in and out; every error body is `{code, message, details}`. Same origin
 * as the socket in the web app, so `baseUrl` may be "" there.
 */
import { AuthError, CallError, type CarehubError } from "./errors.js";

export type Role = "patient" | "practitioner" | "assistant" | "bot" | "admin";

export interface UserInfo {
  id: number;
  username: string;
  name: string;
  role: Role;
}

/** What a login gives a device: its bearer token for `hello` and HTTP. */
export interface Credentials {
  token: string;
  userId: number;
  deviceId: number;
  role: Role;
  expiresAt: number;
}

async function post(baseUrl: string, path: string, body: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) throw await refusal(response);
  const text = await response.text(); // 202 and 204 carry no body
  return text ? JSON.parse(text) : null;
}

async function refusal(response: Response): Promise<CarehubError> {
  let code = "internal";
  let message = `HTTP ${response.status}`;
  let details: Record<string, unknown> = {};
  try {
    const body = (await response.json()) as { code?: string; message?: string; details?: Record<string, unknown> };
    code = body.code ?? code;
    message = body.message ?? message;
    details = body.details ?? {};
  } catch {
    // not our JSON: a proxy's page; keep the status
  }
  const error = new CallError(code, message, details);
  return response.status === 401 ? new AuthError(error.message, details) : error;
}

export async function register(
  baseUrl: string,
  username: string,
  password: string,
  displayName: string,
  role: "patient" | "practitioner" = "patient",
  locale = "fr",
  email?: string,
  birthDate?: string,
): Promise<UserInfo> {
  const body: Record<string, unknown> = { username, password, display_name: displayName, role, locale };
  if (email) body.email = email;
  if (birthDate) body.birth_date = birthDate;
  const answer = (await post(baseUrl, "/v1/register", body)) as { user: UserInfo };
  return answer.user;
}

/**
 * Log in; without `deviceId` this registers a new device. `otp`: the second
 * factor's code (or a recovery code), once the account has one: without it
 * the login rejects with `AuthError`, `details.reason` `second_factor`.
 */
export async function login(
  baseUrl: string,
  username: string,
  password: string,
  options: { deviceName?: string; deviceId?: number; otp?: string } = {},
): Promise<Credentials> {
  const body: Record<string, unknown> = { username, password, device_name: options.deviceName ?? "" };
  if (options.deviceId !== undefined) body.device_id = options.deviceId;
  if (options.otp) body.otp = options.otp;
  const answer = (await post(baseUrl, "/v1/login", body)) as {
    token: string;
    user: UserInfo;
    device: number;
    expires_at: number;
  };
  return {
    token: answer.token,
    userId: answer.user.id,
    deviceId: answer.device,
    role: answer.user.role,
    expiresAt: answer.expires_at,
  };
}

/** End this device's session: its sockets close on every node. */
export async function logout(baseUrl: string, credentials: Credentials): Promise<void> {
  await post(baseUrl, "/v1/logout", null, credentials.token);
}

/** A new TOTP secret and its `otpauth://` URI (for a QR code), until confirmed. */
export async function totpEnrol(
  baseUrl: string,
  username: string,
  password: string,
): Promise<{ secret: string; uri: string }> {
  return (await post(baseUrl, "/v1/totp/enrol", { username, password })) as { secret: string; uri: string };
}

/** Turn the enrolled secret on with one of its codes: the ten recovery codes, shown once. */
export async function totpConfirm(baseUrl: string, username: string, password: string, code: string): Promise<string[]> {
  const answer = (await post(baseUrl, "/v1/totp/confirm", { username, password, code })) as { recovery_codes: string[] };
  return answer.recovery_codes;
}

export async function totpDisable(baseUrl: string, username: string, password: string, code: string): Promise<void> {
  await post(baseUrl, "/v1/totp/disable", { username, password, code });
}

/** Ask for a reset link by email: accepted whether or not the account exists. */
export async function forgotPassword(baseUrl: string, username: string): Promise<void> {
  await post(baseUrl, "/v1/password/forgot", { username });
}

/** Spend a reset link's token: the new password; every session of the account ends. */
export async function resetPassword(baseUrl: string, token: string, password: string): Promise<void> {
  await post(baseUrl, "/v1/password/reset", { token, password });
}
