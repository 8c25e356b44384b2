import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
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

  /**
   * Read the file; a missing, foreign or damaged file gives an empty state (it is only a cache). Streamed in chunks
   * split at line ends here (not through `node:readline`, whose module and per-line events cost more than the
   * parsing: issue 15 (b)), so memory stays small for 200,000 keys.
   */
  static async load(path: string | undefined, meta: StateMeta): Promise<SyncState> {
    const state = new SyncState(path);
    if (!path) return state;
    let input: ReturnType<typeof createReadStream> | undefined;
    let first = true;
    /** One line; false when the file is not this sync's state. */
    const take = (raw: string): boolean => {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "") return true;
      const value = JSON.parse(line) as unknown;
      if (first) {
        first = false;
        const header = value as { format?: string; version?: number } & Partial<StateMeta>;
        return (
          header.format === FORMAT &&
          header.version === VERSION &&
          header.direction === meta.direction &&
          header.local === meta.local &&
          header.remote === meta.remote
        );
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
      return true;
    };
    try {
      input = createReadStream(path, { encoding: "utf8", highWaterMark: 256 * 1024 });
      let rest = "";
      for await (const chunk of input as AsyncIterable<string>) {
        const text = rest + chunk;
        let start = 0;
        for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
          if (!take(text.slice(start, end))) return new SyncState(path);
          start = end + 1;
        }
        rest = text.slice(start);
      }
      if (!take(rest)) return new SyncState(path);
    } catch {
      state.entries.clear();
    } finally {
      input?.destroy();
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
