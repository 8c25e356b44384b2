import { Args, Flags } from "@oclif/core";
import { S3File, S3ObjectError, type StatusResult } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";
import { formatBytes } from "../../progress-bar.ts";

const WORDS: Record<StatusResult["status"], string> = {
  same: "same",
  localNewer: "local newer (put will upload it)",
  remoteNewer: "remote newer (get will download it)",
  conflict: "conflict (both changed; choose with --force)",
  localOnly: "local only",
  remoteOnly: "remote only",
  absent: "absent (neither exists)",
};

export default class ObjectStatus extends BaseCommand<typeof ObjectStatus> {
  static override summary = "Compare the local copy with the remote object";
  static override description =
    "One HEAD request; the local file is re-hashed only when its size or times changed. Status: same, localNewer, remoteNewer, conflict, localOnly, remoteOnly or absent.";
  static override examples = [
    "<%= config.bin %> object status s3://my-bucket/reports/q3.csv ./q3.csv",
    "<%= config.bin %> object status s3://my-bucket/reports/q3.csv --json",
  ];
  static override args = {
    url: Args.string({ description: "s3://bucket/key (or file:///path)", required: true }),
    path: Args.string({ description: "The local copy, as for get and put (default: its place in the cache)" }),
  };
  static override flags = {
    // Before `object status` took the local copy as a positional like get/put; kept so old scripts work.
    "local-path": Flags.string({
      description: "The local copy (same as the [path] argument)",
      helpValue: "<file>",
      hidden: true,
    }),
    "cache-dir": Flags.string({
      description: "Cache directory (default $XDG_CACHE_HOME/s3kit/objects)",
      helpValue: "<dir>",
    }),
  };

  async run(): Promise<StatusResult> {
    const { args, flags } = this;
    if (args.path !== undefined && flags["local-path"] !== undefined && args.path !== flags["local-path"]) {
      throw new S3ObjectError(
        "object.invalidOptions",
        "give the local copy once: as [path] or as --local-path, not both.",
      );
    }
    const localPath = args.path ?? flags["local-path"];
    await using file = new S3File(args.url, {
      ...this.clientOptions(),
      logger: this.logger,
      ...(localPath ? { localPath } : {}),
      ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
    });
    const result = await file.status({ signal: this.signal });
    this.log(`${result.status}: ${WORDS[result.status]}`);
    this.log(`  local   ${result.localPath}${result.local ? ` (${formatBytes(result.local.size)})` : " (missing)"}`);
    this.log(
      `  remote  ${result.url}${result.remote ? ` (${formatBytes(result.remote.size)}, ETag ${result.remote.etag})` : " (missing)"}`,
    );
    return result;
  }
}
