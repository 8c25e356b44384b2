import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";

/** S3's limits on multipart uploads: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

async function hashStream(stream: Readable, algorithm: "md5" | "sha256", signal?: AbortSignal): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of stream) {
    signal?.throwIfAborted();
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

/** Hex MD5 of a file, read as a stream (memory stays at one 64 KiB chunk). */
export function md5File(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  return hashStream(createReadStream(path, { signal: options.signal }), "md5", options.signal);
}

/** Hex SHA-256 of a file, read as a stream. */
export function sha256File(path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  return hashStream(createReadStream(path, { signal: options.signal }), "sha256", options.signal);
}

/** Hex digest of bytes. */
export function hashBytes(bytes: Uint8Array | string, algorithm: "md5" | "sha256" = "sha256"): string {
  return createHash(algorithm).update(bytes).digest("hex");
}

/**
 * Computes MD5, SHA-256 and the S3 multipart ETag of a stream in one pass.
 * The multipart ETag is `md5(concat(md5(part_i)))-<parts>` for the given part size.
 */
export class MultipartEtagHasher {
  readonly #partSizeBytes: number;
  #part: Hash;
  #partFill = 0;
  #partDigests: Buffer[] = [];
  #total = 0;
  constructor(partSizeBytes: number) {
    if (!Number.isInteger(partSizeBytes) || partSizeBytes < 1) {
      throw new TypeError(`Expected \`partSizeBytes\` to be a positive integer, got \`${partSizeBytes}\``);
    }
    this.#partSizeBytes = partSizeBytes;
    this.#part = createHash("md5");
  }
  update(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#partSizeBytes - this.#partFill, chunk.length - offset);
      this.#part.update(chunk.subarray(offset, offset + take));
      this.#partFill += take;
      offset += take;
      if (this.#partFill === this.#partSizeBytes) {
        this.#partDigests.push(this.#part.digest());
        this.#part = createHash("md5");
        this.#partFill = 0;
      }
    }
    this.#total += chunk.length;
  }
  /** The ETag with quotes, as S3 returns it. A body of one part or less gives the plain MD5 form. */
  digest(): string {
    if (this.#partFill > 0 || this.#partDigests.length === 0) this.#partDigests.push(this.#part.digest());
    if (this.#partDigests.length === 1 && this.#total <= this.#partSizeBytes) {
      return `"${this.#partDigests[0]!.toString("hex")}"`;
    }
    const combined = createHash("md5").update(Buffer.concat(this.#partDigests)).digest("hex");
    return `"${combined}-${this.#partDigests.length}"`;
  }
}

/**
 * The multipart ETag (quoted) from the MD5 digests of the parts, in part order: what S3 answers for those parts.
 * Lets parts be hashed in any order (each on the read that sends it) and combined at the end. One part gives
 * the plain MD5 form, as {@link MultipartEtagHasher} does for a body of one part.
 */
export function combinePartMd5s(partMd5s: readonly Uint8Array[]): string {
  if (partMd5s.length === 1) return `"${Buffer.from(partMd5s[0]!).toString("hex")}"`;
  const combined = createHash("md5");
  for (const digest of partMd5s) combined.update(digest);
  return `"${combined.digest("hex")}-${partMd5s.length}"`;
}

/**
 * The ETag S3 gives a file uploaded in parts of `partSizeBytes` (quoted, `"<hex>-<parts>"`).
 * Note: S3 reports a plain MD5 for a body uploaded in one PUT; pass `forceMultipart` to get the
 * `-1` form a one-part multipart upload has.
 */
export async function multipartEtag(
  path: string,
  partSizeBytes: number,
  options: { signal?: AbortSignal; forceMultipart?: boolean } = {},
): Promise<string> {
  const hasher = new MultipartEtagHasher(partSizeBytes);
  const parts: Buffer[] = [];
  for await (const chunk of createReadStream(path, { signal: options.signal })) {
    hasher.update(chunk as Buffer);
    if (options.forceMultipart) parts.push(chunk as Buffer);
  }
  const etag = hasher.digest();
  if (options.forceMultipart && !etag.includes("-")) {
    const md5 = createHash("md5")
      .update(createHash("md5").update(Buffer.concat(parts)).digest())
      .digest("hex");
    return `"${md5}-1"`;
  }
  return etag;
}

/** Strip the quotes of an ETag: `"abc-2"` → `abc-2`. */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** Number of parts an S3 ETag says the object was uploaded in (1 for a plain MD5 ETag). */
export function etagPartCount(etag: string): number {
  const match = /-(\d+)$/.exec(unquoteEtag(etag));
  return match ? Number(match[1]) : 1;
}
