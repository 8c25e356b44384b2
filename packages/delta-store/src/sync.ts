import { utimes } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  applySyncPlan,
  checkPlanRails,
  createPathFilter as createEngineFilter,
  type DeleteManyResult,
  formatLocation,
  isSyncError,
  type Location,
  type ObjectStore,
  type ProgressCallback,
  planSync,
  type RemoteFileInfo,
  type SyncFailure,
  type SyncPlan,
  type SyncSummary,
  summaryOf,
} from "@toolkit/shared";
import type { DeltaStore, PutOptions } from "./delta-store.ts";
import { DeltaError } from "./errors.ts";
import type { EngineChoice } from "./options.ts";
import { createPathFilter, type SyncFilter } from "./path-filter.ts";

// delta-store's sync is a thin user of the shared sync engine (`planSync` / `applySyncPlan` of
// `@toolkit/shared`): the engine scans, filters (its one rclone-like dialect), plans, applies and keeps every
// delete rail; this module supplies the deltaspace's listing (logical files, original sizes), the per-item
// put/get (encode / reconstruct) and the per-item delete (which also releases unused references).

export interface SyncOptions {
  /** Delete destination files that the source does not have, within the engine's delete rails. @default false */
  delete?: boolean;
  /** Plan only: report what would be transferred and deleted. @default false */
  dryRun?: boolean;
  /** Globs of relative paths to leave out (the engine's dialect: rclone-like, see `@toolkit/shared`). */
  exclude?: string[];
  /** Globs of relative paths to take part; when given, every other path is left out. */
  include?: string[];
  /**
   * Ordered rules, later rules win (`delta cp --recursive`'s dialect), applied to the plan's transfers.
   * Not with `delete` (the delete rails count with the engine's filter only).
   */
  filters?: SyncFilter[];
  /** Delete rail 3: refuse a plan deleting more files than this (given alone, it replaces the share limit). */
  maxDelete?: number;
  /** Delete rail 3: refuse a plan deleting more than this share of the destination's files. @default 50 */
  maxDeletePercent?: number;
  /** Delete rail 2: let an empty source delete every destination file. @default false */
  allowEmptySource?: boolean;
  /** The engine's state file (makes a no-change re-run cheap); `false` for none. @default in the cache folder */
  statePath?: string | false;
  /** Files transferred at once. @default the store's `concurrency` */
  concurrency?: number;
  /** Upload options (per file). */
  maxRatio?: number;
  engine?: EngineChoice;
  noDelta?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface SyncResult {
  direction: "upload" | "download";
  dryRun: boolean;
  /** Logical keys (upload) or relative paths (download) transferred, or to transfer in a dry run. */
  transferred: string[];
  skipped: string[];
  /** Keys or paths deleted (or to delete) at the destination. */
  deleted: string[];
  /** Failed items: listing problems (a corrupt or hostile entry), scan errors, transfers, deletes. */
  failed: { key: string; code: string; error: string }[];
  /** Bytes of the transferred files. */
  bytes: number;
  /** Why `delete` deleted nothing (a listing or transfer error, rail 4/5). */
  deleteBlocked?: string;
  warnings: string[];
  /** The engine's summary of the run. */
  summary: SyncSummary;
  /** The engine's plan (dry runs only). */
  plan?: SyncPlan;
}

/** A local path: absolute, or starting with `./`, `../`, `.` or `~/`… (store keys never look like that). */
export function isLocalPath(value: string): boolean {
  return (
    value.startsWith("/") ||
    value === "." ||
    value === ".." ||
    value.startsWith("./") ||
    value.startsWith("../") ||
    value.startsWith(".\\") ||
    /^[A-Za-z]:[\\/]/.test(value)
  );
}

/** Temp files of an interrupted `get` (`<name>.<id>.s3kit-part`): never anyone's data, never synced. */
const TEMP_FILES = "*.s3kit-part";

/**
 * The delta store's object store seen from `prefix` (a folder, ending in `/`): keys relative to it, and a
 * location and URL of its own, so the engine's prefix boundary (rail 6) and state file are the sync's.
 */
function storeAt(base: ObjectStore, prefix: string): ObjectStore {
  const location: Location =
    base.location.kind === "s3"
      ? { kind: "s3", bucket: base.location.bucket, prefix: base.location.prefix + prefix }
      : { kind: "file", root: join(base.location.root, ...prefix.split("/").filter((s) => s !== "")) };
  const k = (key: string) => prefix + key;
  const strip = (key: string) => key.slice(prefix.length);
  const listUploads = base.listMultipartUploads?.bind(base);
  const abortUpload = base.abortMultipartUpload?.bind(base);
  return {
    location,
    url: formatLocation(location),
    head: async (key, options) => {
      const info = await base.head(k(key), options);
      return info && { ...info, key };
    },
    get: async (key, options) => Object.assign(await base.get(k(key), options), { key }),
    getBytes: (key, options) => base.getBytes(k(key), options),
    put: (key, body, options) => base.put(k(key), body, options),
    delete: (key, options) => base.delete(k(key), options),
    deleteMany: async (keys, options) => {
      const all: string[] = [];
      for await (const key of keys) all.push(k(key));
      const out = await base.deleteMany(all, options);
      return { deleted: out.deleted.map(strip), errors: out.errors.map((e) => ({ ...e, key: strip(e.key) })) };
    },
    list: async function* (options = {}) {
      const { prefix: under, startAfter, ...rest } = options;
      for await (const entry of base.list({
        ...rest,
        prefix: prefix + (under ?? ""),
        ...(startAfter !== undefined ? { startAfter: k(startAfter) } : {}),
      })) {
        yield entry.kind === "prefix" ? { ...entry, prefix: strip(entry.prefix) } : { ...entry, key: strip(entry.key) };
      }
    },
    copy: (source, destination, options) => base.copy(k(source), k(destination), options),
    ...(listUploads
      ? {
          listMultipartUploads: async function* (options?: { signal?: AbortSignal }) {
            for await (const upload of listUploads(options)) {
              if (upload.key.startsWith(prefix)) yield { ...upload, key: strip(upload.key) };
            }
          },
        }
      : {}),
    ...(abortUpload
      ? {
          abortMultipartUpload: (key: string, id: string, options?: { signal?: AbortSignal }) =>
            abortUpload(k(key), id, options),
        }
      : {}),
    // The delta store owns the base store's sockets.
    close: async () => {},
  };
}

/**
 * Sync a local directory and a store prefix through the shared sync engine. The direction follows the
 * arguments: a local path (absolute or starting with `./` / `../`) as `source` uploads; as `destination` it
 * downloads. Items are compared as the engine does (size and mtime, with its state file); a download sets
 * each file's mtime to the stored file's LastModified. Listing entries that cannot be read (corrupt or hostile
 * metadata) are failed items and block every delete of the run.
 * @throws SyncError `sync.sourceNotFound` (rail 1), `sync.emptySource` (rail 2), `sync.tooManyDeletes`
 * (rail 3) before any change, `sync.aborted`; DeltaError `delta.invalidOptions`.
 */
export async function syncStore(
  deltaStore: DeltaStore,
  base: ObjectStore,
  source: string,
  destination: string,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const sourceLocal = isLocalPath(source);
  if (sourceLocal === isLocalPath(destination)) {
    throw new DeltaError(
      "delta.invalidOptions",
      `sync: exactly one of \`${source}\` and \`${destination}\` must be a local path (absolute or starting with ./); the other is a store prefix.`,
    );
  }
  if (options.filters && options.filters.length > 0 && options.delete) {
    throw new DeltaError(
      "delta.invalidOptions",
      "sync: ordered `filters` cannot be combined with `delete`; give `exclude` / `include` (the engine's filter) instead.",
    );
  }
  const { signal } = options;
  const upload = sourceLocal;
  const prefixArg = (upload ? destination : source).replace(/^\/+/, "");
  const prefix = prefixArg === "" || prefixArg.endsWith("/") ? prefixArg : `${prefixArg}/`;
  const local = resolve(upload ? source : destination);
  const store = storeAt(base, prefix);
  const exclude = [...(options.exclude ?? []), TEMP_FILES];
  const include = options.include ?? [];
  const engineFilter = createEngineFilter(exclude, include);

  // Listing entries that cannot be used (their metadata is corrupt or hostile): failed items, never listed to
  // the engine (so never transferred over, compared or deleted), and they block every delete (rail 4).
  const problems = new Map<string, string>();
  const list = async function* ({ signal: listSignal }: { signal?: AbortSignal }): AsyncIterable<RemoteFileInfo> {
    problems.clear();
    for await (const entry of deltaStore.list(prefix, listSignal ? { signal: listSignal } : {})) {
      if (entry.kind === "folder" || !entry.key.startsWith(prefix)) continue;
      const key = entry.key.slice(prefix.length);
      if (entry.problem !== undefined) {
        if (engineFilter.accepts(key)) problems.set(key, entry.problem);
        continue;
      }
      const lastModifiedMs = entry.lastModified.getTime();
      // mtimeMs: a download sets each file's mtime to this, so the next run compares without a HEAD.
      yield { key, size: entry.size, etag: entry.etag, lastModifiedMs, mtimeMs: lastModifiedMs };
    }
  };

  const plan = await planSync({
    direction: upload ? "upload" : "download",
    local,
    store,
    exclude,
    include,
    delete: options.delete ?? false,
    ...(options.maxDelete !== undefined ? { maxDelete: options.maxDelete } : {}),
    ...(options.maxDeletePercent !== undefined ? { maxDeletePercent: options.maxDeletePercent } : {}),
    allowEmptySource: options.allowEmptySource ?? false,
    ...(options.statePath !== undefined ? { statePath: options.statePath } : {}),
    list,
    ...(signal ? { signal } : {}),
  });
  addListingProblems(plan, problems);
  if (options.filters && options.filters.length > 0) keepOrdered(plan, createPathFilter({ filters: options.filters }));

  const storeKey = (key: string) => (upload ? prefix + key : key);
  const result: SyncResult = {
    direction: plan.direction,
    dryRun: options.dryRun ?? false,
    transferred: [],
    skipped: plan.skips.map((s) => storeKey(s.key)),
    deleted: [],
    failed: [],
    bytes: 0,
    warnings: [],
    summary: summaryOf(plan, true),
  };
  if (result.dryRun) {
    result.transferred = plan.transfers.map((t) => storeKey(t.key));
    result.bytes = plan.totals.transferBytes;
    if (!plan.deleteBlocked) result.deleted = plan.deletes.map((d) => storeKey(d.key));
    return finish(result, plan.errors, storeKey, plan);
  }

  const putOptions: PutOptions = {
    ...(options.maxRatio !== undefined ? { maxRatio: options.maxRatio } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.noDelta !== undefined ? { noDelta: options.noDelta } : {}),
  };
  const transferred: string[] = [];
  const deletedKeys: string[] = [];
  const summary = await applySyncPlan(plan, {
    store,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    // DeltaStore.put / get retry their own requests; a failed item is reported, not replayed whole.
    attempts: 1,
    transfer: async (item, context) => {
      const onProgress: ProgressCallback = (p) => context.onBytes(p.loadedBytes);
      const itemSignal = context.signal ? { signal: context.signal } : {};
      if (upload) {
        const put = await deltaStore.put(item.path, prefix + item.key, { ...putOptions, ...itemSignal, onProgress });
        transferred.push(prefix + item.key);
        // The stored object's ETag is not known here; the engine's next run adopts the listed one.
        return { etag: "", size: put.fileBytes };
      }
      const got = await deltaStore.get(prefix + item.key, item.path, { ...itemSignal, onProgress });
      // The file gets the stored file's LastModified, which the listing gives as its mtime (no HEAD next run).
      const mtime = new Date(item.mtimeMs);
      await utimes(item.path, mtime, mtime);
      transferred.push(item.key);
      return { etag: item.etag ?? "", size: got.bytes };
    },
    deleteItems: async (keys, context): Promise<DeleteManyResult> => {
      const wanted = new Set(keys.map((key) => prefix + key));
      const out = await deltaStore.deletePrefix(prefix, {
        filter: (key) => wanted.has(key),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      const strip = (key: string) => key.slice(prefix.length).replace(/\.delta$/, "");
      deletedKeys.push(...out.deleted);
      return {
        deleted: out.deleted.map(strip),
        errors: out.failed.map((f) => ({ key: strip(f.key), code: "delta.storage", message: f.error })),
      };
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    if (isSyncError(error, "sync.aborted") && error.summary) result.summary = error.summary;
    throw error;
  });
  result.summary = summary;
  result.transferred = transferred.sort();
  result.bytes = summary.transferredBytes;
  if (upload) result.deleted = deletedKeys.sort();
  else if (summary.deleted > 0) {
    const failedDeletes = new Set(summary.failures.filter((f) => f.action === "delete").map((f) => f.key));
    result.deleted = plan.deletes.filter((d) => !failedDeletes.has(d.key)).map((d) => d.key);
  }
  return finish(result, summary.failures, storeKey);
}

function finish(
  result: SyncResult,
  failures: readonly SyncFailure[],
  storeKey: (key: string) => string,
  plan?: SyncPlan,
): SyncResult {
  result.failed = failures.map((f) => ({
    key: f.key !== undefined ? storeKey(f.key) : (f.path ?? ""),
    code: f.code,
    error: f.message,
  }));
  result.warnings = [...result.summary.warnings];
  if (result.summary.deleteBlocked) result.deleteBlocked = result.summary.deleteBlocked;
  if (plan) result.plan = plan;
  return result;
}

/** Listing problems become the plan's listing errors, and the delete rails are decided again with them. */
function addListingProblems(plan: SyncPlan, problems: ReadonlyMap<string, string>): void {
  if (problems.size === 0) return;
  for (const [key, message] of problems) {
    plan.errors.push({ action: "list", key, code: "delta.integrity", message: `${key}: ${message}` });
  }
  plan.totals.errors = plan.errors.length;
  if (!plan.delete) return;
  const block = checkPlanRails(plan);
  if (block) plan.deleteBlocked = block;
}

/** `cp --recursive`'s ordered rules, applied to what the plan transfers and skips (it deletes nothing). */
function keepOrdered(plan: SyncPlan, accepts: (path: string) => boolean): void {
  plan.transfers = plan.transfers.filter((t) => accepts(t.key));
  plan.skips = plan.skips.filter((s) => accepts(s.key));
  plan.totals.transferFiles = plan.transfers.length;
  plan.totals.transferBytes = plan.transfers.reduce((n, t) => n + t.size, 0);
  plan.totals.skipFiles = plan.skips.length;
  plan.totals.skipBytes = plan.skips.reduce((n, s) => n + s.size, 0);
}
