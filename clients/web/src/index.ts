/** carehub's JavaScript SDK: accounts over HTTP, one WebSocket per device. */
export { AuthError, CallError, CarehubError, Disconnected, type ErrorCode } from "./errors.js";
export {
  forgotPassword,
  login,
  logout,
  register,
  resetPassword,
  totpConfirm,
  totpDisable,
  totpEnrol,
  type Credentials,
  type Role,
  type UserInfo,
} from "./http.js";
export {
  Client,
  UNREADABLE,
  backoffMs,
  otherUrl,
  type ClientEvent,
  type ClientOptions,
  type ClientStats,
  type SendOptions,
  type SendResult,
  type Unreadable,
  type WebSocketClass,
} from "./client.js";
export { CloseCode, SUBPROTOCOL, decodeFrames, encodeFrame, shouldReconnect } from "./wire.js";
export type { Limits, ServerFrame, Welcome } from "./wire.js";
export {
  Secure,
  type BroadcastResult,
  type MessageData,
  type Notice,
  type SecureOptions,
  type SecureSendOptions,
  type Template,
} from "./secure.js";
export { TemplateError, VARIABLES, render, variablesOf } from "./templates.js";
export * from "./e2e/index.js";
