import { Args, Flags } from "@oclif/core";
import { S3File, type StatusResult } from "@toolkit/s3-object";
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
    "<%= config.bin %> object status s3://my-bucket/reports/q3.csv --local-path ./q3.csv",
    "<%= config.bin %> object status s3://my-bucket/reports/q3.csv --json",
  ];
  static override args = {
    url: Args.string({ description: "s3://bucket/key (or file:///path)", required: true }),
  };
  static override flags = {
    "local-path": Flags.string({
      description: "The local copy (default: its place in the cache)",
      helpValue: "<file>",
    }),
    "cache-dir": Flags.string({
      description: "Cache directory (default $XDG_CACHE_HOME/s3kit/objects)",
      helpValue: "<dir>",
    }),
  };

  async run(): Promise<StatusResult> {
    const { args, flags } = this;
    await using file = new S3File(args.url, {
      ...this.clientOptions(),
      logger: this.logger,
      ...(flags["local-path"] ? { localPath: flags["local-path"] } : {}),
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
