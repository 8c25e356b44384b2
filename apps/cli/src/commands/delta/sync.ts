import { resolve } from "node:path";
import { Args } from "@oclif/core";
import { DeltaError, type SyncResult } from "@toolkit/delta-store";
import { BaseCommand } from "../../base-command.ts";
import { syncFlags, syncOptionsOf } from "../../sync-flags.ts";
import { isStoreUrl, openDeltaStore, parseTarget, printableKey, ratioFlag, transferFlags } from "../../topics/delta.ts";

export default class DeltaSync extends BaseCommand<typeof DeltaSync> {
  static override summary = "Sync a local folder and a delta store prefix, in either direction";
  static override description = [
    "The direction follows the arguments (aws s3 sync syntax). Runs on the shared sync engine, like photo-sync and object sync-up/sync-down: the same --include/--exclude rules (rclone-like: a pattern without a leading / matches at any depth, --include leaves out every other file, excludes win), the same comparison (size and mtime, with a state file in the platform's cache folder) and the same delete rails.",
    "--delete removes destination files the source does not have, within the rails: never from a missing source (an error) or an empty one (--allow-empty-source), never more than 50 % of the destination (--max-delete-percent) or than --max-delete files, never after a listing or transfer error, never excluded paths, and a prefix is always a folder (app never reaches app-old/). A run over a limit stops before changing anything. Deleting the last delta of a folder removes its reference.bin.",
    "Exit codes: 0 done, 1 failed (nothing changed when a rail stopped it), 2 usage error, 3 some files failed (listed), 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> delta sync ./dist s3://my-bucket/releases/app/",
    "<%= config.bin %> delta sync s3://my-bucket/releases/app/ ./mirror --delete",
    "<%= config.bin %> delta sync ./dist s3://my-bucket/releases/app/ --include '*.zip' --dry-run",
  ];
  static override args = {
    src: Args.string({ description: "Local folder or s3://bucket/prefix", required: true }),
    dst: Args.string({ description: "s3://bucket/prefix or local folder", required: true }),
  };
  static override flags = {
    ...syncFlags({ deletes: "Delete destination files that the source does not have (within the delete rails)" }),
    "no-delta": transferFlags["no-delta"],
    "max-ratio": transferFlags["max-ratio"],
    engine: transferFlags.engine,
  };

  async run(): Promise<SyncResult> {
    const { args, flags } = this;
    const upload = !isStoreUrl(args.src) && isStoreUrl(args.dst);
    if (upload === (isStoreUrl(args.src) && !isStoreUrl(args.dst))) {
      throw new DeltaError("delta.invalidOptions", "sync needs one local folder and one s3:// (or file://) URL.");
    }
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    const remote = parseTarget(upload ? args.dst : args.src, false);
    // Absolute, so the library reads it as the local side of the sync.
    const local = resolve(upload ? args.src : args.dst);
    const store = openDeltaStore(remote.location, this.clientOptions(), this.logger, {
      "max-ratio": ratioFlag(flags["max-ratio"]),
      engine: flags.engine,
      "no-delta": flags["no-delta"],
    });
    try {
      const result = await store.sync(upload ? local : remote.path, upload ? remote.path : local, {
        include: sync.include,
        exclude: sync.exclude,
        delete: sync.delete,
        dryRun: sync.dryRun,
        allowEmptySource: sync.allowEmptySource,
        ...(sync.maxDelete !== undefined ? { maxDelete: sync.maxDelete } : {}),
        ...(sync.maxDeletePercent !== undefined ? { maxDeletePercent: sync.maxDeletePercent } : {}),
        signal: this.signal,
        onProgress: this.progress,
      });
      const tag = sync.dryRun ? "(dryrun) " : "";
      for (const key of result.transferred) this.log(`${tag}${upload ? "upload" : "download"}: ${printableKey(key)}`);
      for (const key of result.deleted) this.log(`${tag}delete: ${printableKey(key)}`);
      for (const warning of result.warnings) this.note(`warning: ${printableKey(warning)}`);
      for (const f of result.failed) this.logToStderr(`failed: ${printableKey(f.key)}: ${printableKey(f.error)}`);
      if (result.deleteBlocked && !this.jsonEnabled()) this.note(`note: ${printableKey(result.deleteBlocked)}`);
      if (result.failed.length > 0) return this.partial(result, `${result.failed.length} files failed`);
      return result;
    } finally {
      await store.close();
    }
  }
}
