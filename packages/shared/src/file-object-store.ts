import { createHash, randomUUID } from "node:crypto";
import { constants, createWriteStream, type Dirent, type Stats } from "node:fs";
import { type FileHandle, link, lstat, mkdir, open, readdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ObjectStoreError } from "./errors.ts";
import { formatLocation, type Location } from "./location.ts";
import { silentLogger } from "./logger.ts";
import type {
  DeleteManyResult,
  GetOptions,
  GetResult,
  ListEntry,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  OpenObjectStoreOptions,
  PutBody,
  PutOptions,
  PutResult,
  SkippedEntry,
} from "./object-store.ts";
import { validateKey } from "./open-object-store.ts";
import { META_SHA256 } from "./sync/metadata.ts";

/**
 * Folder name reserved by the file store. The one at the root holds metadata sidecars, temp files and locks;
 * at any depth it is never listed and never part of a key.
 */
export const FILE_STORE_SYSTEM_DIR = ".s3kit";
const LOCK_STALE_MS = 30_000;
// O_NOFOLLOW: the final component of a path is never a link we follow (ELOOP instead). O_NONBLOCK: a FIFO
// swapped in after our lstat cannot block the open; on regular files it changes nothing.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

// A sidecar is data on disk that anyone could have edited: parsed, never trusted.
const sidecarSchema = z.object({
  etag: z.string().regex(/^"[0-9a-f]{32}(-\d{1,5})?"$/),
  size: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  metadata: z.record(z.string(), z.string()),
  contentType: z.string().optional(),
});
type Sidecar = z.infer<typeof sidecarSchema>;

/** What is at a key's path, found without following any link below the root. */
type Resolved =
  | { kind: "file"; path: string; stats: Stats }
  | { kind: "missing" }
  /** `at` is the `/`-separated path of the offending entry, relative to the root. */
  | { kind: "symbolicLink" | "notAFile"; at: string };

const isMissing = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
};

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * The {@link ObjectStore} for a `file:///dir` location: objects are plain files under the root (so the
 * directory is browsable), user metadata and ETags live in `.s3kit/meta/<key>.json`, writes go to
 * `.s3kit/tmp` and are renamed into place (atomic), and conditional writes take a per-key lock file
 * (`.s3kit/locks`, O_EXCL) so they hold across processes. ETags are the MD5 of the content, quoted.
 *
 * Hostile content is expected: symbolic links below the root are never followed (listing skips and reports
 * them, reads see no object, writes and deletes through them are refused or do nothing), FIFOs and devices are
 * skipped, `.s3kit` is skipped at every depth, and reading (`list`, `head`, `get`) writes nothing: the MD5 of a
 * file placed by hand is computed on each store instance's first look and kept in memory only.
 */
export function createFileObjectStore(
  location: Extract<Location, { kind: "file" }>,
  options: OpenObjectStoreOptions = {},
): ObjectStore {
  const root = location.root;
  const url = formatLocation(location);
  const logger = options.logger ?? silentLogger;
  /** MD5s of files without a valid sidecar, by key, valid while size and mtime stay the same. */
  const handHashed = new Map<string, { size: number; mtimeMs: number; etag: string }>();

  function segmentsOf(key: string): string[] {
    validateKey(key);
    if (key.endsWith("/")) {
      throw new ObjectStoreError(
        "invalidKey",
        `Invalid object key ${JSON.stringify(key)}: a file store cannot hold a key ending in \`/\`.`,
        { key },
      );
    }
    const segments = key.split("/");
    if (segments.includes(FILE_STORE_SYSTEM_DIR)) {
      throw new ObjectStoreError(
        "invalidKey",
        `Invalid object key ${JSON.stringify(key)}: \`${FILE_STORE_SYSTEM_DIR}\` is reserved by the file store at every depth.`,
        { key },
      );
    }
    return segments;
  }
  const sidecarSegments = (key: string) => {
    const segments = [FILE_STORE_SYSTEM_DIR, "meta", ...segmentsOf(key)];
    segments[segments.length - 1] += ".json";
    return segments;
  };

  const notFound = (key: string, why = "notFound") =>
    new ObjectStoreError("notFound", `Get ${url}/${key} failed: ${why}.`, { key });
  const precondition = (key: string, why: string) =>
    new ObjectStoreError(
      "preconditionFailed",
      `Write ${url}/${key} failed: preconditionFailed (${why}); another writer changed the object; read it again and retry.`,
      { key },
    );
  const describe = (r: Extract<Resolved, { at: string }>) =>
    r.kind === "symbolicLink"
      ? `\`${r.at}\` is a symbolic link, and a file:// store never follows links`
      : `\`${r.at}\` is not a regular file or folder`;

  /** Walk `segments` down from the root with lstat: every folder must be a real folder, the last a regular file. */
  async function resolve(segments: string[]): Promise<Resolved> {
    let path = root;
    for (let i = 0; i < segments.length; i++) {
      path = join(path, segments[i]!);
      const s = await lstatOrUndefined(path);
      if (!s) return { kind: "missing" };
      const at = segments.slice(0, i + 1).join("/");
      if (s.isSymbolicLink()) return { kind: "symbolicLink", at };
      const last = i === segments.length - 1;
      if (last && s.isFile()) return { kind: "file", path, stats: s };
      if (last || !s.isDirectory())
        return s.isDirectory() || s.isFile() ? { kind: "missing" } : { kind: "notAFile", at };
    }
    return { kind: "missing" };
  }

  /**
   * Create the folders `segments` below the root, one at a time, refusing any that exists as a link or a file:
   * `mkdir -p` would follow a link and write wherever it points.
   */
  async function ensureDirs(segments: string[], key: string | undefined, action: string): Promise<string> {
    // The root itself is the user's choice (it may sit behind a link, as /tmp does on macOS); below it, no links.
    await mkdir(root, { recursive: true });
    let path = root;
    for (let i = 0; i < segments.length; i++) {
      path = join(path, segments[i]!);
      let s = await lstatOrUndefined(path);
      if (!s) {
        try {
          await mkdir(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }
        s = await lstat(path);
      }
      if (!s.isDirectory()) {
        const at = segments.slice(0, i + 1).join("/");
        const why = s.isSymbolicLink()
          ? `\`${at}\` is a symbolic link, and a file:// store never writes through links`
          : `\`${at}\` exists and is not a folder`;
        throw new ObjectStoreError(
          "invalidKey",
          `${action} ${url}/${key ?? ""} refused: ${why}.`,
          key !== undefined ? { key } : {},
        );
      }
    }
    return path;
  }

  async function openNoFollow(path: string): Promise<FileHandle | undefined> {
    try {
      return await open(path, READ_FLAGS);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (isMissing(error) || code === "ELOOP") return undefined;
      throw error;
    }
  }

  async function readSidecar(key: string): Promise<Sidecar | undefined> {
    const found = await resolve(sidecarSegments(key));
    if (found.kind !== "file" || found.stats.size > 1024 * 1024) return undefined;
    const handle = await openNoFollow(found.path);
    if (!handle) return undefined;
    try {
      const parsed = sidecarSchema.safeParse(JSON.parse(await handle.readFile("utf8")));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    } finally {
      await handle.close();
    }
  }

  async function md5Of(path: string): Promise<string | undefined> {
    const handle = await openNoFollow(path);
    if (!handle) return undefined;
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      const hash = createHash("md5");
      for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
      return `"${hash.digest("hex")}"`;
    } finally {
      await handle.close();
    }
  }

  /** Metadata of the regular file at `path` (already resolved without links). Reads only; writes nothing. */
  async function infoAt(key: string, path: string, s: Stats): Promise<ObjectInfo | undefined> {
    const sidecar = await readSidecar(key);
    let etag: string;
    let metadata: Record<string, string> = {};
    let contentType: string | undefined;
    // A sidecar that does not describe this exact file (edited by hand, or a write in between) gives no ETag.
    if (sidecar && sidecar.size === s.size && sidecar.mtimeMs === s.mtimeMs) {
      etag = sidecar.etag;
      metadata = sidecar.metadata;
      contentType = sidecar.contentType;
    } else {
      const cached = handHashed.get(key);
      if (cached && cached.size === s.size && cached.mtimeMs === s.mtimeMs) etag = cached.etag;
      else {
        const md5 = await md5Of(path);
        if (!md5) return undefined;
        etag = md5;
        handHashed.set(key, { size: s.size, mtimeMs: s.mtimeMs, etag });
      }
      metadata = sidecar?.metadata ?? {};
    }
    return {
      key,
      size: s.size,
      etag,
      lastModified: s.mtime,
      metadata,
      ...(contentType ? { contentType } : {}),
    };
  }

  async function readInfo(key: string): Promise<ObjectInfo | undefined> {
    const found = await resolve(segmentsOf(key));
    return found.kind === "file" ? infoAt(key, found.path, found.stats) : undefined;
  }

  async function withLock<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lockDir = await ensureDirs([FILE_STORE_SYSTEM_DIR, "locks"], key, "Lock");
    const lockPath = join(lockDir, `${createHash("sha256").update(key).digest("hex")}.lock`);
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        const handle = await open(lockPath, "wx");
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const s = await lstatOrUndefined(lockPath);
        if (s && Date.now() - s.mtimeMs > LOCK_STALE_MS) await rm(lockPath, { force: true });
        else await sleep(Math.min(50, 2 + attempt));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lockPath, { force: true });
    }
  }

  async function writeSidecar(key: string, sidecar: Sidecar): Promise<void> {
    const segments = sidecarSegments(key);
    const dir = await ensureDirs(segments.slice(0, -1), key, "Write");
    const tmp = join(await ensureDirs([FILE_STORE_SYSTEM_DIR, "tmp"], key, "Write"), `${randomUUID()}.json`);
    await writeFile(tmp, JSON.stringify(sidecar), { flag: "wx" });
    await rename(tmp, join(dir, segments.at(-1)!));
  }

  /** Stream the body to a temp file, hashing on the way. */
  async function spool(
    key: string,
    body: PutBody,
    opts: PutOptions,
  ): Promise<{ tmp: string; etag: string; size: number; sha256?: string }> {
    const tmp = join(await ensureDirs([FILE_STORE_SYSTEM_DIR, "tmp"], key, "Write"), randomUUID());
    const hash = createHash("md5");
    const sha256 = opts.sha256Metadata ? createHash("sha256") : undefined;
    let size = 0;
    const source = typeof body === "string" || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            sha256?.update(chunk);
            size += chunk.length;
            opts.onProgress?.({ loadedBytes: size, ...(opts.contentLength ? { totalBytes: opts.contentLength } : {}) });
            yield chunk;
          }
        },
        createWriteStream(tmp, { flags: "wx" }),
        opts.signal ? { signal: opts.signal } : {},
      );
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    return { tmp, etag: `"${hash.digest("hex")}"`, size, ...(sha256 ? { sha256: sha256.digest("hex") } : {}) };
  }

  async function commit(
    key: string,
    spooled: { tmp: string; etag: string; size: number; sha256?: string },
    opts: PutOptions,
  ): Promise<PutResult> {
    const segments = segmentsOf(key);
    const dir = await ensureDirs(segments.slice(0, -1), key, "Write");
    const path = join(dir, segments.at(-1)!);
    const existing = await lstatOrUndefined(path);
    if (existing && !existing.isFile()) {
      const why = existing.isSymbolicLink()
        ? `\`${key}\` is a symbolic link, and a file:// store never writes through links`
        : `\`${key}\` exists and is not a regular file`;
      throw new ObjectStoreError("invalidKey", `Write ${url}/${key} refused: ${why}.`, { key });
    }
    if (opts.ifNoneMatch === "*" && existing) throw precondition(key, "an object exists at the key");
    if (opts.ifMatch) {
      const info = existing ? await infoAt(key, path, existing) : undefined;
      if (!info)
        throw new ObjectStoreError("notFound", `Write ${url}/${key} failed: notFound (If-Match on a missing object).`, {
          key,
        });
      if (info.etag !== opts.ifMatch) throw precondition(key, `ETag is ${info.etag}, expected ${opts.ifMatch}`);
    }
    if (opts.ifNoneMatch === "*") {
      // link() fails with EEXIST if something appeared meanwhile: create-if-absent even without our lock.
      try {
        await link(spooled.tmp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") throw precondition(key, "an object exists at the key");
        throw error;
      }
      await unlink(spooled.tmp);
    } else {
      // rename() replaces the entry at `path` itself; it never writes through a link there.
      await rename(spooled.tmp, path);
    }
    const s = await lstat(path);
    await writeSidecar(key, {
      etag: spooled.etag,
      size: spooled.size,
      mtimeMs: s.mtimeMs,
      metadata: {
        ...lowerKeys(opts.metadata ?? {}),
        ...(spooled.sha256 ? { [META_SHA256]: spooled.sha256 } : {}),
      },
      ...(opts.contentType ? { contentType: opts.contentType } : {}),
    });
    return { etag: spooled.etag, size: spooled.size };
  }

  async function removeEmptyParents(path: string, stopAt: string): Promise<void> {
    let dir = dirname(path);
    while (dir !== stopAt && dir.startsWith(stopAt + sep)) {
      try {
        // rmdir, never rm -r: only an empty real folder goes (rmdir on a link fails with ENOTDIR).
        await rm(dir, { recursive: false });
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  /** Delete the object at `key`: only a regular file reached without links; anything else is left alone. */
  async function deleteOne(key: string): Promise<void> {
    const found = await resolve(segmentsOf(key));
    if (found.kind === "file") {
      await rm(found.path, { force: true });
      await removeEmptyParents(found.path, root);
    }
    const sidecar = await resolve(sidecarSegments(key));
    if (sidecar.kind === "file") await rm(sidecar.path, { force: true });
    handHashed.delete(key);
  }

  function skipped(entry: SkippedEntry): void {
    logger.warn(
      entry.reason === "symbolicLink"
        ? `skipped ${url}/${entry.path}: a symbolic link (a file:// store never follows links)`
        : `skipped ${url}/${entry.path}: not a regular file or folder`,
      { path: entry.path, reason: entry.reason },
    );
    options.onSkippedEntry?.(entry);
  }

  /**
   * Walk keys in S3 order (UTF-8 byte order of the full key), streaming directory by directory. Links are never
   * followed (so a loop cannot make it run forever), FIFOs and devices never opened, `.s3kit` never entered.
   */
  async function* walk(dir: string, keyPrefix: string): AsyncGenerator<{ key: string; path: string }> {
    let dirents: Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const entries: { name: string; isDir: boolean; sortKey: Buffer }[] = [];
    for (const dirent of dirents) {
      if (dirent.name === FILE_STORE_SYSTEM_DIR) continue;
      const isDir = dirent.isDirectory();
      if (dirent.isSymbolicLink()) {
        skipped({ path: keyPrefix + dirent.name, reason: "symbolicLink" });
        continue;
      }
      if (!isDir && !dirent.isFile()) {
        skipped({ path: keyPrefix + dirent.name, reason: "notAFile" });
        continue;
      }
      // Sort so that "a/..." is compared as "a/" against siblings like "a-b" or "a.txt", as S3 does.
      entries.push({ name: dirent.name, isDir, sortKey: Buffer.from(isDir ? `${dirent.name}/` : dirent.name) });
    }
    entries.sort((x, y) => Buffer.compare(x.sortKey, y.sortKey));
    for (const e of entries) {
      const key = keyPrefix + e.name;
      if (e.isDir) yield* walk(join(dir, e.name), `${key}/`);
      else yield { key, path: join(dir, e.name) };
    }
  }

  /** Where a listing of `dirKey` (`""` or `a/b/`) starts: its folder, if it is reachable without links. */
  async function listStart(dirKey: string): Promise<string | undefined> {
    if (dirKey === "") return root;
    const segments = segmentsOf(`${dirKey}x`).slice(0, -1);
    let path = root;
    for (let i = 0; i < segments.length; i++) {
      path = join(path, segments[i]!);
      const s = await lstatOrUndefined(path);
      if (!s?.isDirectory()) {
        if (s?.isSymbolicLink()) skipped({ path: segments.slice(0, i + 1).join("/"), reason: "symbolicLink" });
        return undefined;
      }
    }
    return path;
  }

  /** The regular file behind `key`, opened without following links, or a notFound naming why. */
  async function openObject(key: string, signal?: AbortSignal): Promise<{ info: ObjectInfo; handle: FileHandle }> {
    signal?.throwIfAborted();
    const found = await resolve(segmentsOf(key));
    if (found.kind !== "file") {
      throw found.kind === "missing" ? notFound(key) : notFound(key, `notFound (${describe(found)})`);
    }
    const handle = await openNoFollow(found.path);
    if (!handle) throw notFound(key);
    try {
      const s = await handle.stat();
      if (!s.isFile()) throw notFound(key, "notFound (not a regular file)");
      const info = await infoAt(key, found.path, s);
      if (!info) throw notFound(key);
      return { info, handle };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  const store: ObjectStore = {
    location,
    url,
    async head(key, opts = {}) {
      opts.signal?.throwIfAborted();
      return readInfo(key);
    },

    async get(key, opts: GetOptions = {}): Promise<GetResult> {
      const { info, handle } = await openObject(key, opts.signal);
      try {
        if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch === info.etag) {
          throw new ObjectStoreError("notModified", `Get ${url}/${key}: notModified.`, { key });
        }
        if (opts.ifMatch !== undefined && opts.ifMatch !== info.etag) throw precondition(key, `ETag is ${info.etag}`);
        let range: { start: number; end: number; total: number } | undefined;
        const total = info.size;
        // A range from the start of an empty object is the whole (empty) object: S3 answers 416 there, and
        // both stores turn that into the empty body, so a ranged download of a zero-byte object just works.
        const emptyFromStart =
          total === 0 && opts.range !== undefined && ("suffix" in opts.range || opts.range.start === 0);
        if (opts.range && !emptyFromStart) {
          let start: number;
          let end: number;
          if ("suffix" in opts.range) {
            start = Math.max(0, total - opts.range.suffix);
            end = total - 1;
          } else {
            start = opts.range.start;
            end = Math.min(opts.range.end ?? total - 1, total - 1);
          }
          if (start >= total || start > end) {
            throw new ObjectStoreError(
              "invalidOptions",
              `Get ${url}/${key} failed: range not satisfiable (object has ${total} bytes).`,
              { key },
            );
          }
          range = { start, end, total };
        }
        let body: Readable;
        if (total === 0) {
          await handle.close();
          body = new Readable({ read: () => body.push(null) });
        } else {
          body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
        }
        if (opts.signal) {
          const onAbort = () => body.destroy(opts.signal!.reason as Error);
          opts.signal.addEventListener("abort", onAbort, { once: true });
          body.once("close", () => opts.signal!.removeEventListener("abort", onAbort));
        }
        return { ...info, body, ...(range ? { range } : {}) };
      } catch (error) {
        await handle.close();
        throw error;
      }
    },

    async getBytes(key, opts = {}) {
      const { body } = await store.get(key, opts);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },

    async put(key, body, opts = {}) {
      segmentsOf(key);
      opts.signal?.throwIfAborted();
      const spooled = await spool(key, body, opts);
      try {
        if (opts.ifMatch || opts.ifNoneMatch) return await withLock(key, () => commit(key, spooled, opts), opts.signal);
        return await commit(key, spooled, opts);
      } finally {
        await rm(spooled.tmp, { force: true });
      }
    },

    async delete(key, opts = {}) {
      opts.signal?.throwIfAborted();
      if (!opts.ifMatch) return deleteOne(key);
      const ifMatch = opts.ifMatch;
      await withLock(
        key,
        async () => {
          const info = await readInfo(key);
          if (!info) throw new ObjectStoreError("notFound", `Delete ${url}/${key} failed: notFound.`, { key });
          if (info.etag !== ifMatch) throw precondition(key, `ETag is ${info.etag}, expected ${ifMatch}`);
          await deleteOne(key);
        },
        opts.signal,
      );
    },

    async deleteMany(keys, opts = {}): Promise<DeleteManyResult> {
      const result: DeleteManyResult = { deleted: [], errors: [] };
      for await (const key of keys) {
        opts.signal?.throwIfAborted();
        try {
          await deleteOne(key);
          result.deleted.push(key);
        } catch (error) {
          result.errors.push({
            key,
            code: (error as ObjectStoreError).code ?? "unknown",
            message: (error as Error).message,
          });
        }
      }
      return result;
    },

    async *list(opts: ListOptions = {}): AsyncIterable<ListEntry> {
      const listPrefix = opts.prefix ?? "";
      // Start the walk at the deepest directory the prefix names.
      const slash = listPrefix.lastIndexOf("/");
      const dirKey = slash === -1 ? "" : listPrefix.slice(0, slash + 1);
      const startDir = await listStart(dirKey);
      if (startDir === undefined) return;
      let lastPrefix: string | undefined;
      for await (const { key, path } of walk(startDir, dirKey)) {
        opts.signal?.throwIfAborted();
        if (!key.startsWith(listPrefix)) continue;
        if (opts.startAfter !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(opts.startAfter)) <= 0)
          continue;
        if (opts.delimiter) {
          const at = key.indexOf(opts.delimiter, listPrefix.length);
          if (at !== -1) {
            const prefix = key.slice(0, at + opts.delimiter.length);
            if (prefix !== lastPrefix) {
              lastPrefix = prefix;
              yield { kind: "prefix", prefix };
            }
            continue;
          }
        }
        const s = await lstatOrUndefined(path);
        // Replaced by a link or removed since the folder was read: not an object any more.
        if (!s?.isFile()) continue;
        const info = await infoAt(key, path, s).catch(() => undefined);
        if (!info) continue;
        yield { kind: "object", key, size: info.size, etag: info.etag, lastModified: info.lastModified };
      }
    },

    async copy(sourceKey, destinationKey, opts = {}) {
      const { info, handle } = await openObject(sourceKey, opts.signal);
      const replace = opts.metadata !== undefined || opts.contentType !== undefined;
      const contentType = replace ? opts.contentType : info.contentType;
      try {
        return await store.put(destinationKey, handle.createReadStream({ autoClose: false }), {
          metadata: replace ? (opts.metadata ?? {}) : info.metadata,
          ...(contentType ? { contentType } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } finally {
        await handle.close();
      }
    },

    async close() {
      handHashed.clear();
    },
  };
  return store;
}

function lowerKeys(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v]));
}
