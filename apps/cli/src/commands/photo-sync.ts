import { Args, Flags } from "@oclif/core";
import { isPhotoSyncError, type SyncPlan, type SyncResult, syncDirectory } from "@toolkit/photo-sync";
import { BaseCommand } from "../base-command.ts";
import { syncFlags, syncOptionsOf } from "../sync-flags.ts";
import { count, printPlan, printSummary } from "../topics/photo-sync.ts";

const COMPARE_MODES = ["size-mtime", "size", "checksum"] as const;

export default class PhotoSync extends BaseCommand<typeof PhotoSync> {
  static override summary = "Back up a local folder (a Lightroom library) to S3 or a file:// folder";
  static override description = [
    "Scans <source>, lists <destination> once, uploads what is new or changed and skips the rest. Keys are <prefix>/<relative path>, NFC-normalised; the prefix is always a folder, so s3://b/Lightroom never touches s3://b/Lightroom Backups/.",
    "Lightroom caches and lock files are excluded by default (*.lrdata/**, *.lrcat-wal, *.lrcat-shm, *.lrcat-journal, *.lock, .DS_Store, Thumbs.db); --exclude adds patterns, --no-default-excludes drops the defaults. A pattern without a leading / matches at any depth; a folder a pattern matches is skipped whole.",
    "--delete removes objects under the prefix that have no local file, within the delete rails: never excluded paths, never after a read or upload error, never from an empty or missing source (--allow-empty-source), never more than 50 % of the backup (--max-delete-percent) or than --max-delete objects; a run over a limit stops before changing anything.",
    "Restore with `s3kit photo-sync restore`. A local state file (in the platform's cache folder) makes a no-change re-run cost only the listing. Ctrl-C stops new uploads, aborts the ones in flight and prints the summary so far; run again to resume.",
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
    ...syncFlags({ deletes: "Delete objects under the prefix that have no local file (within the delete rails)" }),
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
      description: "Where to keep the state that makes re-runs cheap (default: in the platform's cache folder)",
      helpValue: "<path>",
      exclusive: ["no-state"],
    }),
    "no-state": Flags.boolean({ description: "Keep no state file (re-runs compare with the listing only)" }),
  };

  async run(): Promise<SyncResult | SyncPlan> {
    const { flags, args } = this;
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    let result: SyncResult;
    try {
      result = await syncDirectory({
        source: args.source,
        destination: args.destination,
        dryRun: sync.dryRun,
        deleteOrphans: sync.delete,
        allowEmptySource: sync.allowEmptySource,
        ...(sync.maxDelete !== undefined ? { maxDelete: sync.maxDelete } : {}),
        ...(sync.maxDeletePercent !== undefined ? { maxDeletePercent: sync.maxDeletePercent } : {}),
        exclude: sync.exclude,
        include: sync.include,
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
        printSummary(
          (line) => this.log(line),
          (line) => this.note(line),
          "photo-sync",
          error.summary,
          "interrupted",
        );
      }
      throw error;
    }
    for (const warning of result.warnings) this.note(`warning: ${warning}`);
    if (result.plan) {
      if (!this.jsonEnabled()) printPlan((line) => this.log(line), "photo-sync", result.plan);
      const plan = result.plan;
      if (result.failed > 0) return this.partial(plan, `${count(result.failed)} path(s) could not be read (see above)`);
      return plan;
    }
    if (!this.jsonEnabled()) {
      printSummary(
        (line) => this.log(line),
        (line) => this.note(line),
        "photo-sync",
        result,
        "done",
      );
    }
    if (result.failed > 0) {
      return this.partial(
        result,
        `${count(result.failed)} item(s) failed; the others are backed up. Fix them and run again.`,
      );
    }
    return result;
  }
}
