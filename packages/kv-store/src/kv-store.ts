import { existsSync } from "node:fs";
import {
  createLimit,
  formatLocation,
  isObjectStoreError,
  type Logger,
  type ObjectStore,
  type OpenObjectStoreOptions,
  openObjectStore,
  parseLocation,
  silentLogger,
} from "@toolkit/shared";
import { z } from "zod";
import { type Codec, type CodecName, decodeValue, encodeValue, resolveCodec } from "./codecs.ts";
import { KvError } from "./errors.ts";
import { corruptLocalError, isSqliteCorruption, LocalDb, type Row } from "./local-db.ts";
import { isNetworkFailure, type Remote, readManifest, readRange } from "./remote.ts";
import { valueCrc } from "./remote-format.ts";
import { learnConditionalPut } from "./store-safety.ts";
import {
  type CompactResult,
  type Conflict,
  cachedManifest,
  compact,
  type OnConflict,
  type PullResult,
  type PushResult,
  pull,
  push,
  type SyncContext,
} from "./sync.ts";

/** Open flags, as in ebooklet/dbm. */
export type KvFlag = "r" | "w" | "c" | "n";

/** The value type a codec option stands for. */
export type ValueOfCodec<C> =
  C extends Codec<infer V> ? V : C extends "string" ? string : C extends "bytes" ? Uint8Array : unknown;

// biome-ignore lint/suspicious/noExplicitAny: any codec value type; Codec is invariant in V
export interface OpenKvOptions<C extends CodecName | Codec<any> = "json"> {
  /** Path of the local SQLite file (created with flags `c`/`n`, or with `r`/`w` when the remote exists). */
  path: string;
  /** Where the database is synced: `s3://bucket/prefix` or `file:///abs/dir`. Omit for a local-only database. */
  remote?: string | undefined;
  /**
   * `r` read-only (writes fail with `kv.readOnly`); `w` read-write, the database must exist locally or remotely;
   * `c` read-write, created when missing; `n` start empty, and replace the remote at the next push.
   * @default "c"
   */
  flag?: KvFlag;
  /** How values become bytes; its id is stored locally and remotely and must match on open. @default "json" */
  codec?: C;
  /** How a key changed locally and remotely since the last pull is settled by push and pull. @default "newest" */
  onConflict?: OnConflict;
  /** Never contact the remote (push/pull fail with `kv.offline`); with flag `r` this also happens by itself when the remote cannot be reached. @default false */
  offline?: boolean;
  /** Read the remote's changes while opening (one GET of the manifest plus one ranged GET per new segment). @default true */
  pullOnOpen?: boolean;
  /** Segments superseded by compaction (or by a flag-`n` push) stay this long for readers mid-pull, in ms. @default 3600000 (1 hour) */
  graceMs?: number;
  /**
   * Only this process ever writes to the remote: push even when the endpoint ignores conditional PutObject
   * (otherwise such a push fails with `kv.unsafeStore`, because two writers would overwrite each other).
   * @default false
   */
  singleWriter?: boolean;
  /** S3 client options (endpoint, region, profile, credentials, …) for an `s3://` remote. */
  remoteOptions?: OpenObjectStoreOptions;
  /** An already-open object store for the remote location (not closed by `close()`). */
  store?: ObjectStore;
  logger?: Logger;
  signal?: AbortSignal;
}

const flagSchema = z.enum(["r", "w", "c", "n"]);
const optionsSchema = z.object({
  path: z.string().min(1, "a path is required, e.g. ./notes.db"),
  remote: z.string().min(1).optional(),
  flag: flagSchema.optional(),
  codec: z.any().optional(),
  onConflict: z.enum(["newest", "local", "remote", "error"]).optional(),
  offline: z.boolean().optional(),
  pullOnOpen: z.boolean().optional(),
  graceMs: z.number().int().min(0).optional(),
  singleWriter: z.boolean().optional(),
  remoteOptions: z.record(z.string(), z.unknown()).optional(),
  store: z.custom<ObjectStore>((v) => typeof v === "object" && v !== null && "put" in v).optional(),
  logger: z.custom<Logger>((v) => typeof v === "object" && v !== null).optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal).optional(),
});

const MAX_KEY_BYTES = 1024;
const ITERATION_PAGE = 256;
/** Two values of one segment closer than this are fetched with one ranged GET. */
const COALESCE_GAP_BYTES = 64 * 1024;
const FETCH_CONCURRENCY = 8;
const EMPTY = Buffer.alloc(0);

let lastMicros = 0;
/** Wall-clock µs, strictly increasing within this process. */
function nowMicros(): number {
  const t = Date.now() * 1000;
  lastMicros = t > lastMicros ? t : lastMicros + 1;
  return lastMicros;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key === "") {
    throw new KvError("kv.invalidKey", `Invalid key ${JSON.stringify(key)}: keys are non-empty strings.`);
  }
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new KvError(
      "kv.invalidKey",
      `Invalid key ${JSON.stringify(`${key.slice(0, 40)}…`)}: it has ${Buffer.byteLength(key, "utf8")} UTF-8 bytes, at most ${MAX_KEY_BYTES} are allowed.`,
    );
  }
  if (!key.isWellFormed()) {
    throw new KvError("kv.invalidKey", `Invalid key ${JSON.stringify(key)}: it contains a lone surrogate (not UTF-8).`);
  }
}

/** What a push would send, against the remote state of the last pull or push. */
export interface KvChanges {
  /** Keys the remote does not have. */
  added: string[];
  /** Keys whose value differs from the remote's. */
  modified: string[];
  /** Keys deleted locally that the remote still has. */
  deleted: string[];
}

export interface EntriesOptions {
  /** Only keys starting with this. */
  prefix?: string;
  signal?: AbortSignal;
}

/**
 * A key-value database in a local SQLite file, synced with a remote by {@link Kv.pull} / {@link Kv.push}.
 * Writes touch only the local file. Reads of keys known from the remote but not yet local fetch that value
 * with one ranged GET and keep it. Use `await using db = await openKv(...)` or call {@link Kv.close}.
 */
export class Kv<V = unknown> implements AsyncDisposable {
  readonly #local: LocalDb;
  readonly #codec: Codec<V>;
  readonly #remote: Remote | undefined;
  readonly #ownsStore: boolean;
  readonly #flag: KvFlag;
  readonly #ctx: SyncContext | undefined;
  #offline: boolean;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  /** @internal use {@link openKv} */
  constructor(init: {
    local: LocalDb;
    codec: Codec<V>;
    remote: Remote | undefined;
    ownsStore: boolean;
    flag: KvFlag;
    offline: boolean;
    onConflict: OnConflict;
    graceMs: number;
  }) {
    this.#local = init.local;
    this.#codec = init.codec;
    this.#remote = init.remote;
    this.#ownsStore = init.ownsStore;
    this.#flag = init.flag;
    this.#offline = init.offline;
    this.#ctx = init.remote
      ? {
          local: init.local,
          remote: init.remote,
          codecId: init.codec.id,
          onConflict: init.onConflict,
          graceMs: init.graceMs,
        }
      : undefined;
  }

  /** Path of the local SQLite file. */
  get path(): string {
    return this.#local.path;
  }
  /** URL of the remote, or `undefined` for a local-only database. */
  get remote(): string | undefined {
    return this.#remote?.url;
  }
  get flag(): KvFlag {
    return this.#flag;
  }
  /** True when the remote is not contacted (option `offline`, or flag `r` with an unreachable remote). */
  get offline(): boolean {
    return this.#offline;
  }
  get codecId(): string {
    return this.#codec.id;
  }

  #checkOpen(): void {
    if (this.#closed) throw new KvError("kv.closed", `The database ${this.#local.path} is closed; open it again.`);
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#flag === "r") {
      throw new KvError(
        "kv.readOnly",
        `The database ${this.#local.path} was opened read-only (flag "r"); open it with flag "w" or "c" to write.`,
      );
    }
  }

  #sync(): SyncContext {
    this.#checkOpen();
    if (!this.#ctx) {
      throw new KvError(
        "kv.offline",
        `The database ${this.#local.path} has no remote; open it with \`remote\` to sync.`,
      );
    }
    if (this.#offline) {
      throw new KvError(
        "kv.offline",
        `The database ${this.#local.path} is offline; open it again without \`offline\` to sync with ${this.#ctx.remote.url}.`,
      );
    }
    return this.#ctx;
  }

  /** Run remote operations of this handle one at a time. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The value of a key, or `undefined`. A value known only remotely is fetched (one ranged GET) and kept. */
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<V | undefined> {
    try {
      this.#checkOpen();
      checkKey(key);
      const hot = this.#local.getHot.get(key);
      if (hot === undefined || hot[2] === 1) return undefined;
      if (hot[1] === 1) return decodeValue(this.#codec, key, hot[0] ?? EMPTY);
      const row = this.#local.getRow.get(key);
      if (row === undefined || row.deleted === 1) return undefined;
      if (row.present === 1) return decodeValue(this.#codec, key, row.value ?? EMPTY);
      const fetched = await this.#fetch([row], options.signal);
      const bytes = fetched.get(key);
      return bytes === undefined ? undefined : decodeValue(this.#codec, key, bytes);
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Values of many keys (missing keys are absent from the map); remote values are fetched with coalesced ranged GETs. */
  async getMany(keys: Iterable<string>, options: { signal?: AbortSignal } = {}): Promise<Map<string, V>> {
    try {
      this.#checkOpen();
      const out = new Map<string, V>();
      const missing: Row[] = [];
      for (const key of keys) {
        checkKey(key);
        const row = this.#local.getRow.get(key);
        if (row === undefined || row.deleted === 1) continue;
        if (row.present === 1) out.set(key, decodeValue(this.#codec, key, row.value ?? EMPTY));
        else missing.push(row);
      }
      if (missing.length > 0) {
        const fetched = await this.#fetch(missing, options.signal);
        for (const row of missing) {
          const bytes = fetched.get(row.key);
          if (bytes !== undefined) out.set(row.key, decodeValue(this.#codec, row.key, bytes));
        }
      }
      return out;
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** True when the key has a value (locally, or known from the remote). No request is sent. */
  async has(key: string): Promise<boolean> {
    try {
      this.#checkOpen();
      checkKey(key);
      const row = this.#local.getRow.get(key);
      return row !== undefined && row.deleted === 0;
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Set a value (local only until the next push). `timestamp` overrides the modification time. */
  async set(key: string, value: V, options: { timestamp?: Date | number } = {}): Promise<void> {
    try {
      this.#checkWritable();
      checkKey(key);
      const bytes = encodeValue(this.#codec, key, value);
      this.#local.writeValue(key, bytes, options.timestamp === undefined ? nowMicros() : toMicros(options.timestamp));
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Set many values in one local transaction (all or nothing). */
  async setMany(entries: Iterable<readonly [string, V]>): Promise<void> {
    try {
      this.#checkWritable();
      const encoded: [string, Uint8Array][] = [];
      for (const [key, value] of entries) {
        checkKey(key);
        encoded.push([key, encodeValue(this.#codec, key, value)]);
      }
      this.#local.transaction(() => {
        for (const [key, bytes] of encoded) this.#local.writeValue(key, bytes, nowMicros());
      });
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Delete a key; `false` when it had no value. The deletion reaches the remote at the next push. */
  async delete(key: string): Promise<boolean> {
    try {
      this.#checkWritable();
      checkKey(key);
      return this.#local.transaction(() => this.#deleteOne(key));
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Delete many keys in one local transaction; returns how many had a value. */
  async deleteMany(keys: Iterable<string>): Promise<number> {
    try {
      this.#checkWritable();
      const list = [...keys];
      for (const key of list) checkKey(key);
      return this.#local.transaction(() => list.filter((key) => this.#deleteOne(key)).length);
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  #deleteOne(key: string): boolean {
    const row = this.#local.getRow.get(key);
    if (row === undefined || row.deleted === 1) return false;
    // A key the remote never had just disappears; one it has gets a tombstone for the next push.
    if (row.r_seg === null) this.#local.deleteRow.run(key);
    else this.#local.markDeleted.run(nowMicros(), key);
    return true;
  }

  /** Modification time of a key's current value, or `undefined`. */
  async getTimestamp(key: string): Promise<Date | undefined> {
    try {
      this.#checkOpen();
      checkKey(key);
      const row = this.#local.getRow.get(key);
      return row === undefined || row.deleted === 1 ? undefined : new Date(row.ts / 1000);
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /** Number of keys with a value. */
  async size(): Promise<number> {
    try {
      this.#checkOpen();
      return this.#local.count.get()!.n;
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  async *#rows(options: EntriesOptions): AsyncGenerator<Row[]> {
    const prefix = options.prefix ?? "";
    const page = this.#local.db.prepare<[{ after: string; prefix: string; limit: number }], Row>(
      `SELECT * FROM kv WHERE key > @after AND key >= @prefix AND substr(key, 1, length(@prefix)) = @prefix
       AND deleted = 0 ORDER BY key LIMIT @limit`,
    );
    let after = "";
    // Page by key, so no statement stays open across an await (other writers and this handle keep working).
    for (;;) {
      this.#checkOpen();
      options.signal?.throwIfAborted();
      let rows: Row[];
      try {
        rows = page.all({ after, prefix, limit: ITERATION_PAGE });
      } catch (error) {
        throw this.#local.mapError(error);
      }
      if (rows.length === 0) return;
      yield rows;
      after = rows[rows.length - 1]!.key;
      if (rows.length < ITERATION_PAGE) return;
    }
  }

  /** Keys in UTF-8 byte order, optionally under a prefix. No request is sent. */
  async *keys(options: EntriesOptions = {}): AsyncGenerator<string> {
    for await (const rows of this.#rows(options)) for (const row of rows) yield row.key;
  }

  /** `[key, value]` pairs in key order; values known only remotely are fetched a page at a time. */
  async *entries(options: EntriesOptions = {}): AsyncGenerator<[string, V]> {
    for await (const rows of this.#rows(options)) {
      const missing = rows.filter((row) => row.present === 0);
      let fetched: Map<string, Uint8Array> | undefined;
      try {
        fetched = missing.length > 0 ? await this.#fetch(missing, options.signal) : undefined;
      } catch (error) {
        throw this.#local.mapError(error);
      }
      for (const row of rows) {
        const bytes = row.present === 1 ? (row.value ?? EMPTY) : fetched?.get(row.key);
        if (bytes !== undefined) yield [row.key, decodeValue(this.#codec, row.key, bytes)];
      }
    }
  }

  /** Values in key order (see {@link Kv.entries}). */
  async *values(options: EntriesOptions = {}): AsyncGenerator<V> {
    for await (const [, value] of this.entries(options)) yield value;
  }

  /** What a push would send, against the remote state of the last pull or push. No request is sent. */
  async changes(): Promise<KvChanges> {
    try {
      this.#checkOpen();
      const out: KvChanges = { added: [], modified: [], deleted: [] };
      for (const row of this.#local.dirtyRows.iterate()) {
        if (row.deleted === 1) out.deleted.push(row.key);
        else if (row.r_seg === null) out.added.push(row.key);
        else out.modified.push(row.key);
      }
      return out;
    } catch (error) {
      throw this.#local.mapError(error);
    }
  }

  /**
   * Read the remote's changes: one conditional GET of the manifest, plus one ranged GET of the footer index of
   * each segment not seen yet. Values are fetched later, on read.
   */
  async pull(options: { onConflict?: OnConflict; signal?: AbortSignal } = {}): Promise<PullResult> {
    const ctx = this.#sync();
    return this.#serial(() => pull(ctx, options)).catch((error: unknown) => {
      throw this.#local.mapError(error);
    });
  }

  /**
   * Send local changes: one PUT of a new segment holding every changed value and deletion, and one conditional
   * PUT of the manifest. If another writer pushed meanwhile, its changes are pulled (conflicts settled by
   * `onConflict`) and the swap is retried.
   */
  async push(
    options: { onConflict?: OnConflict; signal?: AbortSignal; singleWriter?: boolean } = {},
  ): Promise<PushResult> {
    const ctx = this.#sync();
    this.#checkWritable();
    return this.#serial(() => push(ctx, options)).catch((error: unknown) => {
      throw this.#local.mapError(error);
    });
  }

  /** Rewrite the remote as one segment holding the newest value of each key; see the README for the grace period. */
  async compact(options: { graceMs?: number; signal?: AbortSignal } = {}): Promise<CompactResult> {
    const ctx = this.#sync();
    this.#checkWritable();
    if (options.graceMs !== undefined && (!Number.isInteger(options.graceMs) || options.graceMs < 0)) {
      throw new KvError("kv.invalidOptions", `Expected \`graceMs\` to be an integer >= 0, got \`${options.graceMs}\`.`);
    }
    return this.#serial(() => compact(ctx, options)).catch((error: unknown) => {
      throw this.#local.mapError(error);
    });
  }

  /** Close the local file (and the remote store when this handle opened it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#local.close();
    if (this.#ownsStore) await this.#remote?.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Fetch values known only remotely: coalesced ranged GETs per segment, each value checked against its CRC. */
  async #fetch(rows: Row[], signal: AbortSignal | undefined, retried = false): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (!this.#remote || this.#offline) {
      if (rows.length === 0) return out;
      throw new KvError(
        "kv.offline",
        `The value of key ${JSON.stringify(rows[0]!.key)} is not in ${this.#local.path} and the database is ${this.#remote ? "offline" : "local-only"}.`,
        { keys: rows.map((r) => r.key) },
      );
    }
    const remote = this.#remote;
    const manifest = cachedManifest(this.#local)?.manifest;
    const segmentKeys = new Map(manifest?.segments.map((s) => [s.id, s.key]) ?? []);
    const bySegment = new Map<string, Row[]>();
    for (const row of rows) {
      if (row.r_len === 0) {
        out.set(row.key, EMPTY);
        continue;
      }
      const list = bySegment.get(row.r_seg!) ?? [];
      list.push(row);
      bySegment.set(row.r_seg!, list);
    }
    const ranges: { segmentKey: string; start: number; end: number; rows: Row[] }[] = [];
    for (const [segmentId, list] of bySegment) {
      const segmentKey = segmentKeys.get(segmentId) ?? `segments/${segmentId}.kvseg`;
      list.sort((a, b) => a.r_off! - b.r_off!);
      let current: (typeof ranges)[number] | undefined;
      for (const row of list) {
        const start = row.r_off!;
        const end = start + row.r_len! - 1;
        if (current && start - current.end <= COALESCE_GAP_BYTES) {
          current.end = Math.max(current.end, end);
          current.rows.push(row);
        } else {
          current = { segmentKey, start, end, rows: [row] };
          ranges.push(current);
        }
      }
    }
    const limit = createLimit(FETCH_CONCURRENCY);
    let missingSegment = false;
    await Promise.all(
      ranges.map((range) =>
        limit(async () => {
          signal?.throwIfAborted();
          let bytes: Buffer;
          try {
            bytes = Buffer.from(
              await readRange(remote, range.segmentKey, { start: range.start, end: range.end }, signal),
            );
          } catch (error) {
            if (isObjectStoreError(error, "notFound")) {
              missingSegment = true;
              return;
            }
            throw error;
          }
          for (const row of range.rows) {
            const value = bytes.subarray(row.r_off! - range.start, row.r_off! - range.start + row.r_len!);
            if (value.length !== row.r_len || valueCrc(value) !== row.r_crc) {
              throw new KvError(
                "kv.integrity",
                `The value of key ${JSON.stringify(row.key)} in ${remote.url}${range.segmentKey} fails its checksum; it was not used. Restore the segment or push the key again.`,
                { keys: [row.key] },
              );
            }
            out.set(row.key, value);
          }
        }),
      ),
    );
    // Kept even with flag "r": the local file is a cache of the remote.
    if (!this.#closed) this.#storeFetched(rows, out);
    if (missingSegment) {
      // A compaction retired the segment and its grace period passed: learn the new layout once, then retry.
      const pending = rows.filter((row) => !out.has(row.key));
      if (retried) {
        throw new KvError(
          "kv.integrity",
          `The segment holding key ${JSON.stringify(pending[0]?.key)} is missing from ${remote.url}; pull again, or restore it.`,
          { keys: pending.map((r) => r.key) },
        );
      }
      await this.pull({ ...(signal ? { signal } : {}) });
      const again = pending
        .map((row) => this.#local.getRow.get(row.key))
        .filter((row): row is Row => row !== undefined && row.deleted === 0);
      const local = again.filter((row) => row.present === 1);
      for (const row of local) out.set(row.key, row.value ?? EMPTY);
      const more = await this.#fetch(
        again.filter((row) => row.present === 0),
        signal,
        true,
      );
      for (const [key, value] of more) out.set(key, value);
    }
    return out;
  }

  #storeFetched(rows: Row[], values: Map<string, Uint8Array>): void {
    this.#local.transaction(() => {
      for (const row of rows) {
        const value = values.get(row.key);
        // Only if the key still points at the version fetched (no local write or pull in between).
        if (value !== undefined) this.#local.storeFetched.run(value, row.key, row.r_seg!, row.r_off!);
      }
    });
  }
}

function toMicros(timestamp: Date | number): number {
  const ms = timestamp instanceof Date ? timestamp.getTime() : timestamp;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new KvError(
      "kv.invalidOptions",
      `Expected \`timestamp\` to be a Date or ms since the epoch, got \`${String(timestamp)}\`.`,
    );
  }
  return Math.round(ms * 1000);
}

function invalidOptions(error: z.ZodError, options: unknown): KvError {
  const issue = error.issues[0]!;
  const name = issue.path.join(".") || "options";
  const value = issue.path.length > 0 ? (options as Record<string, unknown>)[String(issue.path[0])] : options;
  const shown = name.startsWith("remoteOptions") ? "…" : (JSON.stringify(value) ?? String(value));
  return new KvError("kv.invalidOptions", `openKv: invalid \`${name}\` (${shown}): ${issue.message}.`, {
    cause: error,
  });
}

/**
 * Open (or create) a database. With a remote, one GET of the manifest checks that it exists and uses the same
 * codec, and (with `pullOnOpen`) its new segments are pulled.
 * @throws KvError `kv.notFound`, `kv.codecMismatch`, `kv.remote`, `kv.corruptLocal`, `kv.invalidOptions`
 */
// biome-ignore lint/suspicious/noExplicitAny: any codec value type; Codec is invariant in V
export async function openKv<C extends CodecName | Codec<any> = "json">(
  options: OpenKvOptions<C>,
): Promise<Kv<ValueOfCodec<C>>> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw invalidOptions(parsed.error, options);
  const flag: KvFlag = options.flag ?? "c";
  const codec = resolveCodec<ValueOfCodec<C>>(options.codec as CodecName | Codec<ValueOfCodec<C>> | undefined);
  const logger = options.logger ?? silentLogger;
  const signal = options.signal;
  signal?.throwIfAborted();

  let remote: Remote | undefined;
  let ownsStore = false;
  if (options.remote !== undefined) {
    let url: string;
    try {
      const location = parseLocation(options.remote);
      url = formatLocation(location);
      if (!url.endsWith("/")) url += "/";
      const store = options.store ?? openObjectStore(location, { ...options.remoteOptions, logger });
      ownsStore = options.store === undefined;
      remote = {
        store,
        url,
        requests: 0,
        logger,
        singleWriter: options.singleWriter ?? false,
        probeOptions: options.remoteOptions,
      };
    } catch (error) {
      throw new KvError("kv.invalidOptions", `openKv: invalid \`remote\`: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  let offline = options.offline ?? false;
  let fetched: Awaited<ReturnType<typeof readManifest>> | undefined;
  try {
    if (remote && !offline) {
      try {
        fetched = await readManifest(remote, { signal });
        if (flag !== "r") await learnConditionalPut(remote, signal);
      } catch (error) {
        if (flag === "r" && isNetworkFailure(error)) {
          logger.warn("kv: remote unreachable; serving local data (offline)", { url: remote.url });
          offline = true;
        } else throw error;
      }
    }
    const remoteManifest = fetched === "notModified" ? undefined : fetched;
    if (remoteManifest && remoteManifest.manifest.codec !== codec.id) {
      throw new KvError(
        "kv.codecMismatch",
        `The remote ${remote!.url} was written with codec \`${remoteManifest.manifest.codec}\`, not \`${codec.id}\`; open it with codec: ${JSON.stringify(remoteManifest.manifest.codec)}.`,
      );
    }
    const localExists = existsSync(options.path);
    if ((flag === "r" || flag === "w") && !localExists && !remoteManifest) {
      throw new KvError(
        "kv.notFound",
        `No database at ${options.path}${remote ? ` or ${remote.url}` : ""}${offline ? " (remote offline)" : ""}; open it with flag "c" to create it.`,
      );
    }
    const local = new LocalDb(options.path, { create: true, remote: remote?.url });
    try {
      const localCodec = local.getMeta("codec");
      if (localCodec !== undefined && localCodec !== codec.id && flag !== "n") {
        throw new KvError(
          "kv.codecMismatch",
          `The local database ${options.path} was written with codec \`${localCodec}\`, not \`${codec.id}\`; open it with codec: ${JSON.stringify(localCodec)}.`,
        );
      }
      const boundRemote = local.getMeta("remote");
      if (remote && boundRemote !== undefined && boundRemote !== remote.url && flag !== "n") {
        throw new KvError(
          "kv.invalidOptions",
          `openKv: ${options.path} is a replica of ${boundRemote}, not ${remote.url}; use another local path for this remote.`,
        );
      }
      if (flag === "n") {
        local.transaction(() => {
          local.db.exec("DELETE FROM kv; DELETE FROM segments; DELETE FROM meta");
          if (remote) local.setMeta("replace", "1");
        });
      }
      if (flag !== "r" || local.getMeta("codec") === undefined) {
        local.transaction(() => {
          local.setMeta("codec", codec.id);
          if (remote) local.setMeta("remote", remote.url);
        });
      }
    } catch (error) {
      local.close();
      throw error;
    }
    const kv = new Kv<ValueOfCodec<C>>({
      local,
      codec,
      remote,
      ownsStore,
      flag,
      offline,
      onConflict: options.onConflict ?? "newest",
      graceMs: options.graceMs ?? 3_600_000,
    });
    const stale = remoteManifest !== undefined && local.getMeta("etag") !== remoteManifest.etag;
    if (remote && !offline && remoteManifest && stale && flag !== "n" && (options.pullOnOpen ?? true)) {
      try {
        await pull(
          { local, remote, codecId: codec.id, onConflict: options.onConflict ?? "newest", graceMs: 0 },
          { signal },
          remoteManifest,
        );
      } catch (error) {
        await kv.close();
        throw error;
      }
    }
    return kv;
  } catch (error) {
    if (ownsStore) await remote?.store.close();
    throw isSqliteCorruption(error) ? corruptLocalError(options.path, remote?.url, error) : error;
  }
}

export type { CompactResult, Conflict, OnConflict, PullResult, PushResult };
