// What `s3kit photo-sync` (backup) and `s3kit photo-sync restore` share: their flags, the options they pass, and
// the run → output flow. Outside commands/, where oclif would take every module for a command.
import { type Command, Flags } from "@oclif/core";
import { isPhotoSyncError, type SyncPlan, type SyncSummary } from "@toolkit/photo-sync";
import { BaseCommand } from "../base-command.ts";
import { checkDestinationFolder, checkStateFile, localPathOf } from "../preflight.ts";
import { formatBytes } from "../progress-bar.ts";
import { syncFlags, syncOptionsOf, warnIfEmptySource } from "../sync-flags.ts";

const SHOWN_ITEMS = 20;
/**
 * `1,234,567`: thousands separators as `toLocaleString("en-US")` gives for integers, without it: its first call
 * loads ICU's number formatting, about 30 ms of CPU at every run (issue 15 (b)).
 */
export const count = (n: number) =>
  Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+$)/g, ",") : n.toLocaleString("en-US");

/**
 * The filters' row: the scan leaves a matching folder out whole without reading it (a Lightroom previews cache
 * holds thousands of files), so the count is of paths, a folder counting as 1; the row says so.
 */
const excludedRow = (n: number): [string, string, string] => [
  "excluded",
  count(n),
  n > 0 ? "(files or whole folders: a folder counts as 1)" : "",
];

/** Failures on stderr, the first 20 of them. */
export function printFailures(summary: Pick<SyncSummary, "failures">): void {
  for (const failure of summary.failures.slice(0, SHOWN_ITEMS)) {
    process.stderr.write(
      `failed: ${failure.action} ${failure.key ?? failure.path}: ${failure.code}: ${failure.message}\n`,
    );
  }
  if (summary.failures.length > SHOWN_ITEMS) {
    process.stderr.write(`failed: … and ${count(summary.failures.length - SHOWN_ITEMS)} more (use --json for all)\n`);
  }
}

/** A dry run's plan: the first changes, then a table of totals; blocks and errors on stderr. */
export function printPlan(log: (line: string) => void, title: string, plan: SyncPlan): void {
  const t = plan.totals;
  const verb = plan.direction === "upload" ? "upload" : "download";
  const from = plan.direction === "upload" ? plan.local : plan.remote;
  const to = plan.direction === "upload" ? plan.remote : plan.local;
  log(`${title} ${from} → ${to} (dry run: nothing changed)`);
  for (const u of plan.transfers.slice(0, SHOWN_ITEMS))
    log(`  ${verb}  ${u.key}  (${u.reason}, ${formatBytes(u.size)})`);
  if (plan.transfers.length > SHOWN_ITEMS) log(`  … and ${count(plan.transfers.length - SHOWN_ITEMS)} more`);
  for (const d of plan.deletes.slice(0, SHOWN_ITEMS)) log(`  delete  ${d.key}`);
  if (plan.deletes.length > SHOWN_ITEMS) log(`  … and ${count(plan.deletes.length - SHOWN_ITEMS)} more deletes`);
  log(
    table([
      ["scanned", `${count(t.sourceFiles)} files`, formatBytes(t.sourceBytes)],
      [`would ${verb}`, `${count(t.transferFiles)} files`, formatBytes(t.transferBytes)],
      ["would skip", `${count(t.skipFiles)} files`, formatBytes(t.skipBytes)],
      ["would delete", `${count(t.deleteFiles)} items`, formatBytes(t.deleteBytes)],
      ["extraneous", `${count(t.extraneous)} items`, plan.delete ? "" : "(kept: no --delete)"],
      excludedRow(t.excluded),
      ["errors", count(t.errors), ""],
    ]),
  );
  if (plan.deleteBlocked) process.stderr.write(`warning: ${plan.deleteBlocked.message}\n`);
  printFailures({ failures: plan.errors });
}

/** What a run did, as a table; blocks, notes and failures on stderr. */
export function printSummary(
  log: (line: string) => void,
  note: (line: string) => void,
  title: string,
  summary: SyncSummary,
  outcome: "done" | "interrupted",
): void {
  const verb = summary.direction === "upload" ? "uploaded" : "downloaded";
  log(`${title} ${summary.source} → ${summary.destination} (${outcome})`);
  log(
    table([
      ["scanned", `${count(summary.scanned)} files`, formatBytes(summary.scannedBytes)],
      [verb, `${count(summary.transferred)} files`, formatBytes(summary.transferredBytes)],
      ["skipped", `${count(summary.skipped)} files`, formatBytes(summary.skippedBytes)],
      ["deleted", `${count(summary.deleted)} items`, ""],
      ["failed", count(summary.failed), ""],
      excludedRow(summary.excluded),
      ["time", `${(summary.durationMs / 1000).toFixed(1)} s`, ""],
    ]),
  );
  if (summary.partialsRemoved > 0)
    note(`note: removed ${count(summary.partialsRemoved)} partial file(s) of an interrupted run`);
  if (summary.multipartUploadsAborted > 0) {
    note(
      `note: aborted ${count(summary.multipartUploadsAborted)} incomplete multipart upload(s) of an interrupted run`,
    );
  }
  if (summary.unverified > 0) {
    note(
      `note: ${count(summary.unverified)} file(s) had no checksum to verify against (no s3kit-sha256, ETag not an MD5)`,
    );
  }
  if (summary.deleteBlocked) process.stderr.write(`warning: ${summary.deleteBlocked}\n`);
  if (summary.extraneous > 0 && summary.deleted === 0 && !summary.deleteBlocked) {
    note(`note: ${count(summary.extraneous)} item(s) at the destination have no source (kept; --delete removes them)`);
  }
  printFailures(summary);
}

const COMPARE_MODES = ["size-mtime", "size", "checksum"] as const;

/** The flags both photo-sync commands take: the shared sync flags and photo-sync's own. */
export function photoSyncFlags(help: { deletes: string; concurrency: string; defaultExcludes: string }) {
  return {
    ...syncFlags({ deletes: help.deletes }),
    "default-excludes": Flags.boolean({ description: help.defaultExcludes, default: true, allowNo: true }),
    compare: Flags.option({
      options: COMPARE_MODES,
      description: "How a changed file is found: size and mtime, size only, or content checksums",
      default: "size-mtime" as const,
    })(),
    concurrency: Flags.integer({ description: help.concurrency, default: 16, min: 1, max: 256, helpValue: "<n>" }),
    "state-file": Flags.string({
      description: "Where to keep the state that makes re-runs cheap (default: in the platform's cache folder)",
      helpValue: "<path>",
      exclusive: ["no-state"],
    }),
    "no-state": Flags.boolean({ description: "Keep no state file (re-runs compare with the listing only)" }),
  };
}

type PhotoSyncFlagValues = Parameters<typeof syncOptionsOf>[0] & {
  "default-excludes": boolean;
  compare: (typeof COMPARE_MODES)[number];
  concurrency: number;
  "state-file"?: string | undefined;
  "no-state"?: boolean | undefined;
};

/** The base of both photo-sync commands: the options they share and the flow from result to output. */
export abstract class PhotoSyncCommand<T extends typeof Command> extends BaseCommand<T> {
  /** Checks of the local inputs before anything is listed or sent (a `--state-file` that is a folder). */
  protected override async init(): Promise<void> {
    await super.init();
    await checkStateFile((this.flags as { "state-file"?: string | undefined })["state-file"]);
    const destination = (this.args as { destination?: string }).destination;
    const local = destination === undefined ? undefined : localPathOf(destination);
    if (local !== undefined)
      await checkDestinationFolder(local, this.id === "photo-sync:restore" ? "restore" : "back up");
  }

  /** The library options both commands take, from the flags; `delete` and `dryRun` for the command to map. */
  protected commonOptions(flags: PhotoSyncFlagValues) {
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    return {
      delete: sync.delete,
      options: {
        dryRun: sync.dryRun,
        allowEmptySource: sync.allowEmptySource,
        ...(sync.maxDelete !== undefined ? { maxDelete: sync.maxDelete } : {}),
        ...(sync.maxDeletePercent !== undefined ? { maxDeletePercent: sync.maxDeletePercent } : {}),
        exclude: sync.exclude,
        include: sync.include,
        defaultExcludes: flags["default-excludes"],
        compare: flags.compare,
        concurrency: flags.concurrency,
        ...(flags["no-state"] ? { statePath: false as const } : {}),
        ...(flags["state-file"] ? { statePath: flags["state-file"] } : {}),
        ...this.clientOptions(),
        logger: this.logger,
        signal: this.signal,
        onProgress: this.progress,
      },
    };
  }

  /**
   * Run the library call and print: the plan on a dry run, else the summary (and, when interrupted, the summary
   * so far before the error). Some failed items make it a partial failure (exit 3).
   */
  protected async runSync<R extends SyncSummary & { plan?: SyncPlan; warnings: string[] }>(
    title: string,
    call: () => Promise<R>,
    messages: { unreadable: string; failed: string },
  ): Promise<R | SyncPlan> {
    const log = (line: string) => this.log(line);
    const note = (line: string) => this.note(line);
    let result: R;
    try {
      result = await call();
    } catch (error) {
      if (isPhotoSyncError(error, "photoSync.aborted") && error.summary && !this.jsonEnabled()) {
        this.stopProgress();
        printSummary(log, note, title, error.summary, "interrupted");
      }
      throw error;
    }
    warnIfEmptySource(result);
    for (const warning of result.warnings) this.note(`warning: ${warning}`);
    if (result.plan) {
      if (!this.jsonEnabled()) printPlan(log, title, result.plan);
      if (result.failed > 0) return this.partial(result.plan, `${count(result.failed)} ${messages.unreadable}`);
      return result.plan;
    }
    if (!this.jsonEnabled()) printSummary(log, note, title, result, "done");
    if (result.failed > 0) {
      // "the others are backed up" only when there are others.
      const failed = result.transferred + result.skipped > 0 ? messages.failed : messages.failed.replace(/;.*$/, ".");
      return this.partial(result, `${count(result.failed)} ${failed}`);
    }
    return result;
  }
}

function table(rows: string[][]): string {
  const widths = [0, 0, 0];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i]!, cell.length);
  }
  return rows
    .map(([a = "", b = "", c = ""]) => `  ${a.padEnd(widths[0]!)}  ${b.padStart(widths[1]!)}  ${c}`.trimEnd())
    .join("\n");
}
