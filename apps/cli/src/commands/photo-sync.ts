import { Args, Flags } from "@oclif/core";
import { type SyncPlan, type SyncResult, syncDirectory } from "@toolkit/photo-sync";
import { PhotoSyncCommand, photoSyncFlags } from "../topics/photo-sync.ts";

export default class PhotoSync extends PhotoSyncCommand<typeof PhotoSync> {
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
    ...photoSyncFlags({
      deletes: "Delete objects under the prefix that have no local file (within the delete rails)",
      concurrency: "Files uploaded at once",
      defaultExcludes: "Apply the Lightroom default excludes (--no-default-excludes to back up everything)",
    }),
    "storage-class": Flags.string({
      description: "S3 storage class of uploaded objects (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, …)",
      helpValue: "<class>",
    }),
    "follow-symlinks": Flags.boolean({ description: "Follow symbolic links (skipped by default)" }),
  };

  async run(): Promise<SyncResult | SyncPlan> {
    const { flags, args } = this;
    const common = this.commonOptions(flags);
    return this.runSync(
      "photo-sync",
      () =>
        syncDirectory({
          ...common.options,
          source: args.source,
          destination: args.destination,
          deleteOrphans: common.delete,
          followSymlinks: flags["follow-symlinks"],
          ...(flags["storage-class"] ? { storageClass: flags["storage-class"] } : {}),
        }),
      {
        unreadable: "path(s) could not be read (see above)",
        failed: "item(s) failed; the others are backed up. Fix them and run again.",
      },
    );
  }
}
