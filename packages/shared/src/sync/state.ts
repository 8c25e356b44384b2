import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { cacheDirectory } from "./cache-dir.ts";

/**
 * What this machine knows about one key: the local file (size, mtime) it was uploaded from or verified
 * against, the ETag the object had then, and hashes of that local content (so `checksum` re-runs do not
 * re-read unchanged files).
 */
export interface StateEntry {
  size: number;
  mtimeMs: number;
  /** ETag of the remote object when it was known to hold this content; "" when unknown. */
  etag: string;
  /** Part size the object was uploaded with, when multipart. */
  partSizeBytes?: number;
  /** ctime of the local file when the hashes below were computed (they are reused only while it holds). */
  ctimeMs?: number;
  /** Hex MD5 of the local content. */
  md5?: string;
  /** Hex SHA-256 of the local content. */
  sha256?: string;
  /** Multipart ETag of the local content for `partSizeBytes`. */
  multipartEtag?: string;
}

const FORMAT = "s3kit-sync-state";
const VERSION = 1;

/** What a state file belongs to: a sync between this local folder and this store location, in this direction. */
export interface StateMeta {
  direction: "upload" | "download";
  /** Absolute local folder. */
  local: string;
  /** URL of the store location. */
  remote: string;
}

/**
 * The default state file of a sync: `<cache directory>/sync-state/<hash>.ndjson`, where the hash covers the
 * direction, the local folder, the store URL and the endpoint (see {@link cacheDirectory}).
 */
export function defaultStatePath(meta: StateMeta, endpoint: string | undefined): string {
  const id = createHash("sha256")
    .update(JSON.stringify([meta.direction, meta.local, meta.remote, endpoint ?? ""]))
    .digest("hex")
    .slice(0, 32);
  return join(cacheDirectory(["sync-state"]), `${id}.ndjson`);
}

/**
 * The local state file: NDJSON, a header line then one `[key, entry]` line per key, replaced atomically
 * (written to a temp file, then renamed), so a crash leaves the previous state. The state is only a cache:
 * an entry is trusted only while the remote ETag still equals the one it records.
 */
export class SyncState {
  readonly entries = new Map<string, StateEntry>();
  #dirty = false;
  constructor(readonly path: string | undefined) {}

  get(key: string): StateEntry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: StateEntry): void {
    this.entries.set(key, entry);
    this.#dirty = true;
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.#dirty = true;
  }

  /** Read the file; a missing, foreign or damaged file gives an empty state (it is only a cache). */
  static async load(path: string | undefined, meta: StateMeta): Promise<SyncState> {
    const state = new SyncState(path);
    if (!path) return state;
    let lines: ReturnType<typeof createInterface> | undefined;
    try {
      const input = createReadStream(path, { encoding: "utf8" });
      await once(input, "open");
      lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      let first = true;
      for await (const line of lines) {
        if (line === "") continue;
        const value = JSON.parse(line) as unknown;
        if (first) {
          first = false;
          const header = value as { format?: string; version?: number } & Partial<StateMeta>;
          if (
            header.format !== FORMAT ||
            header.version !== VERSION ||
            header.direction !== meta.direction ||
            header.local !== meta.local ||
            header.remote !== meta.remote
          ) {
            return new SyncState(path);
          }
          continue;
        }
        // The state is ours but lives on disk: a damaged line is dropped, not trusted.
        const [key, entry] = value as [unknown, StateEntry | undefined];
        if (
          typeof key === "string" &&
          entry &&
          typeof entry.size === "number" &&
          typeof entry.mtimeMs === "number" &&
          typeof entry.etag === "string"
        )
          state.entries.set(key, entry);
      }
    } catch {
      state.entries.clear();
    } finally {
      lines?.close();
    }
    return state;
  }

  /** Write the state if it changed. Streams line by line: memory stays small for 200,000 keys. */
  async save(meta: StateMeta): Promise<void> {
    if (!this.path || !this.#dirty) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${randomUUID()}.tmp`;
    const out = createWriteStream(tmp, { mode: 0o600 });
    try {
      const write = async (line: string) => {
        if (!out.write(`${line}\n`)) await once(out, "drain");
      };
      await write(JSON.stringify({ format: FORMAT, version: VERSION, ...meta }));
      for (const [key, entry] of this.entries) await write(JSON.stringify([key, entry]));
      out.end();
      await once(out, "finish");
      await rename(tmp, this.path);
      this.#dirty = false;
    } catch (error) {
      out.destroy();
      await rm(tmp, { force: true });
      throw error;
    }
  }
}
