/**
 * End-to-end encryption (docs/e2e.md), byte for byte as the Python SDK's
 * `clients/e2e`: keys, signed device lists, envelopes, documents, safety
 * numbers, and where a device keeps its keys. `await ready()` first.
 */
export { equal, toHex } from "./bytes.js";
export {
  Digest,
  aeadDecrypt,
  aeadEncrypt,
  commitment,
  digest,
  encryptionKey,
  pad,
  randomBytes,
  ready,
  seal,
  sha512,
  sign,
  signingKey,
  unpad,
  unseal,
  verify,
  type EncryptionKey,
  type SigningKey,
} from "./crypto.js";
export {
  DEVICE_LIFETIME_MS,
  DeviceKeys,
  Identity,
  RENEW_BEFORE_MS,
  Trust,
  delegation,
  entryFor,
  listedFresh,
  nextList,
  type Known,
  type ListChange,
} from "./devices.js";
export { EncryptedDocument, decryptDocument, encryptDocument, type ByteSource } from "./documents.js";
export {
  openEnvelope,
  sealEnvelope,
  type OpenContext,
  type Opened,
  type Outgoing,
  type Sealed,
} from "./envelope.js";
export {
  BadCommitment,
  BadSignature,
  DecryptionFailed,
  DocumentTampered,
  E2EError,
  IdentityChanged,
  NotAnEnvelope,
  NotDelegated,
  NotForThisDevice,
  Replay,
  Rollback,
  UnknownDevice,
  UntrustedDevices,
  WrongThread,
} from "./errors.js";
export { IndexedDbKeyStore, Keyring, MemoryKeyStore, type KeyStore, type KeyringRecord } from "./keystore.js";
export { fingerprint, qrPayload, safetyNumber, verifyQr } from "./safety.js";
export {
  AD_CONTEXT,
  COMMIT_CONTEXT,
  Codec,
  DEVICE_LIST_CONTEXT,
  DOCUMENT_CHUNK,
  DOCUMENT_CONTEXT,
  ENVELOPE_VERSION,
  MAX_INT,
  PAD_BLOCK,
  QR_VERSION,
  SAFETY_ITERATIONS,
  SAFETY_VERSION,
  SIGNATURE_CONTEXT,
  Scope,
  StructureError,
  allows,
  codecs,
  decodeDeviceList,
  decodeEnvelope,
  type Body,
  type Delegate,
  type DeviceEntry,
  type DeviceList,
  type DeviceRequest,
  type DocumentRef,
  type Envelope,
  type Header,
  type QrPayload,
  type Recipient,
  type SignedDeviceList,
} from "./structures.js";
