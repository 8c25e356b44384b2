import { Args, Flags } from "@oclif/core";
import { isPhotoSyncError, type SyncPlan, type SyncResult, type SyncSummary, syncDirectory } from "@toolkit/photo-sync";
import { BaseCommand } from "../base-command.ts";
import { formatBytes } from "../progress-bar.ts";

const COMPARE_MODES = ["size-mtime", "size", "checksum"] as const;
const SHOWN_ITEMS = 20;

const count = (n: number) => n.toLocaleString("en-US");

export default class PhotoSync extends BaseCommand<typeof PhotoSync> {
  static override summary = "Back up a local folder (a Lightroom library) to S3 or a file:// folder";
  static override description = [
    "Scans <source>, lists <destination> once, uploads what is new or changed and skips the rest. Keys are <prefix>/<relative path>, NFC-normalised; the prefix is always a folder, so s3://b/Lightroom never touches s3://b/Lightroom Backups/.",
    "Lightroom caches and lock files are excluded by default (*.lrdata/**, *.lrcat-wal, *.lrcat-shm, *.lrcat-journal, *.lock, .DS_Store, Thumbs.db); --exclude adds patterns, --no-default-excludes drops the defaults. A pattern without a leading / matches at any depth; a folder a pattern matches is skipped whole.",
    "--delete removes objects under the prefix that have no local file; never excluded paths, never after a scan error, and never more than --max-delete objects (the run stops before changing anything).",
    "A local state file (under ~/.cache/s3kit/photo-sync) makes a no-change re-run cost only the listing. Ctrl-C stops new uploads, aborts the ones in flight and prints the summary so far; run again to resume.",
    "Exit codes: 0 done, 1 failed, 2 usage error, 3 some files failed (listed), 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> photo-sync ~/Pictures/Lightroom s3://my-bucket/Lightroom",
    "<%= config.bin %> photo-sync ~/Pictures/Lightroom s3://my-bucket/Lightroom --dry-run --json",
    "<%= config.bin %> photo-sync ~/Pictures/Lightroom s3://my-bucket/Lightroom --delete --exclude '*.tmp'",
    "<%= config.bin %> photo-sync ./photos file:///mnt/nas/photo-backup --compare checksum",
  ];
  static override args = {
    source: Args.string({ description: "Local folder to back up", required: true }),
    destination: Args.string({
      description: "s3://bucket/prefix, file:///abs/dir or a local path",
      required: true,
    }),
  };
  static override flags = {
    "dry-run": Flags.boolean({ description: "Show what would be done; change nothing (--json prints the plan)" }),
    delete: Flags.boolean({ description: "Delete objects under the prefix that have no local file" }),
    "max-delete": Flags.integer({
      description: "Stop before changing anything when --delete would delete more objects than this",
      default: 1000,
      min: 0,
      helpValue: "<n>",
    }),
    exclude: Flags.string({
      description: "Glob of relative paths to leave out (repeatable; added to the defaults)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    include: Flags.string({
      description: "Glob of relative paths to back up; every other file is left out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    "default-excludes": Flags.boolean({
      description: "Apply the Lightroom default excludes (--no-default-excludes to back up everything)",
      default: true,
      allowNo: true,
    }),
    compare: Flags.option({
      options: COMPARE_MODES,
      description: "How a changed file is found: size and mtime, size only, or content checksums",
      default: "size-mtime" as const,
    })(),
    concurrency: Flags.integer({
      description: "Files uploaded at once",
      default: 16,
      min: 1,
      max: 256,
      helpValue: "<n>",
    }),
    "storage-class": Flags.string({
      description: "S3 storage class of uploaded objects (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, …)",
      helpValue: "<class>",
    }),
    "follow-symlinks": Flags.boolean({ description: "Follow symbolic links (skipped by default)" }),
    "state-file": Flags.string({
      description: "Where to keep the state that makes re-runs cheap (default: under ~/.cache/s3kit/photo-sync)",
      helpValue: "<path>",
      exclusive: ["no-state"],
    }),
    "no-state": Flags.boolean({ description: "Keep no state file (re-runs compare with the listing only)" }),
  };

  async run(): Promise<SyncResult | SyncPlan> {
    const { flags, args } = this;
    let result: SyncResult;
    try {
      result = await syncDirectory({
        source: args.source,
        destination: args.destination,
        dryRun: flags["dry-run"],
        deleteOrphans: flags.delete,
        maxDelete: flags["max-delete"],
        exclude: flags.exclude ?? [],
        include: flags.include ?? [],
        defaultExcludes: flags["default-excludes"],
        compare: flags.compare,
        concurrency: flags.concurrency,
        followSymlinks: flags["follow-symlinks"],
        ...(flags["storage-class"] ? { storageClass: flags["storage-class"] } : {}),
        ...(flags["no-state"] ? { statePath: false as const } : {}),
        ...(flags["state-file"] ? { statePath: flags["state-file"] } : {}),
        ...this.clientOptions(),
        logger: this.logger,
        signal: this.signal,
        onProgress: this.progress,
      });
    } catch (error) {
      if (isPhotoSyncError(error, "photoSync.aborted") && error.summary && !this.jsonEnabled()) {
        this.stopProgress();
        this.printSummary(error.summary, "interrupted");
      }
      throw error;
    }
    for (const warning of result.warnings) this.note(`warning: ${warning}`);
    if (result.plan) {
      if (!this.jsonEnabled()) this.printPlan(result.plan);
      const plan = result.plan;
      if (result.failed > 0) return this.partial(plan, `${count(result.failed)} path(s) could not be read (see above)`);
      return plan;
    }
    if (!this.jsonEnabled()) this.printSummary(result, "done");
    if (result.failed > 0) {
      return this.partial(
        result,
        `${count(result.failed)} item(s) failed; the others are backed up. Fix them and run again.`,
      );
    }
    return result;
  }

  private printFailures(summary: SyncSummary): void {
    if (this.jsonEnabled()) return;
    for (const failure of summary.failures.slice(0, SHOWN_ITEMS)) {
      process.stderr.write(
        `failed: ${failure.action} ${failure.key ?? failure.path}: ${failure.code}: ${failure.message}\n`,
      );
    }
    if (summary.failures.length > SHOWN_ITEMS) {
      process.stderr.write(`failed: … and ${count(summary.failures.length - SHOWN_ITEMS)} more (use --json for all)\n`);
    }
  }

  private printPlan(plan: SyncPlan): void {
    const t = plan.totals;
    this.log(`photo-sync ${plan.source} → ${plan.destination} (dry run: nothing changed)`);
    for (const u of plan.uploads.slice(0, SHOWN_ITEMS))
      this.log(`  upload  ${u.key}  (${u.reason}, ${formatBytes(u.size)})`);
    if (plan.uploads.length > SHOWN_ITEMS) this.log(`  … and ${count(plan.uploads.length - SHOWN_ITEMS)} more uploads`);
    for (const d of plan.deletes.slice(0, SHOWN_ITEMS)) this.log(`  delete  ${d.key}`);
    if (plan.deletes.length > SHOWN_ITEMS) this.log(`  … and ${count(plan.deletes.length - SHOWN_ITEMS)} more deletes`);
    this.log(
      table([
        ["scanned", `${count(t.scannedFiles)} files`, formatBytes(t.scannedBytes)],
        ["would upload", `${count(t.uploadFiles)} files`, formatBytes(t.uploadBytes)],
        ["would skip", `${count(t.skipFiles)} files`, formatBytes(t.skipBytes)],
        ["would delete", `${count(t.deleteFiles)} objects`, formatBytes(t.deleteBytes)],
        ["orphans", `${count(t.orphans)} objects`, plan.deleteOrphans ? "" : "(kept: no --delete)"],
        ["excluded", count(t.excluded), ""],
        ["errors", count(t.errors), ""],
      ]),
    );
    if (plan.deleteBlocked) process.stderr.write(`warning: ${plan.deleteBlocked.message}\n`);
    for (const e of plan.errors.slice(0, SHOWN_ITEMS))
      process.stderr.write(`failed: scan ${e.path}: ${e.code}: ${e.message}\n`);
  }

  private printSummary(summary: SyncSummary, outcome: "done" | "interrupted"): void {
    this.log(`photo-sync ${summary.source} → ${summary.destination} (${outcome})`);
    this.log(
      table([
        ["scanned", `${count(summary.scanned)} files`, formatBytes(summary.scannedBytes)],
        ["uploaded", `${count(summary.uploaded)} files`, formatBytes(summary.uploadedBytes)],
        ["skipped", `${count(summary.skipped)} files`, formatBytes(summary.skippedBytes)],
        ["deleted", `${count(summary.deleted)} objects`, ""],
        ["failed", count(summary.failed), ""],
        ["excluded", count(summary.excluded), ""],
        ["time", `${(summary.durationMs / 1000).toFixed(1)} s`, ""],
      ]),
    );
    if (summary.deleteBlocked) process.stderr.write(`warning: ${summary.deleteBlocked}\n`);
    if (summary.orphans > 0 && summary.deleted === 0 && !summary.deleteBlocked) {
      this.note(
        `note: ${count(summary.orphans)} object(s) under the prefix have no local file (kept; --delete removes them)`,
      );
    }
    this.printFailures(summary);
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
