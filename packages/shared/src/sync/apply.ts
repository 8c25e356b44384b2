import { access, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { abortReason, isObjectStoreError } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import type { ObjectStore } from "../object-store.ts";
import { retry } from "../retry.ts";
import { downloadFile } from "./download-file.ts";
import { SyncError } from "./errors.ts";
import { createPathFilter } from "./filter.ts";
import { isInsideFolder } from "./local-paths.ts";
import { type ApplySyncPlanOptions, applyOptionsSchema, parseSyncOptions, type TransferResult } from "./options.ts";
import { planContext } from "./plan.ts";
import type { PlannedTransfer, SyncPlan } from "./plan-types.ts";
import { checkPlanRails } from "./rails.ts";
import { type StateMeta, SyncState } from "./state.ts";
import type { SyncFailure, SyncSummary } from "./summary.ts";
import { uploadFile } from "./upload-file.ts";

const STATE_SAVE_INTERVAL_MS = 30_000;
/** Multipart (large) files uploaded at once, at most; see `largeSlots` below. */
const MAX_LARGE_FILES_IN_FLIGHT = 4;
const DELETE_BATCH = 1000;

/** The summary of a plan before anything was done (a dry run, or the start of an apply). */
export function summaryOf(plan: SyncPlan, dryRun: boolean): SyncSummary {
  const upload = plan.direction === "upload";
  return {
    direction: plan.direction,
    source: upload ? plan.local : plan.remote,
    destination: upload ? plan.remote : plan.local,
    dryRun,
    aborted: false,
    scanned: plan.totals.sourceFiles,
    scannedBytes: plan.totals.sourceBytes,
    transferred: 0,
    transferredBytes: 0,
    skipped: plan.totals.skipFiles,
    skippedBytes: plan.totals.skipBytes,
    deleted: 0,
    failed: plan.errors.length,
    excluded: plan.totals.excluded,
    symlinks: plan.totals.symlinks,
    extraneous: plan.totals.extraneous,
    ...(plan.deleteBlocked ? { deleteBlocked: plan.deleteBlocked.message } : {}),
    partialsRemoved: 0,
    multipartUploadsAborted: 0,
    unverified: 0,
    failures: [...plan.errors],
    warnings: [...plan.warnings],
    durationMs: 0,
  };
}

function errorCode(error: unknown): string {
  if (isObjectStoreError(error)) return error.code;
  const e = error as { code?: string; name?: string };
  return e.code ?? e.name ?? "unknown";
}

function isPlan(plan: unknown): plan is SyncPlan {
  const p = plan as Partial<SyncPlan> | undefined;
  return (
    typeof p === "object" &&
    p !== null &&
    (p.direction === "upload" || p.direction === "download") &&
    typeof p.local === "string" &&
    typeof p.remote === "string" &&
    Array.isArray(p.transfers) &&
    Array.isArray(p.deletes) &&
    Array.isArray(p.skips) &&
    typeof p.totals === "object"
  );
}

/**
 * Carry out a plan: transfers first (bounded concurrency, retries with jitter, each download verified and
 * moved into place atomically), then deletes, and only when every transfer of the run succeeded
 * (rail 5) and nothing could not be read (rail 4). Deletes never touch a key outside the store's prefix,
 * one the filters exclude, or one the plan transfers or keeps (rail 6). Failed items are reported in the
 * summary and the run goes on. On abort: no new work starts, work in flight is cancelled (multipart
 * uploads are aborted on the server), the state is saved, and it rejects with `sync.aborted` carrying
 * the summary so far.
 * @throws SyncError `sync.emptySource` / `sync.tooManyDeletes` before any change when a delete rail blocks the plan.
 */
export async function applySyncPlan(plan: SyncPlan, options: ApplySyncPlanOptions): Promise<SyncSummary> {
  const opts = parseSyncOptions(applyOptionsSchema, options, "applySyncPlan");
  const started = performance.now();
  const { signal, store } = opts;
  const logger = opts.logger ?? silentLogger;
  if (!isPlan(plan)) {
    throw new SyncError("sync.invalidPlan", "applySyncPlan: `plan` is not a plan made by planSync: make one first.");
  }
  if (store.url !== plan.remote) {
    throw new SyncError(
      "sync.invalidPlan",
      `applySyncPlan: the plan was made for ${plan.remote}, not ${store.url}: plan again against this store.`,
    );
  }
  const upload = plan.direction === "upload";
  const meta: StateMeta = { direction: plan.direction, local: plan.local, remote: plan.remote };
  const known = planContext(plan);
  const state = known?.state ?? (await SyncState.load(plan.statePath, meta));
  const filter = known?.filter ?? createPathFilter(plan.exclude ?? [], plan.include ?? []);

  // Rails 2 to 4, checked again on the plan as given (it may have been read back from JSON or edited).
  const block = plan.deleteBlocked ?? checkPlanRails(plan);
  if (block && block.code !== "scanErrors") {
    throw new SyncError(block.code === "emptySource" ? "sync.emptySource" : "sync.tooManyDeletes", block.message);
  }
  signal?.throwIfAborted();
  const summary = summaryOf(plan, false);
  if (block?.code === "scanErrors") summary.deleteBlocked = block.message;

  // Leftovers of an interrupted download into this folder: partial files are never anyone's data.
  if (!upload) {
    for (const partial of plan.partials ?? []) {
      if (!isInsideFolder(plan.local, partial)) continue;
      await rm(partial, { force: true }).then(
        () => summary.partialsRemoved++,
        () => {},
      );
    }
  }

  // Multipart leftovers: a run that starts a multipart upload first leaves a marker beside its state file and
  // removes it when every one of them ended (completed, or aborted on the server). A marker found at the start
  // means a run was killed mid-upload: only then does this run pay the one ListMultipartUploads to clean up
  // (always without a state file, which is the only memory between runs).
  const cleansUploads = upload && store.listMultipartUploads !== undefined && store.abortMultipartUpload !== undefined;
  const marker = plan.statePath ? `${plan.statePath}.multipart` : undefined;
  if (cleansUploads && (marker === undefined || (await exists(marker)))) {
    const clean = await abortStaleUploads(store, filter, summary, opts.staleUploadAgeMs, logger, signal);
    if (clean && marker) await rm(marker, { force: true });
  }
  let markerSet: Promise<void> | undefined;
  let multipartUnsettled = false;
  const setMarker = (): Promise<void> => {
    markerSet ??= (async () => {
      if (!cleansUploads || !marker) return;
      await mkdir(dirname(marker), { recursive: true, mode: 0o700 });
      await writeFile(marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
    })();
    return markerSet;
  };

  let lastSave = Date.now();
  let saving: Promise<void> = Promise.resolve();
  const saveState = () => {
    saving = saving.then(() =>
      state.save(meta).catch((error: unknown) => {
        logger.warn("sync could not save its state file", { path: state.path, error: String(error) });
      }),
    );
    return saving;
  };

  // Large uploads (multipart): at most `largeSlots` at once, each with `concurrency / slots` parts in flight.
  // The same number of parts on the wire as `concurrency` files would put there, but memory stays about
  // `largeSlots × (threshold + partConcurrency × partSize)` instead of `concurrency ×` that. The last few
  // large files get more parts each, so the tail does not crawl at 2 parts at a time.
  const largeSlots = Math.max(1, Math.min(MAX_LARGE_FILES_IN_FLIGHT, Math.floor(opts.concurrency / 4)));
  let largeLeft = upload ? plan.transfers.filter((t) => t.size > opts.multipartThresholdBytes).length : 0;
  let largeActive = 0;
  const largeWaiters: (() => void)[] = [];
  const acquireLarge = async (): Promise<number> => {
    while (largeActive >= largeSlots && !signal?.aborted) {
      await new Promise<void>((wake) => largeWaiters.push(wake));
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

  const totalBytes = plan.totals.transferBytes;
  const totalItems = plan.transfers.length;
  let doneBytes = 0;
  let transferFailures = 0;
  const inFlight = new Map<string, number>();
  const report = (current?: string) => {
    if (!opts.onProgress) return;
    let loaded = doneBytes;
    for (const bytes of inFlight.values()) loaded += bytes;
    opts.onProgress({
      loadedBytes: loaded,
      totalBytes,
      completedItems: summary.transferred + transferFailures,
      totalItems,
      ...(current ? { current } : {}),
    });
  };

  const contentType = opts.contentType ?? (() => "application/octet-stream");
  const createdFolders = new Set<string>();
  async function transferOne(item: PlannedTransfer): Promise<void> {
    let holdsLarge = false;
    const onBytes = (loaded: number) => {
      inFlight.set(item.key, loaded);
      report(item.key);
    };
    try {
      if (!upload && !isInsideFolder(plan.local, item.path)) {
        // Rail 6 for a download: a path the plan did not build under the folder is never written.
        throw new SyncError("sync.invalidPlan", `${item.path} is not inside ${plan.local}; not written.`);
      }
      const multipart = upload && item.size > opts.multipartThresholdBytes;
      const partConcurrency = multipart ? await acquireLarge() : 1;
      if (multipart) {
        holdsLarge = true;
        await setMarker();
      }
      signal?.throwIfAborted();
      inFlight.set(item.key, 0);
      const result = await retry(
        async (): Promise<TransferResult & { mtimeMs?: number }> => {
          if (opts.transfer) return opts.transfer(item, { store, onBytes, ...(signal ? { signal } : {}) });
          if (upload) {
            return uploadFile(store, item.key, item.path, {
              multipartThresholdBytes: opts.multipartThresholdBytes,
              partSizeBytes: opts.partSizeBytes,
              partConcurrency,
              contentType: contentType(item.key),
              storageClass: opts.storageClass,
              sha256: item.sha256,
              planned: { size: item.size, mtimeMs: item.mtimeMs },
              signal,
              onBytes,
            });
          }
          const downloaded = await downloadFile(store, item.key, item.path, {
            onBytes,
            createdFolders,
            ...(signal ? { signal } : {}),
          });
          if (downloaded.verified === "none") summary.unverified++;
          return downloaded;
        },
        {
          attempts: opts.attempts,
          ...(signal ? { signal } : {}),
          onRetry: ({ error, attempt, delayMs }) =>
            logger.warn("sync retrying a transfer", { key: item.key, attempt, delayMs, error: String(error) }),
        },
      );
      const stateKey = upload ? item.key : item.key.normalize("NFC");
      state.set(stateKey, {
        size: result.size,
        mtimeMs: result.mtimeMs ?? item.mtimeMs,
        etag: result.etag,
        ...(result.partSizeBytes ? { partSizeBytes: result.partSizeBytes } : {}),
      });
      summary.transferred++;
      summary.transferredBytes += result.size;
    } catch (error) {
      // A failed multipart upload is aborted on the server by lib-storage, unless that failed too: keep the marker.
      if (holdsLarge) multipartUnsettled = true;
      if (signal?.aborted) return;
      transferFailures++;
      state.delete(upload ? item.key : item.key.normalize("NFC"));
      summary.failures.push({
        action: upload ? "upload" : "download",
        key: item.key,
        code: errorCode(error),
        message: `${upload ? "upload" : "download"} of ${item.key} failed: ${(error as Error).message}`,
      });
      logger.warn("sync transfer failed", { key: item.key, error: String(error) });
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
      while (!signal?.aborted && next < plan.transfers.length) await transferOne(plan.transfers[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, plan.transfers.length) }, worker));

    if (!signal?.aborted && plan.deletes.length > 0 && !block) {
      if (transferFailures > 0) {
        // Rail 5: deletes run only after every transfer of the run succeeded.
        summary.deleteBlocked = `Not deleting ${plan.deletes.length} item(s): ${transferFailures} transfer(s) failed. Fix them and run again.`;
      } else {
        await applyDeletes(plan, store, filter, state, summary, opts, upload);
      }
    }
  } finally {
    signal?.removeEventListener("abort", wakeAll);
    await saveState();
    if (markerSet && marker && !multipartUnsettled) await rm(marker, { force: true }).catch(() => {});
  }
  summary.failed = summary.failures.length;
  summary.durationMs = Math.round(performance.now() - started);
  if (signal?.aborted) {
    summary.aborted = true;
    throw new SyncError(
      "sync.aborted",
      `Interrupted: ${summary.transferred} of ${plan.transfers.length} file(s) ${upload ? "uploaded" : "downloaded"}; run again to resume.`,
      { cause: abortReason(signal), summary },
    );
  }
  return summary;
}

/**
 * Leftovers of killed uploads: one ListMultipartUploads on the prefix, then abort those older than `ageMs`
 * for keys this sync selects. A failure here only costs storage, so it is a warning, not a failed run.
 */
async function abortStaleUploads(
  store: ObjectStore,
  filter: ReturnType<typeof createPathFilter>,
  summary: SyncSummary,
  ageMs: number,
  logger: { warn(message: string, fields?: Record<string, unknown>): void },
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const cutoff = Date.now() - ageMs;
  let left = 0;
  try {
    for await (const upload of store.listMultipartUploads!(signal ? { signal } : {})) {
      if (!filter.accepts(upload.key)) continue;
      if (upload.initiated.getTime() > cutoff) {
        left++;
        continue;
      }
      await store.abortMultipartUpload!(upload.key, upload.uploadId, signal ? { signal } : {});
      summary.multipartUploadsAborted++;
    }
    return left === 0;
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    logger.warn("sync could not clean up incomplete multipart uploads", { error: String(error) });
    summary.warnings.push(
      `Incomplete multipart uploads under ${store.url} could not be cleaned up: ${(error as Error).message}`,
    );
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function applyDeletes(
  plan: SyncPlan,
  store: ObjectStore,
  filter: ReturnType<typeof createPathFilter>,
  state: SyncState,
  summary: SyncSummary,
  opts: {
    signal?: AbortSignal | undefined;
    attempts: number;
    deleteItems?: ApplySyncPlanOptions["deleteItems"] | undefined;
  },
  upload: boolean,
): Promise<void> {
  const { signal } = opts;
  // Rail 6: never a key the filters exclude, a folder marker, nor one the plan transfers or keeps.
  const keep = new Set<string>([...plan.transfers.map((t) => t.key), ...plan.skips.map((s) => s.key)]);
  const wanted = plan.deletes.filter((d) => !keep.has(d.key) && !d.key.endsWith("/") && filter.accepts(d.key));
  const fail = (key: string, error: unknown): SyncFailure => ({
    action: "delete",
    key,
    code: errorCode(error),
    message: `delete of ${key} failed: ${(error as Error).message}`,
  });
  if (!upload) {
    for (const item of wanted) {
      if (signal?.aborted) return;
      if (!item.path || !isInsideFolder(plan.local, item.path)) continue;
      try {
        await rm(item.path, { force: true });
        summary.deleted++;
        state.delete(item.key);
      } catch (error) {
        summary.failures.push(fail(item.key, error));
      }
    }
    return;
  }
  // The store is rooted at the prefix (`photos/`), so no key here reaches `photos-old/`.
  const keys = wanted.map((d) => d.key);
  for (let i = 0; i < keys.length && !signal?.aborted; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    try {
      const context = { store, ...(signal ? { signal } : {}) };
      const remove = opts.deleteItems ?? ((keys: string[]) => store.deleteMany(keys, signal ? { signal } : {}));
      const result = await retry(() => remove(batch, context), {
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
      if (signal?.aborted) return;
      for (const key of batch) summary.failures.push(fail(key, error));
    }
  }
}
