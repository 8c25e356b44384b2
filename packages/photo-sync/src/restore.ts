import { applySyncPlan, planSync, type SyncPlan, type SyncSummary, summaryOf } from "@toolkit/shared";
import { DEFAULT_EXCLUDES } from "./defaults.ts";
import { asPhotoSyncErrors } from "./errors.ts";
import { parseOptions, type RestoreDirectoryOptions, restoreOptionsSchema } from "./options.ts";
import { connectionOf, parseStoreLocation, withStore } from "./store.ts";

/** The result of {@link restoreDirectory}: the summary, and the plan on a dry run. */
export interface RestoreResult extends SyncSummary {
  /** The plan (dry runs only). */
  plan?: SyncPlan;
}

/**
 * Restore a backup into a local folder, through the same engine as the backup: list the backup once, scan
 * the folder, download what is missing or different. Each file is written to a partial file beside its
 * target, verified (the `s3kit-sha256` metadata when present, else the MD5 or multipart ETag), given the
 * mtime the backup recorded, and only then renamed into place; a file that does not match its checksum
 * is a failed item and is not written. Resumable: a re-run (even after `kill -9`) removes partial files
 * left behind and downloads only what is still missing. With `deleteExtraneous`, local files not in the
 * backup are removed, within the same delete rails as a backup. With `dryRun`, nothing changes.
 * @throws PhotoSyncError `photoSync.sourceNotFound` (the backup cannot be listed), `photoSync.emptySource`,
 * `photoSync.tooManyDeletes` (before any change), `photoSync.aborted` (with the summary so far).
 */
export async function restoreDirectory(options: RestoreDirectoryOptions): Promise<RestoreResult> {
  const opts = parseOptions(restoreOptionsSchema, options, "restoreDirectory");
  const location = parseStoreLocation(opts.source, "source");
  const started = performance.now();
  return asPhotoSyncErrors(() =>
    withStore(location, connectionOf(opts), opts.concurrency, async (store) => {
      const common = {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.logger ? { logger: opts.logger } : {}),
      };
      const plan = await planSync({
        direction: "download",
        local: opts.destination,
        store,
        exclude: [...(opts.defaultExcludes ? DEFAULT_EXCLUDES : []), ...opts.exclude],
        include: opts.include,
        compare: opts.compare,
        delete: opts.deleteExtraneous,
        ...(opts.maxDelete !== undefined ? { maxDelete: opts.maxDelete } : {}),
        ...(opts.maxDeletePercent !== undefined ? { maxDeletePercent: opts.maxDeletePercent } : {}),
        allowEmptySource: opts.allowEmptySource,
        ...(opts.statePath !== undefined ? { statePath: opts.statePath } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        compareConcurrency: opts.hashConcurrency,
        ...common,
      });
      if (opts.dryRun) {
        const summary = summaryOf(plan, true);
        summary.durationMs = Math.round(performance.now() - started);
        return { ...summary, plan };
      }
      const summary = await applySyncPlan(plan, {
        store,
        concurrency: opts.concurrency,
        attempts: opts.attempts,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...common,
      });
      summary.durationMs = Math.round(performance.now() - started);
      return summary;
    }),
  );
}
