// Helpers shared by `s3kit object sync-down` and `sync-up`. They live outside commands/, where oclif would take
// every module for a command.
import { Flags } from "@oclif/core";
import { type BatchItem, type BatchResult, S3FileManager } from "@toolkit/s3-object";
import type { Logger, ProgressCallback } from "@toolkit/shared";
import type { CliClientOptions } from "../base-command.ts";
import { formatBytes } from "../progress-bar.ts";

/** The flags of both prefix syncs; only the meaning of --mirror and --force differs by direction. */
export function prefixSyncFlags(help: { mirror: string; force: string }) {
  return {
    exclude: Flags.string({
      description: "Glob of relative paths to leave out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    mirror: Flags.boolean({ description: `${help.mirror} (also --delete, as in photo-sync)`, aliases: ["delete"] }),
    "dry-run": Flags.boolean({ description: "Show what would be done; change nothing", aliases: ["dryrun"] }),
    force: Flags.boolean({ description: help.force }),
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
 * Print what a prefix sync did (failures on stderr, one line per change, a summary) and return the result with
 * errors reduced to `{ code, message }` for --json.
 */
export function reportBatch(
  log: (line: string) => void,
  result: BatchResult,
  direction: "downloaded" | "uploaded",
): BatchResult {
  const from = (item: BatchItem) => (direction === "downloaded" ? item.url : item.localPath);
  const to = (item: BatchItem) => (direction === "downloaded" ? item.localPath : item.url);
  for (const item of result.items) {
    if (item.status === "failed") process.stderr.write(`failed: ${item.url}: ${item.error?.message}\n`);
    else if (item.status === "planned") log(`would ${item.action} ${from(item)} → ${to(item)}`);
    else if (item.status !== "unchanged") log(`${item.status} ${to(item)}`);
  }
  log(
    `${result.dryRun ? "dry run: " : ""}${result.transferred} ${direction} (${formatBytes(result.bytes)}), ${result.unchanged} unchanged, ${result.deleted} deleted, ${result.failed} failed`,
  );
  return {
    ...result,
    items: result.items.map((i) => ({
      ...i,
      error: i.error ? { code: (i.error as { code?: string }).code, message: i.error.message } : undefined,
    })),
  } as BatchResult;
}
