import { Args, Flags } from "@oclif/core";
import { S3File, type UploadResult } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes } from "../../progress-bar.ts";

export default class ObjectPut extends BaseCommand<typeof ObjectPut> {
  static override summary = "Upload a file, only if it changed, never over someone else's change";
  static override description = [
    "Sends <file> to <url> with If-Match on the version last downloaded to (or uploaded from) <file>, or If-None-Match: * for a new object. If the remote changed meanwhile, or exists and differs from a file never synced with it, nothing is written (exit 1, code object.conflict): get it first, or pass --force.",
    "An unchanged file is not sent again. Large files go up in parts; the SHA-256 and the part size are stored in the object's metadata so every later download is verified.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object put ./q3.csv s3://my-bucket/reports/q3.csv",
    "<%= config.bin %> object put ./q3.csv s3://my-bucket/reports/q3.csv --force",
  ];
  static override args = {
    file: Args.string({ description: "Local file to upload", required: true }),
    url: Args.string({ description: "s3://bucket/key (or file:///path)", required: true }),
  };
  static override flags = {
    force: Flags.boolean({ description: "Overwrite the remote even if it changed (no If-Match)" }),
    "content-type": Flags.string({ description: "Content type of the object", helpValue: "<type>" }),
    "cache-dir": Flags.string({
      description: "Where the sync state is kept (default $XDG_CACHE_HOME/s3kit/objects)",
      helpValue: "<dir>",
    }),
  };

  async run(): Promise<UploadResult & { url: string; warnings: string[] }> {
    const { args, flags } = this;
    const warnings: string[] = [];
    await using file = new S3File(args.url, {
      ...this.clientOptions(),
      logger: this.logger,
      // Once per endpoint: e.g. conditional writes checked with a HEAD first (issue 17). Also in --json.
      onWarning: (message) => {
        warnings.push(message);
        this.note(`warning: ${message}`);
      },
      localPath: args.file,
      ...(flags["content-type"] ? { contentType: flags["content-type"] } : {}),
      ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
    });
    const result = await file.upload({ force: flags.force, signal: this.signal, onProgress: this.progress });
    this.log(
      result.transferred
        ? `uploaded ${result.localPath} → ${file.url} (${formatBytes(result.bytes)})`
        : `unchanged ${result.localPath} → ${file.url} (nothing transferred)`,
    );
    return { url: file.url, ...result, warnings };
  }
}
