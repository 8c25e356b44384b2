import { Args, Flags } from "@oclif/core";
import { isPhotoSyncError, type RestoreResult, restoreDirectory, type SyncPlan } from "@toolkit/photo-sync";
import { BaseCommand } from "../../base-command.ts";
import { syncFlags, syncOptionsOf } from "../../sync-flags.ts";
import { count, printPlan, printSummary } from "../../topics/photo-sync.ts";

const COMPARE_MODES = ["size-mtime", "size", "checksum"] as const;

export default class PhotoSyncRestore extends BaseCommand<typeof PhotoSyncRestore> {
  static override summary = "Restore a photo-sync backup into a local folder";
  static override description = [
    "Lists <source> once, scans <destination> (created when missing) and downloads what is missing or different. Each file is written beside its target, verified (its s3kit-sha256 metadata, else the MD5 or multipart ETag), given the mtime the backup recorded, and only then moved into place: a file that does not match its checksum is reported as failed and not written.",
    "Resumable: after Ctrl-C or even kill -9, run it again; partial files are removed and only what is missing is downloaded.",
    "--delete removes local files that are not in the backup, within the same delete rails as a backup (never excluded paths such as Lightroom previews, never from an empty or missing backup, at most 50 % of the folder by default).",
    "Exit codes: 0 done, 1 failed, 2 usage error, 3 some files failed (listed), 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> photo-sync restore s3://my-bucket/Lightroom ~/Pictures/Restored",
    "<%= config.bin %> photo-sync restore s3://my-bucket/Lightroom ~/Pictures/Restored --dry-run",
    "<%= config.bin %> photo-sync restore file:///mnt/nas/photo-backup ./photos --include '2024/**'",
  ];
  static override args = {
    source: Args.string({
      description: "The backup: s3://bucket/prefix, file:///abs/dir or a local path",
      required: true,
    }),
    destination: Args.string({ description: "Local folder to restore into", required: true }),
  };
  static override flags = {
    ...syncFlags({ deletes: "Delete local files that are not in the backup (within the delete rails)" }),
    "default-excludes": Flags.boolean({
      description: "Leave Lightroom caches and lock files alone (--no-default-excludes to include them)",
      default: true,
      allowNo: true,
    }),
    compare: Flags.option({
      options: COMPARE_MODES,
      description: "How a local file that differs is found: size and mtime, size only, or content checksums",
      default: "size-mtime" as const,
    })(),
    concurrency: Flags.integer({
      description: "Files downloaded at once",
      default: 16,
      min: 1,
      max: 256,
      helpValue: "<n>",
    }),
    "state-file": Flags.string({
      description: "Where to keep the state that makes re-runs cheap (default: in the platform's cache folder)",
      helpValue: "<path>",
      exclusive: ["no-state"],
    }),
    "no-state": Flags.boolean({ description: "Keep no state file" }),
  };

  async run(): Promise<RestoreResult | SyncPlan> {
    const { flags, args } = this;
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    let result: RestoreResult;
    try {
      result = await restoreDirectory({
        source: args.source,
        destination: args.destination,
        dryRun: sync.dryRun,
        deleteExtraneous: sync.delete,
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
      });
    } catch (error) {
      if (isPhotoSyncError(error, "photoSync.aborted") && error.summary && !this.jsonEnabled()) {
        this.stopProgress();
        printSummary(
          (line) => this.log(line),
          (line) => this.note(line),
          "photo-sync restore",
          error.summary,
          "interrupted",
        );
      }
      throw error;
    }
    if (result.plan) {
      if (!this.jsonEnabled()) printPlan((line) => this.log(line), "photo-sync restore", result.plan);
      if (result.failed > 0)
        return this.partial(result.plan, `${count(result.failed)} item(s) cannot be restored (see above)`);
      return result.plan;
    }
    if (!this.jsonEnabled()) {
      printSummary(
        (line) => this.log(line),
        (line) => this.note(line),
        "photo-sync restore",
        result,
        "done",
      );
    }
    if (result.failed > 0) {
      return this.partial(
        result,
        `${count(result.failed)} item(s) failed; the others are restored. Run again to retry them.`,
      );
    }
    return result;
  }
}
