import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MultipartEtagHasher } from "@toolkit/shared";

/** What we know about the local file's content, valid while its fingerprint (size, mtime, ctime, inode) holds. */
export interface LocalHash {
  size: number;
  fingerprint: string;
  /**
   * What identifies the content: `sha256:<hex>` for files up to the multipart threshold, `mp<partSize>:<ETag>`
   * (the multipart ETag, MD5-based) above it — one hash pass either way, the one verification needs too.
   */
  contentId: string;
  /** Hex SHA-256; `""` for files above the multipart threshold. */
  sha256: string;
  /** Hex MD5 of the whole file; `""` for files above the multipart threshold (their multipart ETag is kept instead). */
  md5: string;
  /** Multipart ETag of the content for `partSizeBytes` (only for files above the multipart threshold). */
  multipart?: { partSizeBytes: number; etag: string };
}

/** The remote version the local file was last synced with (downloaded from or uploaded to). */
export interface SyncedVersion {
  etag: string;
  size: number;
  /** {@link LocalHash.contentId} of the content both sides had then; `""` when unknown (an upload whose result could not be checked). */
  contentId: string;
}

/** The state kept for one local path: `<cacheDir>/.s3kit-state/<sha256(localPath)>.json`. */
export interface FileState {
  version: 2;
  url: string;
  localPath: string;
  synced?: SyncedVersion;
  hash?: LocalHash;
}

export const STATE_DIR_NAME = ".s3kit-state";

export function statePathFor(cacheDir: string, localPath: string): string {
  const id = createHash("sha256").update(localPath).digest("hex").slice(0, 40);
  return join(cacheDir, STATE_DIR_NAME, `${id}.json`);
}

export async function readState(path: string, url: string, localPath: string): Promise<FileState | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as FileState;
    // A state for another URL bound to the same path says nothing about this object.
    if (state.version !== 2 || state.url !== url || state.localPath !== localPath) return undefined;
    return state;
  } catch {
    return undefined; // a torn or foreign file: start over (costs one download or hash, never correctness)
  }
}

/** Write the state atomically (temp file + rename), so a crash never leaves half a JSON document. */
export async function writeState(path: string, state: FileState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, JSON.stringify(state));
  await rename(temp, path);
}

export async function removeState(path: string): Promise<void> {
  await rm(path, { force: true });
}

export function fingerprintOf(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
}

export async function statLocal(path: string): Promise<BigIntStats | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return st.isFile() ? st : undefined;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
}

/** MD5, SHA-256 and (for files above the threshold) the multipart ETag of a file, in one pass. */
export async function hashFile(
  path: string,
  st: BigIntStats,
  multipart: { partSizeBytes: number; thresholdBytes: number },
  signal?: AbortSignal,
): Promise<LocalHash> {
  const hasher = new LocalHasher(Number(st.size), multipart);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) })) {
    hasher.update(chunk as Buffer);
  }
  return hasher.digest(fingerprintOf(st));
}

/** The hashes of {@link LocalHash} over a stream: SHA-256 and MD5 (small files) or the multipart ETag (large). */
export class LocalHasher {
  readonly #sha256;
  readonly #md5;
  readonly #multipart;
  readonly #partSizeBytes: number;
  #size = 0;
  constructor(expectedSize: number, multipart: { partSizeBytes: number; thresholdBytes: number }) {
    const big = expectedSize > multipart.thresholdBytes;
    this.#partSizeBytes = multipart.partSizeBytes;
    this.#md5 = big ? undefined : createHash("md5");
    this.#sha256 = big ? undefined : createHash("sha256");
    this.#multipart = big ? new MultipartEtagHasher(multipart.partSizeBytes) : undefined;
  }
  update(chunk: Uint8Array): void {
    this.#sha256?.update(chunk);
    this.#md5?.update(chunk);
    this.#multipart?.update(chunk);
    this.#size += chunk.length;
  }
  digest(fingerprint: string): LocalHash {
    const sha256 = this.#sha256?.digest("hex") ?? "";
    const multipart = this.#multipart
      ? { partSizeBytes: this.#partSizeBytes, etag: this.#multipart.digest() }
      : undefined;
    return {
      size: this.#size,
      fingerprint,
      contentId: contentIdOf(sha256, multipart),
      sha256,
      md5: this.#md5?.digest("hex") ?? "",
      ...(multipart ? { multipart } : {}),
    };
  }
}

/** See {@link LocalHash.contentId}. */
export function contentIdOf(sha256: string, multipart: { partSizeBytes: number; etag: string } | undefined): string {
  return multipart ? `mp${multipart.partSizeBytes}:${multipart.etag}` : `sha256:${sha256}`;
}

/** A temp path beside `target` (same directory, so the final rename is atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.s3kit-${randomBytes(6).toString("hex")}.tmp`);
}
