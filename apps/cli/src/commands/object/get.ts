import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Args, Flags } from "@oclif/core";
import { type DownloadResult, S3File } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes } from "../../progress-bar.ts";

export default class ObjectGet extends BaseCommand<typeof ObjectGet> {
  static override summary = "Download one object, only if it changed since the last get";
  static override description = [
    "Keeps the object in [dest] (default: the cache, $XDG_CACHE_HOME/s3kit/objects/<bucket>/<key>). A repeated get of an unchanged object is one conditional GET answered 304: no body moves.",
    "The download goes to a temp file, is verified (SHA-256 metadata, MD5 or multipart ETag) and only then replaces [dest]; a failed or damaged download leaves [dest] as it was.",
    "A [dest] with local edits made since the last get is not overwritten (exit 1, code object.localChanges) unless --force.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object get s3://my-bucket/reports/q3.csv ./q3.csv",
    "<%= config.bin %> object get s3://my-bucket/reports/q3.csv --json",
  ];
  static override args = {
    url: Args.string({ description: "s3://bucket/key (or file:///path)", required: true }),
    dest: Args.string({ description: "Local file (or an existing directory) to keep the object in" }),
  };
  static override flags = {
    force: Flags.boolean({ description: "Overwrite local edits made since the last get" }),
    verify: Flags.option({
      options: ["auto", "strict", "none"] as const,
      description: "How the download is checked (none for SSE-KMS objects without s3kit metadata)",
      default: "auto" as const,
    })(),
    "cache-dir": Flags.string({
      description: "Cache directory (default $XDG_CACHE_HOME/s3kit/objects)",
      helpValue: "<dir>",
    }),
  };

  async run(): Promise<DownloadResult & { url: string }> {
    const { args, flags } = this;
    let localPath = args.dest;
    if (localPath) {
      const st = await stat(localPath).catch(() => undefined);
      if (st?.isDirectory()) localPath = join(localPath, args.url.slice(args.url.lastIndexOf("/") + 1));
    }
    await using file = new S3File(args.url, {
      ...this.clientOptions(),
      logger: this.logger,
      verify: flags.verify,
      ...(localPath ? { localPath } : {}),
      ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
    });
    const result = await file.download({ force: flags.force, signal: this.signal, onProgress: this.progress });
    this.log(
      result.transferred
        ? `downloaded ${file.url} → ${result.localPath} (${formatBytes(result.bytes)}, verified: ${result.verified})`
        : `unchanged ${file.url} → ${result.localPath} (nothing transferred)`,
    );
    return { url: file.url, ...result };
  }
}
