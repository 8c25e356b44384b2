import { Args, Flags } from "@oclif/core";
import { type BatchResult, S3FileManager } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes } from "../../progress-bar.ts";

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
  static override flags = {
    exclude: Flags.string({
      description: "Glob of relative paths to leave out (repeatable)",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: "<glob>",
    }),
    mirror: Flags.boolean({
      description: "Delete objects under the prefix that have no local file (never excluded ones)",
    }),
    "dry-run": Flags.boolean({ description: "Show what would be done; change nothing" }),
    force: Flags.boolean({ description: "Overwrite remote changes (no If-Match)" }),
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
    const result = await manager.uploadPrefix(args.dir, args.prefix, {
      exclude: flags.exclude ?? [],
      mirror: flags.mirror,
      dryRun: flags["dry-run"],
      force: flags.force,
      signal: this.signal,
    });
    for (const item of result.items) {
      if (item.status === "failed") process.stderr.write(`failed: ${item.url}: ${item.error?.message}\n`);
      else if (item.status === "planned") this.log(`would ${item.action} ${item.localPath} → ${item.url}`);
      else if (item.status !== "unchanged") this.log(`${item.status} ${item.url}`);
    }
    this.log(
      `${result.dryRun ? "dry run: " : ""}${result.transferred} uploaded (${formatBytes(result.bytes)}), ${result.unchanged} unchanged, ${result.deleted} deleted, ${result.failed} failed`,
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
