import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MultipartEtagHasher } from "@toolkit/shared";

/** What we know about the local file's content, valid while its fingerprint (size, mtime, ctime, inode) holds. */
export interface LocalHash {
  size: number;
  fingerprint: string;
  sha256: string;
  md5: string;
  /** Multipart ETag of the content for `partSizeBytes` (only for files above the multipart threshold). */
  multipart?: { partSizeBytes: number; etag: string };
}

/** The remote version the local file was last synced with (downloaded from or uploaded to). */
export interface SyncedVersion {
  etag: string;
  size: number;
  /** SHA-256 of the content both sides had at that moment; `""` when unknown (an upload whose result could not be checked). */
  sha256: string;
}

/** The state kept for one local path: `<cacheDir>/.s3kit-state/<sha256(localPath)>.json`. */
export interface FileState {
  version: 1;
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
    if (state.version !== 1 || state.url !== url || state.localPath !== localPath) return undefined;
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
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  const size = Number(st.size);
  const mp = size > multipart.thresholdBytes ? new MultipartEtagHasher(multipart.partSizeBytes) : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) })) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
    mp?.update(chunk as Buffer);
  }
  return {
    size,
    fingerprint: fingerprintOf(st),
    sha256: sha256.digest("hex"),
    md5: md5.digest("hex"),
    ...(mp ? { multipart: { partSizeBytes: multipart.partSizeBytes, etag: mp.digest() } } : {}),
  };
}

/** A temp path beside `target` (same directory, so the final rename is atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.s3kit-${randomBytes(6).toString("hex")}.tmp`);
}
