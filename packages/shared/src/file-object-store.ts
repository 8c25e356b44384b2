import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, type Dirent, type Stats } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ObjectStoreError } from "./errors.ts";
import { formatLocation, type Location } from "./location.ts";
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
} from "./object-store.ts";
import { validateKey } from "./open-object-store.ts";

/** Directory under the root that holds metadata sidecars, temp files and locks; never listed, never a key. */
export const FILE_STORE_SYSTEM_DIR = ".s3kit";
const LOCK_STALE_MS = 30_000;

interface Sidecar {
  etag: string;
  size: number;
  mtimeMs: number;
  metadata: Record<string, string>;
  contentType?: string;
}

/**
 * The {@link ObjectStore} for a `file:///dir` location: objects are plain files under the root (so the
 * directory is browsable), user metadata and ETags live in `.s3kit/meta/<key>.json`, writes go to
 * `.s3kit/tmp` and are renamed into place (atomic), and conditional writes take a per-key lock file
 * (`.s3kit/locks`, O_EXCL) so they hold across processes. ETags are the MD5 of the content, quoted.
 */
export function createFileObjectStore(
  location: Extract<Location, { kind: "file" }>,
  _options: OpenObjectStoreOptions = {},
): ObjectStore {
  const root = location.root;
  const url = formatLocation(location);
  const systemDir = join(root, FILE_STORE_SYSTEM_DIR);

  function pathOf(key: string): string {
    validateKey(key);
    if (key === FILE_STORE_SYSTEM_DIR || key.startsWith(`${FILE_STORE_SYSTEM_DIR}/`)) {
      throw new ObjectStoreError(
        "invalidKey",
        `Invalid object key ${JSON.stringify(key)}: \`${FILE_STORE_SYSTEM_DIR}/\` is reserved by the file store.`,
        { key },
      );
    }
    if (key.endsWith("/")) {
      throw new ObjectStoreError(
        "invalidKey",
        `Invalid object key ${JSON.stringify(key)}: a file store cannot hold a key ending in \`/\`.`,
        { key },
      );
    }
    const path = join(root, ...key.split("/"));
    const rel = relative(root, path);
    if (rel === "" || rel.startsWith(`..${sep}`) || rel === "..") {
      throw new ObjectStoreError("invalidKey", `Invalid object key ${JSON.stringify(key)}: it escapes ${url}.`, {
        key,
      });
    }
    return path;
  }
  const sidecarPath = (key: string) => join(systemDir, "meta", ...key.split("/")) + ".json";

  const notFound = (key: string) => new ObjectStoreError("notFound", `Get ${url}/${key} failed: notFound.`, { key });
  const precondition = (key: string, why: string) =>
    new ObjectStoreError(
      "preconditionFailed",
      `Write ${url}/${key} failed: preconditionFailed (${why}); another writer changed the object; read it again and retry.`,
      { key },
    );

  async function statFile(path: string): Promise<Stats | undefined> {
    try {
      const s = await stat(path);
      return s.isFile() ? s : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR")
        return undefined;
      throw error;
    }
  }

  async function readInfo(key: string): Promise<ObjectInfo | undefined> {
    const path = pathOf(key);
    const s = await statFile(path);
    if (!s) return undefined;
    let sidecar: Sidecar | undefined;
    try {
      sidecar = JSON.parse(await readFile(sidecarPath(key), "utf8")) as Sidecar;
    } catch {
      sidecar = undefined;
    }
    // A sidecar that does not describe this exact file (edited by hand, or a write in between) is ignored.
    const hadSidecar = sidecar !== undefined;
    if (!sidecar || sidecar.size !== s.size || sidecar.mtimeMs !== s.mtimeMs) {
      const hash = createHash("md5");
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      sidecar = {
        etag: `"${hash.digest("hex")}"`,
        size: s.size,
        mtimeMs: s.mtimeMs,
        metadata: sidecar?.metadata ?? {},
      };
      // A file put there by hand: cache its hash so the next head/list costs a stat, not a read. Created only
      // if absent (link fails on EEXIST), so it can never overwrite the sidecar of a put that raced us.
      if (!hadSidecar) await cacheSidecar(key, sidecar);
    }
    return {
      key,
      size: s.size,
      etag: sidecar.etag,
      lastModified: s.mtime,
      metadata: sidecar.metadata,
      ...(sidecar.contentType ? { contentType: sidecar.contentType } : {}),
    };
  }

  async function withLock<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lockPath = join(systemDir, "locks", `${createHash("sha256").update(key).digest("hex")}.lock`);
    await mkdir(dirname(lockPath), { recursive: true });
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        const handle = await open(lockPath, "wx");
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const s = await statFile(lockPath);
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
    const path = sidecarPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(systemDir, "tmp", `${randomUUID()}.json`);
    await writeFile(tmp, JSON.stringify(sidecar));
    await rename(tmp, path);
  }

  async function cacheSidecar(key: string, sidecar: Sidecar): Promise<void> {
    const tmp = join(systemDir, "tmp", `${randomUUID()}.json`);
    try {
      await mkdir(dirname(tmp), { recursive: true });
      await mkdir(dirname(sidecarPath(key)), { recursive: true });
      await writeFile(tmp, JSON.stringify(sidecar));
      await link(tmp, sidecarPath(key));
    } catch {
      // Best effort: a read-only root or a sidecar that appeared meanwhile just means no cache.
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Stream the body to a temp file, hashing on the way. */
  async function spool(body: PutBody, opts: PutOptions): Promise<{ tmp: string; etag: string; size: number }> {
    await mkdir(join(systemDir, "tmp"), { recursive: true });
    const tmp = join(systemDir, "tmp", randomUUID());
    const hash = createHash("md5");
    let size = 0;
    const source = typeof body === "string" || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            opts.onProgress?.({ loadedBytes: size, ...(opts.contentLength ? { totalBytes: opts.contentLength } : {}) });
            yield chunk;
          }
        },
        createWriteStream(tmp),
        opts.signal ? { signal: opts.signal } : {},
      );
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    return { tmp, etag: `"${hash.digest("hex")}"`, size };
  }

  async function commit(
    key: string,
    spooled: { tmp: string; etag: string; size: number },
    opts: PutOptions,
  ): Promise<PutResult> {
    const path = pathOf(key);
    const current = opts.ifMatch || opts.ifNoneMatch ? await statFile(path) : undefined;
    if (opts.ifNoneMatch === "*" && current) throw precondition(key, "an object exists at the key");
    if (opts.ifMatch) {
      const info = current ? await readInfo(key) : undefined;
      if (!info)
        throw new ObjectStoreError("notFound", `Write ${url}/${key} failed: notFound (If-Match on a missing object).`, {
          key,
        });
      if (info.etag !== opts.ifMatch) throw precondition(key, `ETag is ${info.etag}, expected ${opts.ifMatch}`);
    }
    await mkdir(dirname(path), { recursive: true });
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
      await rename(spooled.tmp, path);
    }
    const s = await stat(path);
    await writeSidecar(key, {
      etag: spooled.etag,
      size: spooled.size,
      mtimeMs: s.mtimeMs,
      metadata: lowerKeys(opts.metadata ?? {}),
      ...(opts.contentType ? { contentType: opts.contentType } : {}),
    });
    return { etag: spooled.etag, size: spooled.size };
  }

  async function removeEmptyParents(path: string, stopAt: string): Promise<void> {
    let dir = dirname(path);
    while (dir !== stopAt && dir.startsWith(stopAt + sep)) {
      try {
        await rm(dir, { recursive: false });
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  async function deleteOne(key: string): Promise<void> {
    const path = pathOf(key);
    await rm(path, { force: true });
    await rm(sidecarPath(key), { force: true });
    await removeEmptyParents(path, root);
  }

  /** Walk keys in S3 order (UTF-8 byte order of the full key), streaming directory by directory. */
  async function* walk(dir: string, keyPrefix: string): AsyncGenerator<string> {
    let dirents: Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR")
        return;
      throw error;
    }
    // The entry types come with the listing; only symbolic links need a stat to say what they point at.
    const entries: { name: string; isDir: boolean; sortKey: Buffer }[] = [];
    for (const dirent of dirents) {
      if (keyPrefix === "" && dirent.name === FILE_STORE_SYSTEM_DIR) continue;
      let isDir = dirent.isDirectory();
      if (dirent.isSymbolicLink()) {
        const target = await stat(join(dir, dirent.name)).catch(() => undefined);
        if (!target) continue;
        isDir = target.isDirectory();
      } else if (!isDir && !dirent.isFile()) {
        continue;
      }
      // Sort so that "a/..." is compared as "a/" against siblings like "a-b" or "a.txt", as S3 does.
      entries.push({ name: dirent.name, isDir, sortKey: Buffer.from(isDir ? `${dirent.name}/` : dirent.name) });
    }
    entries.sort((x, y) => Buffer.compare(x.sortKey, y.sortKey));
    for (const e of entries) {
      const key = keyPrefix + e.name;
      if (e.isDir) yield* walk(join(dir, e.name), `${key}/`);
      else yield key;
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
      opts.signal?.throwIfAborted();
      const info = await readInfo(key);
      if (!info) throw notFound(key);
      if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch === info.etag) {
        throw new ObjectStoreError("notModified", `Get ${url}/${key}: notModified.`, { key });
      }
      if (opts.ifMatch !== undefined && opts.ifMatch !== info.etag) throw precondition(key, `ETag is ${info.etag}`);
      let range: { start: number; end: number; total: number } | undefined;
      if (opts.range) {
        const total = info.size;
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
      const body = createReadStream(pathOf(key), {
        ...(range ? { start: range.start, end: range.end } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return { ...info, body, ...(range ? { range } : {}) };
    },

    async getBytes(key, opts = {}) {
      const { body } = await store.get(key, opts);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },

    async put(key, body, opts = {}) {
      pathOf(key);
      opts.signal?.throwIfAborted();
      const spooled = await spool(body, opts);
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
      if (dirKey !== "") validateKey(`${dirKey}x`);
      const startDir = dirKey === "" ? root : join(root, ...dirKey.slice(0, -1).split("/"));
      let lastPrefix: string | undefined;
      for await (const key of walk(startDir, dirKey)) {
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
        const info = await readInfo(key).catch(() => undefined);
        if (!info) continue;
        yield { kind: "object", key, size: info.size, etag: info.etag, lastModified: info.lastModified };
      }
    },

    async copy(sourceKey, destinationKey, opts = {}) {
      const info = await readInfo(sourceKey);
      if (!info) throw notFound(sourceKey);
      const replace = opts.metadata !== undefined || opts.contentType !== undefined;
      return store.put(destinationKey, createReadStream(pathOf(sourceKey)), {
        metadata: replace ? (opts.metadata ?? {}) : info.metadata,
        ...((replace ? opts.contentType : info.contentType)
          ? { contentType: (replace ? opts.contentType : info.contentType)! }
          : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    },

    async close() {},
  };
  return store;
}

function lowerKeys(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v]));
}
