import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { MAX_PARTS, MultipartEtagHasher } from "../hashing.ts";

const MiB = 1024 * 1024;

/** The part size used for a file: the configured one, raised (in whole MiB) so the file fits in 10,000 parts. */
export function partSizeFor(sizeBytes: number, partSizeBytes: number): number {
  const needed = Math.ceil(sizeBytes / MAX_PARTS / MiB) * MiB;
  return Math.max(partSizeBytes, needed);
}

export interface LocalHashes {
  md5: string;
  sha256: string;
  /** The S3 multipart ETag (quoted) for `partSizeBytes`. */
  multipartEtag: string;
  partSizeBytes: number;
}

/** MD5, SHA-256 and the multipart ETag of a file in one streaming pass (memory: one 1 MiB chunk). */
export async function hashLocalFile(path: string, partSizeBytes: number, signal?: AbortSignal): Promise<LocalHashes> {
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  const multipart = new MultipartEtagHasher(partSizeBytes);
  for await (const chunk of createReadStream(path, { highWaterMark: MiB, ...(signal ? { signal } : {}) })) {
    const bytes = chunk as Buffer;
    md5.update(bytes);
    sha256.update(bytes);
    multipart.update(bytes);
  }
  return { md5: md5.digest("hex"), sha256: sha256.digest("hex"), multipartEtag: multipart.digest(), partSizeBytes };
}

/** Multipart ETag of a file for a given part size (when the object used another part size than ours). */
export async function multipartEtagOf(path: string, partSizeBytes: number, signal?: AbortSignal): Promise<string> {
  const multipart = new MultipartEtagHasher(partSizeBytes);
  for await (const chunk of createReadStream(path, { highWaterMark: MiB, ...(signal ? { signal } : {}) })) {
    multipart.update(chunk as Buffer);
  }
  return multipart.digest();
}
