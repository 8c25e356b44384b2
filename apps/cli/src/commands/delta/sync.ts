import { resolve } from "node:path";
import { Args, Flags } from "@oclif/core";
import { DeltaError, type SyncResult } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import {
  isStoreUrl,
  openDeltaStore,
  orderedFilters,
  parseTarget,
  ratioFlag,
  transferFlags,
} from "../../topics/delta.ts";

export default class DeltaSync extends BaseCommand<typeof DeltaSync> {
  static override summary = "Sync a local folder and a delta store prefix, in either direction";
  static override description = [
    "The direction follows the arguments (aws s3 sync syntax). Files are compared by size and SHA-256, never by which side is newer: a download fetches every remote file that differs, an upload sends every local file that differs.",
    "--delete removes destination files the source does not have; excluded paths are never deleted, and a prefix is always a folder (app never reaches app-old/). Deleting the last delta of a folder removes its reference.bin.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> delta sync ./dist s3://my-bucket/releases/app/",
    "<%= config.bin %> delta sync s3://my-bucket/releases/app/ ./mirror --delete",
    "<%= config.bin %> delta sync ./dist s3://my-bucket/releases/app/ --exclude '*' --include '*.zip' --dryrun",
  ];
  static override args = {
    src: Args.string({ description: "Local folder or s3://bucket/prefix", required: true }),
    dst: Args.string({ description: "s3://bucket/prefix or local folder", required: true }),
  };
  static override flags = {
    ...transferFlags,
    delete: Flags.boolean({ description: "Delete destination files that the source does not have" }),
  };

  async run(): Promise<SyncResult> {
    const { args, flags } = this;
    const upload = !isStoreUrl(args.src) && isStoreUrl(args.dst);
    if (upload === (isStoreUrl(args.src) && !isStoreUrl(args.dst))) {
      throw new DeltaError("delta.invalidOptions", "sync needs one local folder and one s3:// (or file://) URL.");
    }
    const remote = parseTarget(upload ? args.dst : args.src, false);
    const local = resolve(upload ? args.src : args.dst);
    const store = openDeltaStore(remote.location, this.clientOptions(), this.logger, {
      "max-ratio": ratioFlag(flags["max-ratio"]),
      engine: flags.engine,
      "no-delta": flags["no-delta"],
    });
    const dryRun = flags.dryrun || flags["dry-run"];
    try {
      const result = await store.sync(upload ? local : remote.path, upload ? remote.path : local, {
        filters: orderedFilters(this.argv),
        delete: flags.delete,
        dryRun,
        signal: this.signal,
        onProgress: this.progress,
      });
      const tag = dryRun ? "(dryrun) " : "";
      for (const key of result.transferred) this.log(`${tag}${upload ? "upload" : "download"}: ${key}`);
      for (const key of result.deleted) this.log(`${tag}delete: ${key}`);
      for (const f of result.failed) this.logToStderr(`failed: ${f.key}: ${f.error}`);
      if (result.failed.length > 0) {
        return this.partial(result, `${result.failed.length} files failed`);
      }
      return result;
    } finally {
      await store.close();
    }
  }
}
