/**
 * What end-to-end encryption refuses, as the Python SDK has it
 * (`clients/errors.py`). Nothing that throws one of these returns plaintext.
 *
 *     E2EError
 *     ├── UntrustedDevices   a device list failed verification
 *     │   ├── IdentityChanged    a contact's identity key is not the pinned one
 *     │   └── Rollback           an older (or conflicting) device list
 *     ├── UnknownDevice      the sender device is not in the sender's signed list
 *     ├── BadSignature
 *     ├── WrongThread        the envelope was made for another thread
 *     ├── Replay             a message id seen before in another message
 *     ├── NotForThisDevice   no content key was wrapped for this device
 *     ├── BadCommitment      the content key does not match the header's commitment
 *     ├── DecryptionFailed   a wrapped key, body or document chunk failed to open
 *     ├── NotDelegated       `actingFor` without a delegation from that user
 *     ├── DocumentTampered   a document's bytes or its end are not what was sent
 *     └── NotAnEnvelope      a server notice, not an envelope
 */
import { CarehubError } from "../errors.js";

/** A message, document or key list that must not be trusted. */
export class E2EError extends CarehubError {
  override name = "E2EError";
}

export class UntrustedDevices extends E2EError {
  override name = "UntrustedDevices";
}

/** Sending to (and reading from) `user` stops until the app shows the change
 * and acknowledges it (`Trust.acknowledge`). */
export class IdentityChanged extends UntrustedDevices {
  override name = "IdentityChanged";
  constructor(readonly user: number) {
    super(`user ${user} has a new identity key: verify it before going on`);
  }
}

export class Rollback extends UntrustedDevices {
  override name = "Rollback";
}

export class UnknownDevice extends E2EError {
  override name = "UnknownDevice";
}

export class BadSignature extends E2EError {
  override name = "BadSignature";
}

export class WrongThread extends E2EError {
  override name = "WrongThread";
}

export class Replay extends E2EError {
  override name = "Replay";
}

export class NotForThisDevice extends E2EError {
  override name = "NotForThisDevice";
}

export class BadCommitment extends E2EError {
  override name = "BadCommitment";
}

export class DecryptionFailed extends E2EError {
  override name = "DecryptionFailed";
}

export class NotDelegated extends E2EError {
  override name = "NotDelegated";
}

export class DocumentTampered extends E2EError {
  override name = "DocumentTampered";
}

export class NotAnEnvelope extends E2EError {
  override name = "NotAnEnvelope";
}
