/**
 * Encrypted documents: crypto_secretstream in 64 KiB chunks (Python's
 * `clients/e2e/documents.py`), streamed so that a file is never held twice.
 *
 * A fresh key per file; every chunk is authenticated in order, with the
 * label "carehub-doc1" as associated data (the key is fresh per file, so a
 * chunk cannot move between files); the last one carries the FINAL tag (an
 * empty file is one empty FINAL chunk), and a stream that ends without it,
 * or goes on after it, is refused. The ciphertext's BLAKE2b-256 travels in
 * the encrypted message body (`DocumentRef.hash`).
 */
import { equal } from "./bytes.js";
import {
  Digest,
  STREAM_HEADER_BYTES,
  STREAM_OVERHEAD,
  digest,
  randomBytes,
  streamPull,
  streamPush,
} from "./crypto.js";
import { DocumentTampered } from "./errors.js";
import { DOCUMENT_CHUNK, DOCUMENT_CONTEXT, type DocumentRef } from "./structures.js";

/**
 * Bytes in any form: the whole of them, a Blob (a File from an input, read
 * a chunk at a time), or pieces of any size from an iterable or an async
 * iterable (a Node stream, a `ReadableStream` where it is async-iterable, a
 * download's chunks). Pieces are read as they come and must not be reused by
 * their producer once handed over.
 */
export type ByteSource = Uint8Array | Blob | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

const NOT_SENT = "the document's bytes are not the ones that were sent";

/**
 * A document being encrypted. Iterate it (once) for the ciphertext: the
 * stream header, then each chunk. Then `hash` and `size` are known, as
 * `attachments.begin` needs them, and `ref` describes the upload.
 *
 *     const doc = encryptDocument(file);
 *     const parts = [];
 *     for await (const part of doc) parts.push(part);
 *     // attachments.begin {thread, size: doc.size, hash: doc.hash} ...
 */
export class EncryptedDocument implements AsyncIterable<Uint8Array> {
  private started = false;
  private plaintextBytes = 0;
  private ciphertextBytes = 0;
  private finalHash: Uint8Array | null = null;

  constructor(
    private readonly source: ByteSource,
    /** The secretstream key: fresh unless given (for known-answer vectors). */
    readonly key: Uint8Array = randomBytes(32),
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    if (this.started) throw new Error("a document's ciphertext can be read once");
    this.started = true;
    const hashing = new Digest();
    const emit = (part: Uint8Array): Uint8Array => {
      hashing.update(part);
      this.ciphertextBytes += part.length;
      return part;
    };
    const stream = streamPush(this.key);
    yield emit(stream.header);
    const reader = new ByteReader(this.source);
    let chunk = await reader.read(DOCUMENT_CHUNK);
    for (;;) {
      // Only a full chunk can have another after it: read ahead to know which is FINAL.
      const next = chunk.length === DOCUMENT_CHUNK ? await reader.read(DOCUMENT_CHUNK) : null;
      const final = next === null || next.length === 0;
      this.plaintextBytes += chunk.length;
      yield emit(stream.push(chunk, DOCUMENT_CONTEXT, final));
      if (final) break;
      chunk = next;
    }
    this.finalHash = hashing.final();
  }

  /** BLAKE2b-256 of the whole ciphertext, once it has all been read. */
  get hash(): Uint8Array {
    if (this.finalHash === null) throw new Error("read the whole ciphertext before its hash");
    return this.finalHash;
  }

  /** Ciphertext bytes read so far: all of them once `hash` is known. */
  get size(): number {
    return this.ciphertextBytes;
  }

  /** What goes in the message body, once the server named the upload `file`. */
  ref(file: string, mime: string, name: string): DocumentRef {
    return { file, key: this.key, size: this.plaintextBytes, mime, name, hash: this.hash };
  }
}

export function encryptDocument(source: ByteSource, key?: Uint8Array): EncryptedDocument {
  return new EncryptedDocument(source, key);
}

/**
 * The plaintext of a document, chunk by chunk.
 *
 * Given the whole ciphertext, its hash is checked before anything is
 * decrypted, as Python does. Given pieces (a download in progress), each
 * chunk still authenticates before it is yielded, but the hash, a missing
 * end and bytes after the end can only be found at the end: the iteration
 * then throws `DocumentTampered`, and whatever was yielded must be thrown
 * away. Only an iteration that completes has given the document.
 */
export async function* decryptDocument(
  source: ByteSource,
  key: Uint8Array,
  expectedHash: Uint8Array,
): AsyncGenerator<Uint8Array> {
  const whole = source instanceof Uint8Array;
  if (whole && !equal(digest(source), expectedHash)) throw new DocumentTampered(NOT_SENT);
  const hashing = whole ? null : new Digest();
  const reader = new ByteReader(source);
  const read = async (size: number): Promise<Uint8Array> => {
    const bytes = await reader.read(size);
    hashing?.update(bytes);
    return bytes;
  };
  const header = await read(STREAM_HEADER_BYTES);
  if (header.length < STREAM_HEADER_BYTES) throw new DocumentTampered("the document is truncated");
  const stream = streamPull(header, key);
  let final = false;
  for (;;) {
    const chunk = await read(DOCUMENT_CHUNK + STREAM_OVERHEAD);
    if (chunk.length === 0) break;
    if (final) throw new DocumentTampered("bytes after the final chunk");
    const pulled = stream.pull(chunk, DOCUMENT_CONTEXT);
    final = pulled.final;
    yield pulled.message;
  }
  if (hashing !== null && !equal(hashing.final(), expectedHash)) throw new DocumentTampered(NOT_SENT);
  if (!final) throw new DocumentTampered("the document ends before its final chunk");
}

/** Reads a `ByteSource` in pieces of the sizes asked for, copying only when
 * an asked piece spans two of the source's. */
class ByteReader {
  private readonly pieces: AsyncIterator<Uint8Array>;
  private piece: Uint8Array = new Uint8Array(0);
  private offset = 0;

  constructor(source: ByteSource) {
    this.pieces = pieces(source)[Symbol.asyncIterator]();
  }

  /** The next `size` bytes; fewer only at the end (none after it). */
  async read(size: number): Promise<Uint8Array> {
    let out: Uint8Array | null = null;
    let filled = 0;
    while (filled < size) {
      if (this.offset === this.piece.length) {
        const next = await this.pieces.next();
        if (next.done) break;
        this.piece = next.value;
        this.offset = 0;
        continue;
      }
      const part = this.piece.subarray(this.offset, this.offset + size - filled);
      this.offset += part.length;
      if (out === null && part.length === size) return part;
      out ??= new Uint8Array(size);
      out.set(part, filled);
      filled += part.length;
    }
    return out === null ? new Uint8Array(0) : out.subarray(0, filled);
  }
}

async function* pieces(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
  } else if (typeof Blob !== "undefined" && source instanceof Blob) {
    for (let offset = 0; offset < source.size; offset += DOCUMENT_CHUNK)
      yield new Uint8Array(await source.slice(offset, offset + DOCUMENT_CHUNK).arrayBuffer());
  } else {
    yield* source as Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  }
}
