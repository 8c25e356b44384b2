import { pipeline } from "node:stream/promises";
import { Args, Flags } from "@oclif/core";
import { S3File } from "@toolkit/s3-object";
import { BaseCommand } from "../../base-command.ts";

export default class ObjectCat extends BaseCommand<typeof ObjectCat> {
  static override summary = "Print an object to stdout (through the verified cache)";
  static override description =
    "Downloads the object into the cache when it changed (a 304 otherwise), verifies it, and writes the cached copy to stdout.";
  static override examples = ["<%= config.bin %> object cat s3://my-bucket/config/app.json | jq ."];
  static override enableJsonFlag = false;
  static override args = {
    url: Args.string({ description: "s3://bucket/key (or file:///path)", required: true }),
  };
  static override flags = {
    "cache-dir": Flags.string({
      description: "Cache directory (default $XDG_CACHE_HOME/s3kit/objects)",
      helpValue: "<dir>",
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = this;
    await using file = new S3File(args.url, {
      ...this.clientOptions(),
      logger: this.logger,
      ...(flags["cache-dir"] ? { cacheDir: flags["cache-dir"] } : {}),
    });
    await file.download({ signal: this.signal });
    const { createReadStream } = await import("node:fs");
    await pipeline(createReadStream(file.localPath), process.stdout, { end: false });
  }
}
