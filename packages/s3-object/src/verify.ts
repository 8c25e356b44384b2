import { createHash, type Hash } from "node:crypto";
import {
  etagPartCount,
  isObjectStoreError,
  MIN_PART_SIZE_BYTES,
  MultipartEtagHasher,
  parseSha256Hex,
  parseSize,
  type Sha256Hex,
  unquoteEtag,
} from "@toolkit/shared";
import { S3ObjectError } from "./errors.ts";
import type { VerifyMode } from "./options.ts";

/** User metadata we write on upload: the SHA-256 of the body, and the part size of a multipart upload. */
export const SHA256_METADATA = "s3kit-sha256";
export const PART_SIZE_METADATA = "s3kit-part-size";

/** S3's largest part: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MAX_PART_SIZE_BYTES = 5 * 1024 * 1024 * 1024;

/** Our metadata of a remote object after the trust boundary: absent values are `undefined`. */
export interface ObjectMetadata {
  sha256?: Sha256Hex;
  partSizeBytes?: number;
}

/**
 * Parse the `s3kit-*` metadata an object carries. A value that is present but malformed (a path where a
 * SHA-256 belongs, a part size that is not a number) means the object is corrupt or was crafted: the download
 * fails rather than falling back to a weaker check. An absent value is fine (objects written by other tools).
 * @throws S3ObjectError `object.integrity` naming the key, the value and why.
 */
export function parseObjectMetadata(metadata: Record<string, string>, what: string): ObjectMetadata {
  const sha = metadata[SHA256_METADATA];
  const part = metadata[PART_SIZE_METADATA];
  try {
    return {
      ...(sha !== undefined ? { sha256: parseSha256Hex(sha, `The ${SHA256_METADATA} metadata of ${what}`) } : {}),
      ...(part !== undefined
        ? { partSizeBytes: parseSize(part, `The ${PART_SIZE_METADATA} metadata of ${what}`, MAX_PART_SIZE_BYTES) }
        : {}),
    };
  } catch (error) {
    if (!isObjectStoreError(error, "invalidRemoteData")) throw error;
    throw new S3ObjectError(
      "object.integrity",
      `Download of ${what} refused: ${error.message.replace(/\.$/, "")}; the object is corrupt or hostile, and nothing was written.`,
      { cause: error },
    );
  }
}

/** How a download was checked: our SHA-256 metadata, the single-part MD5 ETag, the multipart ETag, or not at all. */
export type Verification = "sha256" | "md5" | "multipartEtag" | "none";

/**
 * Whether a server's answer is an S3 multipart ETag — the quoted hex MD5 of the part MD5s, `-`, the part count — of
 * exactly `partCount` parts (an upload takes it as the content id of what it sent; anything else is not trusted).
 */
export function isMultipartEtagOf(etag: string, partCount: number): boolean {
  const match = /^"[0-9a-f]{32}-([1-9][0-9]{0,4})"$/.exec(etag);
  return match !== null && Number(match[1]) === partCount;
}

const MiB = 1024 * 1024;
/** Part sizes common tools use (aws cli / s3transfer 8 MiB, lib-storage and rclone 5 MiB, mc 16 MiB, …). */
const COMMON_PART_SIZES_MIB = [8, 5, 16, 15, 10, 25, 32, 50, 64, 100, 128, 256, 512];
const MAX_CANDIDATES = 4;

/**
 * Part sizes that could have produced `etag` for an object of `size` bytes: the one recorded in our metadata,
 * then the common ones, then whole-MiB sizes implied by the part count. Only sizes that give exactly the
 * ETag's part count are kept.
 */
export function partSizeCandidates(
  size: number,
  etag: string,
  metadata: Record<string, string>,
  what = "the object",
): number[] {
  const parts = etagPartCount(etag);
  if (!unquoteEtag(etag).includes("-") || parts < 1) return [];
  // Every part but the last is at least 5 MiB on S3.
  const fits = (p: number) => (parts === 1 || p >= MIN_PART_SIZE_BYTES) && Math.ceil(size / p) === parts;
  const out: number[] = [];
  const add = (p: number) => {
    if (Number.isInteger(p) && fits(p) && !out.includes(p) && out.length < MAX_CANDIDATES) out.push(p);
  };
  const recorded = parseObjectMetadata(metadata, what).partSizeBytes;
  if (recorded !== undefined && recorded > 0) add(recorded);
  // Our own record fits the ETag: it is the part size (a recorded size that lies fails verification, as it should).
  if (out.length === 1) return out;
  for (const mib of COMMON_PART_SIZES_MIB) add(mib * MiB);
  if (parts > 1) {
    add(Math.ceil(size / parts / MiB) * MiB);
    add(Math.max(MIN_PART_SIZE_BYTES, Math.ceil(size / parts)));
  }
  return out;
}

/** Hashes a body in order: MD5, SHA-256 and the multipart ETag for each candidate part size. */
export class BodyHasher {
  readonly #md5: Hash | undefined;
  readonly #sha256: Hash | undefined;
  readonly #multipart: { partSizeBytes: number; hasher: MultipartEtagHasher }[];
  #bytes = 0;
  constructor(partSizes: number[], options: { md5?: boolean; sha256?: boolean } = {}) {
    this.#md5 = options.md5 === false ? undefined : createHash("md5");
    this.#sha256 = options.sha256 === false ? undefined : createHash("sha256");
    this.#multipart = partSizes.map((partSizeBytes) => ({
      partSizeBytes,
      hasher: new MultipartEtagHasher(partSizeBytes),
    }));
  }
  update(chunk: Uint8Array): void {
    this.#md5?.update(chunk);
    this.#sha256?.update(chunk);
    for (const m of this.#multipart) m.hasher.update(chunk);
    this.#bytes += chunk.length;
  }
  get bytes(): number {
    return this.#bytes;
  }
  digest(): { md5: string; sha256: string; multipart: { partSizeBytes: number; etag: string }[] } {
    return {
      md5: this.#md5?.digest("hex") ?? "",
      sha256: this.#sha256?.digest("hex") ?? "",
      multipart: this.#multipart.map((m) => ({ partSizeBytes: m.partSizeBytes, etag: m.hasher.digest() })),
    };
  }
}

/**
 * Check downloaded bytes against what the object says about itself.
 * @throws S3ObjectError `object.integrity` on a mismatch (or, in `strict` mode, when nothing can be checked).
 */
export function verifyBody(
  mode: VerifyMode,
  what: string,
  remote: { etag: string; size: number; metadata: Record<string, string>; serverSideEncryption?: string },
  digest: ReturnType<BodyHasher["digest"]>,
  bytes: number,
): Verification {
  const fail = (why: string) =>
    new S3ObjectError(
      "object.integrity",
      `Download of ${what} failed verification: ${why}; the cached copy was left unchanged. Retry; if it persists the stored object is damaged.`,
    );
  if (bytes !== remote.size) throw fail(`received ${bytes} bytes, expected ${remote.size}`);
  if (mode === "none") return "none";
  const parsed = parseObjectMetadata(remote.metadata, what);
  const sha = parsed.sha256;
  if (sha !== undefined) {
    if (sha !== digest.sha256) throw fail(`SHA-256 ${digest.sha256} differs from the stored ${sha}`);
    return "sha256";
  }
  const etag = unquoteEtag(remote.etag);
  // With SSE-KMS (aws:kms, aws:kms:dsse) the ETag is not derived from the body's MD5: a mismatch proves
  // nothing, so `auto` accepts it unverified. (SSE-C objects cannot be read without their key at all.)
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html — "ETag"
  const kms = mode === "auto" && /^aws:kms/i.test(remote.serverSideEncryption ?? "");
  if (/^[0-9a-f]{32}$/i.test(etag)) {
    if (etag.toLowerCase() === digest.md5) return "md5";
    if (kms) return "none";
    throw fail(`MD5 ${digest.md5} differs from the ETag ${etag}`);
  }
  if (/^[0-9a-f]{32}-\d+$/i.test(etag)) {
    if (digest.multipart.some((m) => unquoteEtag(m.etag) === etag.toLowerCase())) return "multipartEtag";
    if (kms) return "none";
    if (mode === "strict" || digest.multipart.some((m) => parsed.partSizeBytes === m.partSizeBytes)) {
      throw fail(
        `the multipart ETag ${etag} matches none of the part sizes tried (${digest.multipart.map((m) => m.partSizeBytes).join(", ") || "none fits"})`,
      );
    }
    return "none";
  }
  if (mode === "strict")
    throw fail(`the ETag ${etag} is not an MD5 (SSE-KMS?) and the object has no ${SHA256_METADATA} metadata`);
  return "none";
}
