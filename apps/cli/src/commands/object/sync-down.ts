import { Args, Flags } from "@oclif/core";
import { type BatchResult, S3FileManager } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes } from "../../progress-bar.ts";

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
  static override flags = {
    exclude: Flags.string({
      description: "Glob of relative paths to leave out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    mirror: Flags.boolean({ description: "Delete local files the prefix does not hold (never excluded ones)" }),
    "dry-run": Flags.boolean({ description: "Show what would be done; change nothing" }),
    force: Flags.boolean({ description: "Overwrite local edits not uploaded" }),
    concurrency: Flags.integer({ description: "Objects transferred at once", default: 8, min: 1, max: 256 }),
    "cache-dir": Flags.string({ description: "Where the sync state is kept", helpValue: "<dir>" }),
  };

  async run(): Promise<BatchResult> {
    const { args, flags } = this;
    await using manager = new S3FileManager({
      ...this.clientOptions(),
      logger: this.logger,
      concurrency: flags.concurrency,
      onProgress: this.progress,
      ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
    });
    const result = await manager.downloadPrefix(args.prefix, args.dir, {
      exclude: flags.exclude ?? [],
      mirror: flags.mirror,
      dryRun: flags["dry-run"],
      force: flags.force,
      signal: this.signal,
    });
    for (const item of result.items) {
      if (item.status === "failed") process.stderr.write(`failed: ${item.url}: ${item.error?.message}\n`);
      else if (item.status === "planned") this.log(`would ${item.action} ${item.url} → ${item.localPath}`);
      else if (item.status !== "unchanged") this.log(`${item.status} ${item.localPath}`);
    }
    this.log(
      `${result.dryRun ? "dry run: " : ""}${result.transferred} downloaded (${formatBytes(result.bytes)}), ${result.unchanged} unchanged, ${result.deleted} deleted, ${result.failed} failed`,
    );
    const json = {
      ...result,
      items: result.items.map((i) => ({
        ...i,
        error: i.error ? { code: (i.error as { code?: string }).code, message: i.error.message } : undefined,
      })),
    };
    if (result.failed > 0)
      return this.partial(json as BatchResult, `${result.failed} object(s) failed; the others are in place.`);
    return json as BatchResult;
  }
}
