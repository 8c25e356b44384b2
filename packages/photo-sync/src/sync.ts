import { applyPlan, type SyncSummary, summaryOf } from "./apply.ts";
import { PhotoSyncError } from "./errors.ts";
import type { ApplyPlanOptions, PlanSyncOptions, SyncDirectoryOptions } from "./options.ts";
import { planSync, type SyncPlan } from "./plan.ts";

/** The result of {@link syncDirectory}: the summary, and the plan on a dry run. */
export interface SyncResult extends SyncSummary {
  /** The plan (dry runs only). */
  plan?: SyncPlan;
}

const APPLY_KEYS = ["concurrency", "storageClass", "partConcurrency", "attempts", "onProgress"] as const;
const CONNECTION_KEYS = ["store", "endpoint", "region", "profile", "credentials", "logger", "signal"] as const;

/**
 * Plan and apply in one call: scan, list once, upload what changed, delete orphans when asked.
 * With `dryRun`, nothing changes and the result carries the plan.
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
    const isShared = (CONNECTION_KEYS as readonly string[]).includes(key);
    if (isApply || isShared) applyOptions[key] = value;
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
