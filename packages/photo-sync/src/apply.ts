import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import {
  abortReason,
  isObjectStoreError,
  type ObjectStore,
  type PutOptions,
  parseLocation,
  retry,
  silentLogger,
} from "@toolkit/shared";
import { PhotoSyncError } from "./errors.ts";
import { partSizeFor } from "./hash.ts";
import { type ApplyPlanOptions, applyOptionsSchema, parseOptions } from "./options.ts";
import {
  connectionOf,
  filterFor,
  META_MTIME,
  META_PART_SIZE,
  META_SHA256,
  openStore,
  type PlanContext,
  type PlannedUpload,
  planContext,
  type SyncPlan,
} from "./plan.ts";
import { SyncState } from "./state.ts";

/** One item that failed; the run went on without it. */
export interface SyncFailure {
  action: "scan" | "upload" | "delete";
  /** The object key (uploads, deletes). */
  key?: string;
  /** The local path relative to the source (scan errors). */
  path?: string;
  code: string;
  message: string;
}

/** What a run did. `failed > 0` means a partial failure (the CLI exits with 3). */
export interface SyncSummary {
  source: string;
  destination: string;
  dryRun: boolean;
  /** True when the run was interrupted; counts are what was done until then. */
  aborted: boolean;
  scanned: number;
  scannedBytes: number;
  uploaded: number;
  uploadedBytes: number;
  skipped: number;
  skippedBytes: number;
  deleted: number;
  /** Scan errors + failed uploads + failed deletes. */
  failed: number;
  excluded: number;
  symlinks: number;
  /** Objects under the prefix without a local file. */
  orphans: number;
  /** Why orphans were not deleted, when `deleteOrphans` was asked for and deletion was blocked. */
  deleteBlocked?: string;
  failures: SyncFailure[];
  warnings: string[];
  durationMs: number;
}

const STATE_SAVE_INTERVAL_MS = 30_000;
/** Multipart (large) files uploaded at once, at most; see `largeSlots` in {@link applyPlan}. */
const MAX_LARGE_FILES_IN_FLIGHT = 4;

/** The summary of a plan before anything was done (a dry run, or the start of an apply). */
export function summaryOf(plan: SyncPlan, dryRun: boolean): SyncSummary {
  return {
    source: plan.source,
    destination: plan.destination,
    dryRun,
    aborted: false,
    scanned: plan.totals.scannedFiles,
    scannedBytes: plan.totals.scannedBytes,
    uploaded: 0,
    uploadedBytes: 0,
    skipped: plan.totals.skipFiles,
    skippedBytes: plan.totals.skipBytes,
    deleted: 0,
    failed: plan.errors.length,
    excluded: plan.totals.excluded,
    symlinks: plan.totals.symlinks,
    orphans: plan.totals.orphans,
    ...(plan.deleteBlocked?.code === "scanErrors" ? { deleteBlocked: plan.deleteBlocked.message } : {}),
    failures: plan.errors.map((e) => ({ action: "scan" as const, path: e.path, code: e.code, message: e.message })),
    warnings: [...plan.warnings],
    durationMs: 0,
  };
}

function errorCode(error: unknown): string {
  if (isObjectStoreError(error)) return error.code;
  const e = error as { code?: string; name?: string };
  return e.code ?? e.name ?? "unknown";
}

async function contextFor(plan: SyncPlan, options: ApplyPlanOptions): Promise<PlanContext> {
  const known = planContext(plan);
  if (known) return { ...known, connection: { ...known.connection, ...connectionOf(options) } };
  // A plan read back from JSON: rebuild what it needs.
  if (typeof plan?.destination !== "string" || !Array.isArray(plan.uploads) || !Array.isArray(plan.deletes)) {
    throw new PhotoSyncError(
      "photoSync.invalidPlan",
      "applyPlan: `plan` is not a plan made by planSync: make one first.",
    );
  }
  const meta = { source: plan.source, destination: plan.destination };
  return {
    connection: connectionOf(options),
    location: parseLocation(plan.destination),
    state: await SyncState.load(plan.statePath, meta),
    filter: filterFor(plan.exclude ?? [], plan.include ?? []),
  };
}

/**
 * Carry out a plan: upload (bounded concurrency, multipart above the threshold, retries with jitter),
 * then delete orphans (batches of 1,000). Failed items are reported in the summary and the run goes on.
 * On abort, stops starting work, aborts uploads in flight (multipart uploads are aborted on the server),
 * saves the state and rejects with `photoSync.aborted` carrying the summary so far.
 * @throws PhotoSyncError `photoSync.tooManyDeletes` before doing anything when the plan deletes more than `maxDelete`.
 */
export async function applyPlan(plan: SyncPlan, options: ApplyPlanOptions = {}): Promise<SyncSummary> {
  const opts = parseOptions(applyOptionsSchema, options, "applyPlan");
  const started = performance.now();
  const { signal } = opts;
  const logger = opts.logger ?? silentLogger;
  const ctx = await contextFor(plan, opts);
  if (plan.deleteBlocked?.code === "tooManyDeletes" || plan.deletes.length > plan.maxDelete) {
    throw new PhotoSyncError(
      "photoSync.tooManyDeletes",
      plan.deleteBlocked?.message ??
        `Refusing to delete ${plan.deletes.length} objects (more than maxDelete ${plan.maxDelete}): raise maxDelete.`,
    );
  }
  signal?.throwIfAborted();
  const summary = summaryOf(plan, false);
  const meta = { source: plan.source, destination: plan.destination };
  const { store, owned } = openStore(ctx.location, ctx.connection, opts.concurrency);
  const { state } = ctx;
  let lastSave = Date.now();
  let saving: Promise<void> = Promise.resolve();
  const saveState = () => {
    saving = saving.then(() =>
      state.save(meta).catch((error: unknown) => {
        logger.warn("photo-sync could not save its state file", { path: state.path, error: String(error) });
      }),
    );
    return saving;
  };

  // Large files (multipart): at most `largeSlots` at once, each with `concurrency / slots` parts in flight.
  // The same number of parts on the wire as `concurrency` files would put there, but memory stays
  // about `largeSlots × (threshold + partConcurrency × partSize)` instead of `concurrency ×` that: a
  // library of 50 MB raw files would otherwise hold 16 files' buffers at once. The last few large files
  // get more parts each, so the tail does not crawl at 2 parts at a time.
  const largeSlots = Math.max(1, Math.min(MAX_LARGE_FILES_IN_FLIGHT, Math.floor(opts.concurrency / 4)));
  let largeLeft = plan.uploads.filter((u) => u.size > plan.multipartThresholdBytes).length;
  let largeActive = 0;
  const largeWaiters: (() => void)[] = [];
  const acquireLarge = async (): Promise<number> => {
    while (largeActive >= largeSlots && !signal?.aborted) {
      await new Promise<void>((resolve) => largeWaiters.push(resolve));
    }
    largeActive++;
    const sharing = Math.max(1, Math.min(largeSlots, largeLeft));
    largeLeft = Math.max(0, largeLeft - 1);
    return opts.partConcurrency ?? Math.min(8, Math.max(2, Math.ceil(opts.concurrency / sharing)));
  };
  const releaseLarge = () => {
    largeActive--;
    largeWaiters.shift()?.();
  };
  const wakeAll = () => {
    for (const wake of largeWaiters.splice(0)) wake();
  };
  signal?.addEventListener("abort", wakeAll, { once: true });
  const totalBytes = plan.totals.uploadBytes;
  const totalItems = plan.uploads.length;
  let doneBytes = 0;
  let uploadFailures = 0;
  const inFlight = new Map<string, number>();
  const report = (current?: string) => {
    if (!opts.onProgress) return;
    let loaded = doneBytes;
    for (const bytes of inFlight.values()) loaded += bytes;
    opts.onProgress({
      loadedBytes: loaded,
      totalBytes,
      completedItems: summary.uploaded + uploadFailures,
      totalItems,
      ...(current ? { current } : {}),
    });
  };
  async function uploadOne(item: PlannedUpload): Promise<void> {
    let holdsLarge = false;
    let size = item.size;
    let mtimeMs = item.mtimeMs;
    try {
      // The file may have changed since the plan: upload what is there now, and record that.
      const now = await stat(item.path);
      size = now.size;
      mtimeMs = now.mtimeMs;
      const multipart = size > plan.multipartThresholdBytes;
      const partSizeBytes = partSizeFor(size, plan.partSizeBytes);
      const metadata: Record<string, string> = { [META_MTIME]: (mtimeMs / 1000).toFixed(3) };
      if (multipart) metadata[META_PART_SIZE] = String(partSizeBytes);
      if (item.sha256 && size === item.size && mtimeMs === item.mtimeMs) metadata[META_SHA256] = item.sha256;
      const partConcurrency = multipart ? await acquireLarge() : 1;
      if (multipart) holdsLarge = true;
      signal?.throwIfAborted();
      inFlight.set(item.key, 0);
      const result = await retry(
        async () => {
          const putOptions: PutOptions = {
            metadata,
            contentType: item.contentType,
            multipartThresholdBytes: plan.multipartThresholdBytes,
            partSizeBytes,
            partConcurrency,
            contentLength: size,
            ...(opts.storageClass ? { storageClass: opts.storageClass } : {}),
            ...(signal ? { signal } : {}),
            onProgress: (p) => {
              inFlight.set(item.key, p.loadedBytes);
              report(item.key);
            },
          };
          // Small files are read whole (one PUT the SDK can replay); large ones are streamed in parts.
          if (multipart) {
            // Cancel a multipart upload by failing its body, not through `signal`: on its own abort lib-storage
            // rejects at once and sends AbortMultipartUpload later, in the background (after the CLI may have
            // exited, leaving the parts billed). A failing body makes it abort the upload on the server first,
            // then reject. Parts already in flight finish (lib-storage cannot cancel them either way).
            const { signal: _signal, ...streamOptions } = putOptions;
            return store.put(item.key, createReadStream(item.path, signal ? { signal } : {}), streamOptions);
          }
          const bytes = await readFile(item.path, signal ? { signal } : {});
          if (bytes.length !== size) {
            throw Object.assign(new Error("the file changed while it was read"), { code: "ECHANGED" });
          }
          return store.put(item.key, bytes, putOptions);
        },
        {
          attempts: opts.attempts,
          ...(signal ? { signal } : {}),
          onRetry: ({ error, attempt, delayMs }) =>
            logger.warn("photo-sync retrying an upload", { key: item.key, attempt, delayMs, error: String(error) }),
        },
      );
      if (result.size !== size) {
        throw Object.assign(new Error(`the file changed during the upload (${size} → ${result.size} bytes)`), {
          code: "ECHANGED",
        });
      }
      state.set(item.key, {
        size,
        mtimeMs,
        etag: result.etag,
        ...(result.partSizeBytes ? { partSizeBytes: result.partSizeBytes } : {}),
      });
      summary.uploaded++;
      summary.uploadedBytes += size;
    } catch (error) {
      if (signal?.aborted) return;
      uploadFailures++;
      state.delete(item.key);
      summary.failures.push({
        action: "upload",
        key: item.key,
        code: errorCode(error),
        message: `upload of ${item.key} failed: ${(error as Error).message}`,
      });
      logger.warn("photo-sync upload failed", { key: item.key, error: String(error) });
    } finally {
      if (holdsLarge) releaseLarge();
      inFlight.delete(item.key);
      doneBytes += item.size;
      report();
      if (Date.now() - lastSave > STATE_SAVE_INTERVAL_MS) {
        lastSave = Date.now();
        void saveState();
      }
    }
  }

  try {
    let next = 0;
    const worker = async () => {
      while (!signal?.aborted && next < plan.uploads.length) await uploadOne(plan.uploads[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, plan.uploads.length) }, worker));

    if (!signal?.aborted && plan.deletes.length > 0) {
      // Belt and braces: never delete a key the filter excludes, nor one the plan uploads or keeps.
      const keep = new Set<string>([...plan.uploads.map((u) => u.key), ...plan.skips.map((s) => s.key)]);
      const keys = plan.deletes.map((d) => d.key).filter((key) => !keep.has(key) && ctx.filter.accepts(key));
      for (let i = 0; i < keys.length && !signal?.aborted; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        try {
          const result = await retry(() => store.deleteMany(batch, signal ? { signal } : {}), {
            attempts: opts.attempts,
            ...(signal ? { signal } : {}),
          });
          summary.deleted += result.deleted.length;
          for (const key of result.deleted) state.delete(key);
          for (const e of result.errors) {
            summary.failures.push({
              action: "delete",
              key: e.key,
              code: e.code,
              message: `delete of ${e.key} failed: ${e.message}`,
            });
          }
        } catch (error) {
          if (signal?.aborted) break;
          for (const key of batch) {
            summary.failures.push({
              action: "delete",
              key,
              code: errorCode(error),
              message: `delete of ${key} failed: ${(error as Error).message}`,
            });
          }
        }
      }
    }
  } finally {
    signal?.removeEventListener("abort", wakeAll);
    await saveState();
    if (owned) await closeQuietly(store);
  }
  summary.failed = summary.failures.length;
  summary.durationMs = Math.round(performance.now() - started);
  if (signal?.aborted) {
    summary.aborted = true;
    throw new PhotoSyncError(
      "photoSync.aborted",
      `Interrupted: ${summary.uploaded} of ${plan.uploads.length} file(s) uploaded; run again to resume.`,
      { cause: abortReason(signal), summary },
    );
  }
  return summary;
}

async function closeQuietly(store: ObjectStore): Promise<void> {
  await store.close().catch(() => {});
}
