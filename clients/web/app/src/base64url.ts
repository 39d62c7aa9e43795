/** base64url without padding: how a new device's approval request travels
 * from its screen to the approving one (a QR code, or text to copy). */

export function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The bytes `text` spells in base64url (spaces and line breaks ignored), or null. */
export function fromBase64Url(text: string): Uint8Array | null {
  const compact = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9_-]+$/.test(compact) || compact.length % 4 === 1) return null;
  const binary = atob(compact.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(compact.length / 4) * 4, "="));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
