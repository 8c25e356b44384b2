import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

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

const FORMAT = "s3kit-photo-sync-state";
const VERSION = 1;

/** The default state file for a (source, destination, endpoint) triple. */
export function defaultStatePath(source: string, destination: string, endpoint: string | undefined): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const id = createHash("sha256")
    .update(JSON.stringify([source, destination, endpoint ?? ""]))
    .digest("hex")
    .slice(0, 32);
  return join(base, "s3kit", "photo-sync", `${id}.ndjson`);
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
  static async load(path: string | undefined, meta: { source: string; destination: string }): Promise<SyncState> {
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
          const header = value as { format?: string; version?: number; source?: string; destination?: string };
          if (
            header.format !== FORMAT ||
            header.version !== VERSION ||
            header.source !== meta.source ||
            header.destination !== meta.destination
          ) {
            return new SyncState(path);
          }
          continue;
        }
        const [key, entry] = value as [string, StateEntry];
        if (typeof key === "string" && entry && typeof entry.size === "number") state.entries.set(key, entry);
      }
    } catch {
      state.entries.clear();
    } finally {
      lines?.close();
    }
    return state;
  }

  /** Write the state if it changed. Streams line by line: memory stays small for 200,000 keys. */
  async save(meta: { source: string; destination: string }): Promise<void> {
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
