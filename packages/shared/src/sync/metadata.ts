// The one definition of the object metadata every s3kit sync writes and reads. Values that come back from a
// store are untrusted: they are parsed here, once, before they decide anything.
import { isSha256Hex, type Sha256Hex } from "../trust/remote-input.ts";

/** The local mtime in Unix seconds with millisecond decimals (`"1717243200.123"`): the format rclone reads too. */
export const META_MTIME = "mtime";
/** Part size in bytes of a multipart upload, so the multipart ETag can be recomputed locally. */
export const META_PART_SIZE = "s3kit-part-size";
/** Hex SHA-256 of the whole content, when it was known before the upload. */
export const META_SHA256 = "s3kit-sha256";

/** The metadata to store with an object uploaded from a local file. */
export function syncMetadata(file: {
  mtimeMs: number;
  partSizeBytes?: number;
  sha256?: string;
}): Record<string, string> {
  const out: Record<string, string> = { [META_MTIME]: (file.mtimeMs / 1000).toFixed(3) };
  if (file.partSizeBytes !== undefined) out[META_PART_SIZE] = String(file.partSizeBytes);
  if (file.sha256 !== undefined) out[META_SHA256] = file.sha256;
  return out;
}

/** What stored metadata says, parsed: fields that are missing or malformed are left out (never trusted). */
export interface ParsedSyncMetadata {
  /** The source file's mtime in ms since the epoch. */
  mtimeMs?: number;
  partSizeBytes?: number;
  sha256?: Sha256Hex;
}

const MAX_PART_SIZE_BYTES = 5 * 1024 * 1024 * 1024;

/** Parse the `s3kit-*` and `mtime` metadata of an object. Malformed values are ignored, not thrown. */
export function parseSyncMetadata(metadata: Record<string, string> | undefined): ParsedSyncMetadata {
  const out: ParsedSyncMetadata = {};
  if (!metadata) return out;
  const mtime = metadata[META_MTIME];
  if (typeof mtime === "string" && /^\d{1,12}(\.\d{1,9})?$/.test(mtime)) {
    const ms = Math.round(Number(mtime) * 1000);
    if (Number.isSafeInteger(ms)) out.mtimeMs = ms;
  }
  const part = metadata[META_PART_SIZE];
  if (typeof part === "string" && /^\d{1,11}$/.test(part)) {
    const n = Number(part);
    if (n > 0 && n <= MAX_PART_SIZE_BYTES) out.partSizeBytes = n;
  }
  const sha = metadata[META_SHA256]?.toLowerCase();
  if (isSha256Hex(sha)) out.sha256 = sha;
  return out;
}
