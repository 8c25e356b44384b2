import { Args } from "@oclif/core";
import { type RestoreResult, restoreDirectory, type SyncPlan } from "@toolkit/photo-sync";
import { PhotoSyncCommand, photoSyncFlags } from "../../topics/photo-sync.ts";

export default class PhotoSyncRestore extends PhotoSyncCommand<typeof PhotoSyncRestore> {
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
  static override flags = photoSyncFlags({
    deletes: "Delete local files that are not in the backup (within the delete rails)",
    concurrency: "Files downloaded at once",
    defaultExcludes: "Leave Lightroom caches and lock files alone (--no-default-excludes to include them)",
  });

  async run(): Promise<RestoreResult | SyncPlan> {
    const { flags, args } = this;
    const common = this.commonOptions(flags);
    return this.runSync(
      "photo-sync restore",
      () =>
        restoreDirectory({
          ...common.options,
          source: args.source,
          destination: args.destination,
          deleteExtraneous: common.delete,
        }),
      {
        unreadable: "item(s) cannot be restored (see above)",
        failed: "item(s) failed; the others are restored. Run again to retry them.",
      },
    );
  }
}
