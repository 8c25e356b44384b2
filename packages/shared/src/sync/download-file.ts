import { createHash, type Hash } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ObjectStoreError } from "../errors.ts";
import { etagPartCount, MultipartEtagHasher, unquoteEtag } from "../hashing.ts";
import type { ObjectStore } from "../object-store.ts";
import { parseSha256Hex } from "../trust/remote-input.ts";
import { META_SHA256, parseSyncMetadata } from "./metadata.ts";
import { partialPathFor } from "./partial-files.ts";
import { writeBodyAt } from "./write-body.ts";

const MiB = 1024 * 1024;
/** Part sizes tried for a multipart ETag when the object does not record its own: the common tools' defaults. */
const COMMON_PART_SIZES = [8 * MiB, 16 * MiB, 5 * MiB, 15 * MiB, 64 * MiB];

/** How a downloaded file was verified before it was moved into place. */
export type Verification = "sha256" | "md5" | "multipart" | "none";

/** The result of {@link downloadFile}. */
export interface DownloadResult {
  /** The ETag of the object read. */
  etag: string;
  size: number;
  /** The mtime given to the local file: the stored `mtime` metadata, else the object's LastModified. */
  mtimeMs: number;
  verified: Verification;
}

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions {
  signal?: AbortSignal;
  /** Bytes of this object written so far. */
  onBytes?: (loadedBytes: number) => void;
  /** Folders known to exist (a run shares one): each is created once, not once per file. */
  createdFolders?: Set<string>;
}

/**
 * Download one object to a local file, safely: the body goes to a partial file beside the target (never
 * more bytes than the object declares), is verified (the `s3kit-sha256` metadata when present, else the
 * MD5 ETag, else the multipart ETag for the recorded or a common part size), gets the stored mtime, and
 * only then is renamed over the target (atomic). On any failure the partial file is removed and the
 * target is left as it was.
 * @throws ObjectStoreError `invalidRemoteData` when the content does not match its checksum or size.
 */
export async function downloadFile(
  store: ObjectStore,
  key: string,
  target: string,
  options: DownloadFileOptions = {},
): Promise<DownloadResult> {
  const { signal } = options;
  const object = await store.get(key, signal ? { signal } : {});
  const what = `${store.url}${store.url.endsWith("/") ? "" : "/"}${key}`;
  const meta = parseSyncMetadata(object.metadata);
  // A checksum that is there but is no SHA-256 (a path, garbage) is not silently skipped: the file could not be
  // verified as its uploader meant, so it is a failed item. Other malformed values are only ignored.
  const claimed = object.metadata[META_SHA256];
  if (claimed !== undefined && meta.sha256 === undefined) {
    object.body.destroy();
    parseSha256Hex(claimed, `Metadata ${META_SHA256} of ${what}`);
  }
  const size = object.size;
  const etag = unquoteEtag(object.etag).toLowerCase();
  const multipart = etag.includes("-");
  const parts = etagPartCount(object.etag);
  // An MD5 ETag only when S3 computed it from the content: not with SSE-KMS/SSE-C.
  const etagIsContentHash = object.serverSideEncryption === undefined || object.serverSideEncryption === "AES256";
  const sha256: Hash | undefined = meta.sha256 ? createHash("sha256") : undefined;
  const md5: Hash | undefined = !meta.sha256 && !multipart && etagIsContentHash ? createHash("md5") : undefined;
  const candidates =
    !meta.sha256 && multipart && etagIsContentHash
      ? [...new Set([...(meta.partSizeBytes ? [meta.partSizeBytes] : COMMON_PART_SIZES)])]
          .filter((p) => Math.ceil(size / p) === parts || (size === 0 && parts === 1))
          .map((p) => new MultipartEtagHasher(p))
      : [];
  // Each byte is hashed once, as it arrives, by what verification needs (one digest, or the part-size candidates).
  const onChunk = (chunk: Buffer) => {
    sha256?.update(chunk);
    md5?.update(chunk);
    for (const hasher of candidates) hasher.update(chunk);
  };

  const folder = dirname(target);
  const partial = partialPathFor(target);
  let file: FileHandle | undefined;
  try {
    if (!options.createdFolders?.has(folder)) {
      await mkdir(folder, { recursive: true });
      options.createdFolders?.add(folder);
    }
    file = await open(partial, "wx", 0o644);
    const written = await writeBodyAt(object.body, file, 0, size, what, {
      onChunk,
      ...(signal ? { signal } : {}),
      ...(options.onBytes ? { onBytes: options.onBytes } : {}),
    });
    if (written !== size) {
      throw new ObjectStoreError(
        "invalidRemoteData",
        `${what} ended after ${written} of its declared ${size} bytes; it was not written.`,
        { key },
      );
    }
    let verified: Verification = "none";
    const mismatch = (how: string) =>
      new ObjectStoreError(
        "invalidRemoteData",
        `${what} does not match its ${how}: it changed after it was stored, or is corrupt; the local file was not written.`,
        { key },
      );
    if (sha256 && meta.sha256) {
      if (sha256.digest("hex") !== meta.sha256) throw mismatch("SHA-256 (s3kit-sha256 metadata)");
      verified = "sha256";
    } else if (md5) {
      if (md5.digest("hex") !== etag) throw mismatch("MD5 (ETag)");
      verified = "md5";
    } else if (candidates.length > 0) {
      const match = candidates.some((hasher) => unquoteEtag(hasher.digest()) === etag);
      // With the part size the upload recorded, a miss is a mismatch; with guessed sizes it only means unknown.
      if (match) verified = "multipart";
      else if (meta.partSizeBytes) throw mismatch("multipart ETag");
    }
    const mtimeMs = meta.mtimeMs ?? object.lastModified.getTime();
    // futimes on the open file, then close: one path lookup fewer than utimes by name.
    await file.utimes(new Date(), new Date(mtimeMs));
    const closing = file;
    file = undefined;
    await closing.close();
    signal?.throwIfAborted();
    await rename(partial, target);
    return { etag: object.etag, size, mtimeMs, verified };
  } catch (error) {
    object.body.destroy();
    await file?.close().catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
}
