// Helpers shared by `s3kit object sync-down` and `sync-up`. They live outside commands/, where oclif would take
// every module for a command. Both run on the shared sync engine (through S3FileManager's prefix sync), with the
// one set of sync flags (sync-flags.ts) and photo-sync's plan and summary output.
import { Flags } from "@oclif/core";
import { type PrefixSyncResult, S3FileManager } from "@toolkit/s3-object";
import type { Logger, ProgressCallback, SyncPlan } from "@toolkit/shared";
import type { CliClientOptions } from "../base-command.ts";
import { syncFlags, warnIfEmptySource } from "../sync-flags.ts";
import { count, printPlan, printSummary } from "./photo-sync.ts";

/** The flags of both prefix syncs: the shared sync flags, concurrency and the cache folder. */
export function prefixSyncFlags(help: { deletes: string }) {
  return {
    ...syncFlags({ deletes: help.deletes }),
    concurrency: Flags.integer({ description: "Objects transferred at once", default: 8, min: 1, max: 256 }),
    "cache-dir": Flags.string({ description: "Where the sync state is kept", helpValue: "<dir>" }),
  };
}

/** The manager a prefix sync runs on: the command's connection, logger and progress, and the sync flags. */
export function managerFor(
  command: { clientOptions(): CliClientOptions; logger: Logger; progress: ProgressCallback },
  flags: { concurrency: number; "cache-dir"?: string | undefined },
): S3FileManager {
  return new S3FileManager({
    ...command.clientOptions(),
    logger: command.logger,
    concurrency: flags.concurrency,
    onProgress: command.progress,
    ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
  });
}

/**
 * Print what a prefix sync did (a dry run: the plan; else the summary) unless --json, and return what --json
 * prints: the plan on a dry run, else the summary.
 */
export function reportSync(
  out: { log: (line: string) => void; note: (line: string) => void; json: boolean },
  title: string,
  result: PrefixSyncResult,
): PrefixSyncResult | SyncPlan {
  warnIfEmptySource(result);
  for (const warning of result.warnings) out.note(`warning: ${warning}`);
  if (result.plan) {
    if (!out.json) printPlan(out.log, title, result.plan);
    return result.plan;
  }
  if (!out.json) printSummary(out.log, out.note, title, result, "done");
  return result;
}

/** The one line of a partial failure (exit 3). */
export function partialLine(result: PrefixSyncResult, items: string): string {
  const others = result.transferred + result.skipped > 0 ? "; the others are in place." : ".";
  return `${count(result.failed)} ${items} failed${others}`;
}
