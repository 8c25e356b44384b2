import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from "node:crypto";
import { type BigIntStats, createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rename, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type CacheDirectoryOptions,
  cacheDirectory,
  isSha256Hex,
  type Logger,
  type Sha256Hex,
  silentLogger,
} from "@toolkit/shared";
import { DeltaError } from "./errors.ts";

const MAGIC = Buffer.from("S3KDC1\0\0", "latin1");
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A plaintext entry's file name: exactly a SHA-256 (an encrypted one adds `.enc`). */
const PLAIN_ENTRY = /^[0-9a-f]{64}$/;

export interface ReferenceCacheOptions {
  /** Directory of the cache. @default {@link defaultCacheDir}: `$XDG_CACHE_HOME/s3kit/delta-references` or `~/.cache/s3kit/delta-references` (Linux), `~/Library/Caches/s3kit/delta-references` (macOS), `%LOCALAPPDATA%\s3kit\Cache\delta-references` (Windows) */
  dir?: string;
  /** Size cap in bytes; least recently used references are evicted beyond it. `0` keeps nothing between operations. @default 2 GiB */
  maxBytes?: number;
  /**
   * Name of the environment variable holding the AES-256-GCM key (64 hex characters or 32 bytes in base64).
   * When the variable is set, cached references are encrypted at rest. @default "S3KIT_DELTA_CACHE_KEY"
   */
  encryptionKeyEnv?: string;
}

/**
 * How long a plaintext entry this instance verified is trusted without re-hashing, while its stamp (device,
 * inode, size, mtime, ctime) is unchanged. After it the entry is hashed (and touched, for the LRU) again.
 */
const VERIFIED_TRUST_MS = 60_000;

/** What identifies a cache entry's bytes without reading them. */
interface EntryStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** Test hooks (not part of the package's API). */
export interface ReferenceCacheHooks {
  /** Called each time a plaintext cache entry is read to check its SHA-256. */
  onEntryHash?: (sha256: Sha256Hex) => void;
}

/** A reference ready for an engine: a plaintext file, valid until `release()`. */
export interface AcquiredReference {
  path: string;
  size: number;
  release(): Promise<void>;
}

export const DEFAULT_CACHE_MAX_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * `delta-references` in s3kit's one cache directory (`@toolkit/shared`'s `cacheDirectory`): `$XDG_CACHE_HOME/s3kit`
 * or `~/.cache/s3kit` on Linux, `~/Library/Caches/s3kit` on macOS, `%LOCALAPPDATA%\s3kit\Cache` on Windows.
 */
export function defaultCacheDir(options: CacheDirectoryOptions = {}): string {
  return cacheDirectory(["delta-references"], options);
}

function parseKey(envName: string): Buffer | undefined {
  const raw = process.env[envName];
  if (raw === undefined || raw === "") return undefined;
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, "hex") : Buffer.from(raw, "base64");
  if (key.length !== 32) {
    // Never echo the value: it is a secret.
    throw new DeltaError(
      "delta.invalidOptions",
      `The cache key in \`${envName}\` must be 32 bytes (64 hex characters or base64); unset it to disable encryption.`,
    );
  }
  return key;
}

/**
 * Content-addressed cache of references (`<dir>/ab/cd/<sha256>`), verified by SHA-256 on every use, with a
 * size-capped LRU (file mtime = last use) and optional AES-256-GCM at rest. With encryption the plaintext
 * exists only in a private temp file (mode 0600 in a 0700 directory) for the length of one operation.
 */
export class ReferenceCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #key: Buffer | undefined;
  readonly #logger: Logger;
  readonly #pinned = new Map<string, number>();
  readonly #hooks: ReferenceCacheHooks;
  /** Plaintext entries this instance verified (hashed, or wrote from hashed bytes): their stamp then. */
  readonly #verified = new Map<string, EntryStamp & { at: number }>();
  #workDir: Promise<string> | undefined;
  #plaintextPurged: Promise<void> | undefined;

  constructor(options: ReferenceCacheOptions = {}, logger: Logger = silentLogger, hooks: ReferenceCacheHooks = {}) {
    this.dir = options.dir ?? defaultCacheDir();
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.#key = parseKey(options.encryptionKeyEnv ?? "S3KIT_DELTA_CACHE_KEY");
    this.#logger = logger;
    this.#hooks = hooks;
  }

  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  /**
   * Where the entry for a SHA-256 lives. Only a validated digest (64 lowercase hex, from `parseSha256Hex`)
   * becomes a path, and the path is checked to lie inside the cache directory.
   * @throws DeltaError `delta.integrity` for anything else (a hash taken from metadata that is a path).
   */
  entryPath(sha256: Sha256Hex): string {
    if (!isSha256Hex(sha256)) {
      throw new DeltaError(
        "delta.integrity",
        `${JSON.stringify(String(sha256).slice(0, 120))} is not a SHA-256 (64 lowercase hex characters); it cannot name a cache entry.`,
      );
    }
    const entry = join(this.dir, sha256.slice(0, 2), sha256.slice(2, 4), this.#key ? `${sha256}.enc` : sha256);
    const rel = relative(resolve(this.dir), resolve(entry));
    if (rel.startsWith("..") || rel === "") {
      throw new DeltaError("delta.integrity", `The cache entry for ${sha256} would lie outside ${this.dir}.`);
    }
    return entry;
  }

  /** A private directory for temp files (plaintext references, spooled deltas). */
  workDir(): Promise<string> {
    this.#workDir ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), "s3kit-delta-"));
      return dir;
    })();
    return this.#workDir;
  }

  async tempPath(suffix = ""): Promise<string> {
    return join(await this.workDir(), `${randomUUID()}${suffix}`);
  }

  /**
   * A verified plaintext copy of the reference with this SHA-256: from the cache when its entry hashes right,
   * else fetched with `fetch(sink)` (and cached). A corrupt cache entry is deleted (by its own path, inside
   * the cache directory) and fetched again. `refresh` skips the cache and always fetches (`verify` checks the
   * stored reference, not a local copy).
   * @throws DeltaError `delta.integrity` when the fetched bytes do not hash to `sha256`.
   */
  async acquire(
    sha256: Sha256Hex,
    fetch: (sink: Writable) => Promise<void>,
    signal?: AbortSignal,
    options: { refresh?: boolean } = {},
  ): Promise<AcquiredReference> {
    this.entryPath(sha256);
    this.#pin(sha256);
    try {
      await this.#purgePlaintext();
      const cached = options.refresh ? undefined : await this.#fromCache(sha256, signal);
      if (cached) return this.#handle(sha256, cached);
      const fetched = await this.#fetch(sha256, fetch, signal);
      return this.#handle(sha256, fetched);
    } catch (error) {
      this.#unpin(sha256);
      throw error;
    }
  }

  /** Add a local file known to hash to `sha256` (the reference this process just uploaded). */
  async seed(sha256: Sha256Hex, path: string, signal?: AbortSignal): Promise<void> {
    if (this.maxBytes === 0) return;
    try {
      const entry = this.entryPath(sha256);
      await this.#purgePlaintext();
      await mkdir(dirname(entry), { recursive: true, mode: 0o700 });
      const tmp = `${entry}.${randomUUID()}.tmp`;
      if (this.#key) {
        await this.#encryptTo(createReadStream(path), tmp, sha256, signal);
        await rename(tmp, entry);
      } else {
        // Never copyFile: it keeps the source's mode (0644); cache entries are private. The copy is hashed on
        // the way: a file changed since the caller hashed it is not cached.
        const copied = await privateCopy(path, tmp, signal);
        if (copied !== sha256) {
          await rm(tmp, { force: true });
          this.#logger.warn("delta-store: the reference changed while it was copied into the cache; not cached", {
            sha256,
          });
          return;
        }
        const written = await lstat(tmp, { bigint: true });
        await rename(tmp, entry);
        await this.#remember(sha256, entry, written);
      }
      await this.#evict();
    } catch (error) {
      this.#logger.warn("delta-store: could not seed the reference cache", { error: String(error) });
    }
  }

  /**
   * With encryption on, plaintext entries written before the key was set are never served and are removed
   * (each by its own path: `<dir>/ab/cd/<64 hex>`), once per instance.
   */
  #purgePlaintext(): Promise<void> {
    if (!this.#key || this.maxBytes === 0) return Promise.resolve();
    this.#plaintextPurged ??= (async () => {
      for (const a of await readdir(this.dir).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(a)) continue;
        for (const b of await readdir(join(this.dir, a)).catch(() => [] as string[])) {
          if (!/^[0-9a-f]{2}$/.test(b)) continue;
          for (const name of await readdir(join(this.dir, a, b)).catch(() => [] as string[])) {
            if (!PLAIN_ENTRY.test(name) || !name.startsWith(a + b)) continue;
            const path = join(this.dir, a, b, name);
            const info = await lstat(path).catch(() => undefined);
            if (!info?.isFile()) continue;
            await rm(path, { force: true });
            this.#logger.info("delta-store: removed a plaintext cache entry written before encryption was on", {
              sha256: name,
            });
          }
        }
      }
    })().catch((error: unknown) => {
      this.#logger.warn("delta-store: could not sweep plaintext cache entries", { error: String(error) });
    });
    return this.#plaintextPurged;
  }

  #handle(sha256: string, plain: { path: string; size: number; temporary: boolean }): AcquiredReference {
    let released = false;
    return {
      path: plain.path,
      size: plain.size,
      release: async () => {
        if (released) return;
        released = true;
        this.#unpin(sha256);
        if (plain.temporary) await rm(plain.path, { force: true });
      },
    };
  }

  #pin(sha: string): void {
    this.#pinned.set(sha, (this.#pinned.get(sha) ?? 0) + 1);
  }
  #unpin(sha: string): void {
    const n = (this.#pinned.get(sha) ?? 1) - 1;
    if (n <= 0) this.#pinned.delete(sha);
    else this.#pinned.set(sha, n);
  }

  async #fromCache(
    sha256: Sha256Hex,
    signal?: AbortSignal,
  ): Promise<{ path: string; size: number; temporary: boolean } | undefined> {
    if (this.maxBytes === 0) return undefined;
    const entry = this.entryPath(sha256);
    // lstat: an entry that is not a regular file (a symlink planted in the cache) is never followed.
    const info = await lstat(entry, { bigint: true }).catch(() => undefined);
    if (!info) {
      this.#verified.delete(sha256);
      return undefined;
    }
    if (!info.isFile()) {
      this.#verified.delete(sha256);
      await rm(entry, { force: true });
      return undefined;
    }
    if (!this.#key) {
      // Verified by this instance and not changed since (same inode, size, mtime and ctime — a write or a
      // `utimes` behind our back changes the ctime): served without reading it again. Anything else is re-hashed.
      const known = this.#verified.get(sha256);
      if (known && Date.now() - known.at < VERIFIED_TRUST_MS && sameStamp(known, info, true)) {
        return { path: entry, size: Number(info.size), temporary: false };
      }
      this.#verified.delete(sha256);
    }
    try {
      if (this.#key) {
        const plain = await this.tempPath();
        const size = await this.#decryptTo(entry, Number(info.size), plain, sha256, signal);
        if (size === undefined) {
          await rm(plain, { force: true });
          throw new Error("authentication or hash mismatch");
        }
        await touch(entry);
        return { path: plain, size, temporary: true };
      }
      // Touch (last use, for the LRU) before the hash, and stamp around it: the stamp is remembered only when
      // nothing changed the entry while it was read.
      await touch(entry);
      const before = await lstat(entry, { bigint: true });
      this.#hooks.onEntryHash?.(sha256);
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of createReadStream(entry, signal ? { signal } : {})) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      if (hash.digest("hex") !== sha256) throw new Error("hash mismatch");
      const after = await lstat(entry, { bigint: true });
      if (before.isFile() && sameStamp(before, after, true))
        this.#verified.set(sha256, { ...stampOf(after), at: Date.now() });
      return { path: entry, size, temporary: false };
    } catch (error) {
      this.#verified.delete(sha256);
      if (signal?.aborted) throw signal.reason;
      this.#logger.warn("delta-store: cached reference failed its check; fetching it again", {
        sha256,
        error: String(error),
      });
      await rm(entry, { force: true });
      return undefined;
    }
  }

  async #fetch(
    sha256: Sha256Hex,
    fetch: (sink: Writable) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<{ path: string; size: number; temporary: boolean }> {
    const plain = await this.tempPath();
    const hash = createHash("sha256");
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const out = createWriteStream(plain, { mode: 0o600 });
    try {
      const done = pipeline(hasher, out, signal ? { signal } : {});
      done.catch(() => {});
      await fetch(hasher);
      await done;
    } catch (error) {
      await rm(plain, { force: true });
      throw error;
    }
    const actual = hash.digest("hex");
    if (actual !== sha256) {
      await rm(plain, { force: true });
      throw new DeltaError(
        "delta.integrity",
        `The stored reference hashes to ${actual}, not ${sha256} as recorded; it is corrupt (restore it or re-upload the deltaspace).`,
      );
    }
    if (this.maxBytes === 0 || size > this.maxBytes) return { path: plain, size, temporary: true };
    if (this.#key) {
      await this.seed(sha256, plain, signal);
      return { path: plain, size, temporary: true };
    }
    const entry = this.entryPath(sha256);
    await mkdir(dirname(entry), { recursive: true, mode: 0o700 });
    const written = await lstat(plain, { bigint: true });
    try {
      await rename(plain, entry);
      await this.#remember(sha256, entry, written);
    } catch {
      // Another file system (the temp directory is elsewhere): copy, hashing the copy.
      const copied = await privateCopy(plain, entry, signal);
      await rm(plain, { force: true });
      if (copied === sha256) await this.#remember(sha256, entry, await lstat(entry, { bigint: true }));
    }
    await this.#evict();
    return { path: entry, size, temporary: false };
  }

  /**
   * Trust `entry` as verified when it is still the file stamped `written` (after the bytes were hashed): same
   * device, inode, size and mtime (a rename changes the ctime on some file systems, so the stamp kept is the one
   * taken now).
   */
  async #remember(sha256: Sha256Hex, entry: string, written: BigIntStats): Promise<void> {
    const now = await lstat(entry, { bigint: true }).catch(() => undefined);
    if (now?.isFile() && written.isFile() && sameStamp(written, now, false)) {
      this.#verified.set(sha256, { ...stampOf(now), at: Date.now() });
    } else {
      this.#verified.delete(sha256);
    }
  }

  async #encryptTo(source: NodeJS.ReadableStream, path: string, sha256: string, signal?: AbortSignal): Promise<void> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key!, iv);
    cipher.setAAD(Buffer.from(sha256, "latin1"));
    const out = createWriteStream(path, { mode: 0o600 });
    out.write(Buffer.concat([MAGIC, iv]));
    await pipeline(source, cipher, out, signal ? { signal } : {});
    const handle = await open(path, "a");
    try {
      await handle.write(cipher.getAuthTag());
    } finally {
      await handle.close();
    }
  }

  /** Decrypt and hash; `undefined` when the tag or the hash does not match. */
  async #decryptTo(
    entry: string,
    entrySize: number,
    plain: string,
    sha256: string,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    if (entrySize < MAGIC.length + IV_BYTES + TAG_BYTES) return undefined;
    const handle = await open(entry, "r");
    const header = Buffer.alloc(MAGIC.length + IV_BYTES);
    const tag = Buffer.alloc(TAG_BYTES);
    try {
      await handle.read(header, 0, header.length, 0);
      await handle.read(tag, 0, TAG_BYTES, entrySize - TAG_BYTES);
    } finally {
      await handle.close();
    }
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const decipher = createDecipheriv("aes-256-gcm", this.#key!, header.subarray(MAGIC.length));
    decipher.setAAD(Buffer.from(sha256, "latin1"));
    decipher.setAuthTag(tag);
    const hash = createHash("sha256");
    let size = 0;
    try {
      await pipeline(
        createReadStream(entry, { start: header.length, end: entrySize - TAG_BYTES - 1 }),
        decipher,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(plain, { mode: 0o600 }),
        signal ? { signal } : {},
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      return undefined;
    }
    return hash.digest("hex") === sha256 ? size : undefined;
  }

  /** Remove least recently used entries until the cache fits `maxBytes` (entries in use are kept). */
  async #evict(): Promise<void> {
    const entries: { path: string; size: number; mtimeMs: number; sha: string }[] = [];
    for (const a of await readdir(this.dir).catch(() => [] as string[])) {
      for (const b of await readdir(join(this.dir, a)).catch(() => [] as string[])) {
        for (const name of await readdir(join(this.dir, a, b)).catch(() => [] as string[])) {
          if (name.endsWith(".tmp")) continue;
          const path = join(this.dir, a, b, name);
          const info = await lstat(path).catch(() => undefined);
          if (info?.isFile()) entries.push({ path, size: info.size, mtimeMs: info.mtimeMs, sha: name.slice(0, 64) });
        }
      }
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((x, y) => x.mtimeMs - y.mtimeMs);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (this.#pinned.has(e.sha)) continue;
      this.#verified.delete(e.sha);
      await rm(e.path, { force: true });
      total -= e.size;
    }
  }

  /** Delete this instance's temp directory. */
  async close(): Promise<void> {
    if (this.#workDir) await rm(await this.#workDir, { recursive: true, force: true });
    this.#workDir = undefined;
  }
}

/** Copy a file into a new private (0600) file; the SHA-256 (hex) of the bytes copied. */
async function privateCopy(from: string, to: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(
    createReadStream(from),
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    }),
    createWriteStream(to, { mode: 0o600 }),
    signal ? { signal } : {},
  );
  // `mode` applies only when the file is created; make sure of it for an existing target too.
  await chmod(to, 0o600);
  return hash.digest("hex");
}

function stampOf(info: BigIntStats): EntryStamp {
  return { dev: info.dev, ino: info.ino, size: info.size, mtimeNs: info.mtimeNs, ctimeNs: info.ctimeNs };
}

function sameStamp(a: EntryStamp, b: EntryStamp, withCtime: boolean): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    (!withCtime || a.ctimeNs === b.ctimeNs)
  );
}

async function touch(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => {});
}
