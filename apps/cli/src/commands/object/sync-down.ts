import { Args } from "@oclif/core";
import type { BatchResult } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { checkDestinationFolder } from "../../preflight.ts";
import { managerFor, prefixSyncFlags, reportBatch } from "../../topics/object.ts";

export default class ObjectSyncDown extends BaseCommand<typeof ObjectSyncDown> {
  static override summary = "Download every object under a prefix into a directory";
  static override description = [
    "Objects listed with the ETag last synced and an unchanged local file cost no request. Changed objects are downloaded to temp files, verified and renamed into place. Local files with edits not uploaded are not overwritten (per-item object.localChanges) unless --force.",
    "--exclude globs apply to paths relative to the prefix (nothing is excluded by default). --mirror then deletes local files the prefix does not hold: only inside <dir>, never excluded ones, and only if every download succeeded. --dry-run prints the plan.",
    "Exit codes: 0 done, 1 failed, 2 usage error, 3 some objects failed, 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object sync-down s3://my-bucket/data/ ./data",
    "<%= config.bin %> object sync-down s3://my-bucket/data/ ./data --mirror --exclude .git --dry-run",
  ];
  static override args = {
    prefix: Args.string({ description: "s3://bucket/prefix/ (or file:///dir)", required: true }),
    dir: Args.string({ description: "Local directory", required: true }),
  };
  static override flags = prefixSyncFlags({
    mirror: "Delete local files the prefix does not hold (never excluded ones)",
    force: "Overwrite local edits not uploaded",
  });

  async run(): Promise<BatchResult> {
    const { args, flags } = this;
    await checkDestinationFolder(args.dir, "download");
    await using manager = managerFor(this, flags);
    const result = await manager.downloadPrefix(args.prefix, args.dir, {
      exclude: flags.exclude ?? [],
      mirror: flags.mirror,
      dryRun: flags["dry-run"],
      force: flags.force,
      signal: this.signal,
    });
    const json = reportBatch((line) => this.log(line), result, "downloaded");
    if (result.failed > 0) return this.partial(json, `${result.failed} object(s) failed; the others are in place.`);
    return json;
  }
}
