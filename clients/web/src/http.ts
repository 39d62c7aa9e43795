/**
 * Accounts over HTTP (`POST /v1/register`, `/v1/login`, `/v1/logout`), JSON
 * in and out; every error body is `{code, message, details}`. Same origin
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
  return response.status === 204 ? null : response.json();
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
  return response.status === 401 ? new AuthError(error.message) : error;
}

export async function register(
  baseUrl: string,
  username: string,
  password: string,
  displayName: string,
  role: "patient" | "practitioner" = "patient",
  locale = "fr",
): Promise<UserInfo> {
  const body = { username, password, display_name: displayName, role, locale };
  const answer = (await post(baseUrl, "/v1/register", body)) as { user: UserInfo };
  return answer.user;
}

/** Log in; without `deviceId` this registers a new device. */
export async function login(
  baseUrl: string,
  username: string,
  password: string,
  options: { deviceName?: string; deviceId?: number } = {},
): Promise<Credentials> {
  const body: Record<string, unknown> = { username, password, device_name: options.deviceName ?? "" };
  if (options.deviceId !== undefined) body.device_id = options.deviceId;
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
