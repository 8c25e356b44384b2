import { access } from "node:fs/promises";
import { applySyncPlan, planSync as planEngineSync, type SyncPlan, type SyncSummary, summaryOf } from "@toolkit/shared";
import { contentTypeFor } from "./content-type.ts";
import { DEFAULT_EXCLUDES } from "./defaults.ts";
import { asPhotoSyncErrors, PhotoSyncError } from "./errors.ts";
import {
  type ApplyPlanOptions,
  applyOptionsSchema,
  type PlanSyncOptions,
  parseOptions,
  planOptionsSchema,
  type SyncDirectoryOptions,
} from "./options.ts";
import { connectionOf, parseStoreLocation, withStore } from "./store.ts";

/** A backup plan: the engine's plan, with the upload settings it was made for. Plain data (JSON). */
export interface BackupPlan extends SyncPlan {
  multipartThresholdBytes: number;
  partSizeBytes: number;
}

/** The result of {@link syncDirectory}: the summary, and the plan on a dry run. */
export interface SyncResult extends SyncSummary {
  /** The plan (dry runs only). */
  plan?: BackupPlan;
}

/** A `.lrcat` with a `.lrcat.lock` beside it: Lightroom is open and the catalog may be inconsistent without its WAL. */
async function lightroomWarnings(plan: SyncPlan): Promise<string[]> {
  const out: string[] = [];
  for (const item of [...plan.transfers, ...plan.skips]) {
    if (!item.key.endsWith(".lrcat")) continue;
    const path = "path" in item ? item.path : undefined;
    const lock = `${path ?? `${plan.local}/${item.key}`}.lock`;
    if (
      await access(lock).then(
        () => true,
        () => false,
      )
    ) {
      out.push(
        `Lightroom looks open (\`${item.key}.lock\` exists): close it and re-run so the catalog is backed up consistent.`,
      );
    }
  }
  return out;
}

/**
 * Scan the source, list the destination once, and decide what to upload, skip and delete, through the
 * shared sync engine (its delete rails included). Changes nothing.
 * @throws PhotoSyncError `photoSync.invalidOptions`, `photoSync.sourceNotFound`, `photoSync.destination`.
 */
export async function planSync(options: PlanSyncOptions): Promise<BackupPlan> {
  const opts = parseOptions(planOptionsSchema, options, "planSync");
  const location = parseStoreLocation(opts.destination, "destination");
  return asPhotoSyncErrors(() =>
    withStore(location, connectionOf(opts), 16, async (store) => {
      const plan = await planEngineSync({
        direction: "upload",
        local: opts.source,
        store,
        exclude: [...(opts.defaultExcludes ? DEFAULT_EXCLUDES : []), ...opts.exclude],
        include: opts.include,
        compare: opts.compare,
        delete: opts.deleteOrphans,
        ...(opts.maxDelete !== undefined ? { maxDelete: opts.maxDelete } : {}),
        ...(opts.maxDeletePercent !== undefined ? { maxDeletePercent: opts.maxDeletePercent } : {}),
        allowEmptySource: opts.allowEmptySource,
        followSymlinks: opts.followSymlinks,
        ...(opts.statePath !== undefined ? { statePath: opts.statePath } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        partSizeBytes: opts.partSizeBytes,
        compareConcurrency: opts.hashConcurrency,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      });
      plan.warnings.push(...(await lightroomWarnings(plan)));
      // The same object gets the extra fields, so the engine still knows the plan (its state and filter).
      return Object.assign(plan, {
        multipartThresholdBytes: opts.multipartThresholdBytes,
        partSizeBytes: opts.partSizeBytes,
      });
    }),
  );
}

/**
 * Carry out a backup plan: upload (bounded concurrency, multipart above the threshold, retries), then
 * delete orphans when every upload succeeded. Failed items are in the summary; the run goes on.
 * @throws PhotoSyncError `photoSync.tooManyDeletes` / `photoSync.emptySource` before any change;
 * `photoSync.aborted` with the summary so far.
 */
export async function applyPlan(
  plan: SyncPlan & Partial<Pick<BackupPlan, "multipartThresholdBytes" | "partSizeBytes">>,
  options: ApplyPlanOptions = {},
): Promise<SyncSummary> {
  const opts = parseOptions(applyOptionsSchema, options, "applyPlan");
  if (typeof plan !== "object" || plan === null || typeof plan.remote !== "string") {
    throw new PhotoSyncError(
      "photoSync.invalidPlan",
      "applyPlan: `plan` is not a plan made by planSync: make one first.",
    );
  }
  const location = parseStoreLocation(plan.remote, "plan.remote");
  return asPhotoSyncErrors(() =>
    withStore(location, connectionOf(opts), opts.concurrency, (store) =>
      applySyncPlan(plan, {
        store,
        concurrency: opts.concurrency,
        attempts: opts.attempts,
        ...optional("multipartThresholdBytes", opts.multipartThresholdBytes ?? plan.multipartThresholdBytes),
        ...optional("partSizeBytes", opts.partSizeBytes ?? plan.partSizeBytes),
        ...(opts.partConcurrency ? { partConcurrency: opts.partConcurrency } : {}),
        ...(opts.storageClass ? { storageClass: opts.storageClass } : {}),
        ...(opts.staleUploadAgeMs !== undefined ? { staleUploadAgeMs: opts.staleUploadAgeMs } : {}),
        contentType: contentTypeFor,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      }),
    ),
  );
}

/** `{ [key]: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const APPLY_KEYS = [
  "concurrency",
  "storageClass",
  "partConcurrency",
  "attempts",
  "staleUploadAgeMs",
  "onProgress",
] as const;
const CONNECTION_KEYS = ["store", "endpoint", "region", "profile", "credentials", "logger", "signal"] as const;

/**
 * Back up in one call: scan, list once, upload what changed, delete orphans when asked (within the delete
 * rails). With `dryRun`, nothing changes and the result carries the plan.
 */
export async function syncDirectory(options: SyncDirectoryOptions): Promise<SyncResult> {
  if (typeof options !== "object" || options === null) {
    throw new PhotoSyncError(
      "photoSync.invalidOptions",
      "syncDirectory: pass an options object with `source` and `destination`.",
    );
  }
  const { dryRun = false, ...rest } = options;
  if (typeof dryRun !== "boolean") {
    throw new PhotoSyncError(
      "photoSync.invalidOptions",
      `syncDirectory: invalid \`dryRun\` (${JSON.stringify(dryRun)}): expected a boolean.`,
    );
  }
  const planOptions: Record<string, unknown> = {};
  const applyOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    const isApply = (APPLY_KEYS as readonly string[]).includes(key);
    if (isApply || (CONNECTION_KEYS as readonly string[]).includes(key)) applyOptions[key] = value;
    if (!isApply) planOptions[key] = value;
  }
  const started = performance.now();
  const plan = await planSync(planOptions as unknown as PlanSyncOptions);
  if (dryRun) {
    const summary = summaryOf(plan, true);
    summary.durationMs = Math.round(performance.now() - started);
    return { ...summary, plan };
  }
  const summary = await applyPlan(plan, applyOptions as ApplyPlanOptions);
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}
