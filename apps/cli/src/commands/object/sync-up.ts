import { Args } from "@oclif/core";
import type { BatchResult } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { managerFor, prefixSyncFlags, reportBatch } from "../../topics/object.ts";

export default class ObjectSyncUp extends BaseCommand<typeof ObjectSyncUp> {
  static override summary = "Upload the files of a directory to a prefix";
  static override description = [
    "Files unchanged since the last sync cost no request. Changed files go up with If-Match on the version last synced, so an object someone else changed is a per-item object.conflict (nothing overwritten) unless --force.",
    "--exclude globs apply to paths relative to <dir> (nothing is excluded by default). --mirror then deletes objects under the prefix that have no local file: never excluded keys, and only if every upload succeeded. --dry-run prints the plan.",
    "Exit codes: 0 done, 1 failed, 2 usage error, 3 some objects failed, 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object sync-up ./data s3://my-bucket/data/",
    "<%= config.bin %> object sync-up ./data s3://my-bucket/data/ --mirror --exclude '*.tmp' --dry-run",
  ];
  static override args = {
    dir: Args.string({ description: "Local directory", required: true }),
    prefix: Args.string({ description: "s3://bucket/prefix/ (or file:///dir)", required: true }),
  };
  static override flags = prefixSyncFlags({
    mirror: "Delete objects under the prefix that have no local file (never excluded ones)",
    force: "Overwrite remote changes (no If-Match)",
  });

  async run(): Promise<BatchResult> {
    const { args, flags } = this;
    await using manager = managerFor(this, flags);
    const result = await manager.uploadPrefix(args.dir, args.prefix, {
      exclude: flags.exclude ?? [],
      mirror: flags.mirror,
      dryRun: flags["dry-run"],
      force: flags.force,
      signal: this.signal,
    });
    const json = reportBatch((line) => this.log(line), result, "uploaded");
    if (result.failed > 0) return this.partial(json, `${result.failed} object(s) failed; the others are in place.`);
    return json;
  }
}
