import { Args } from "@oclif/core";
import type { PrefixSyncResult } from "@toolkit/s3-object";
import type { SyncPlan } from "@toolkit/shared";
import { BaseCommand } from "../../base-command.ts";
import { syncOptionsOf } from "../../sync-flags.ts";
import { managerFor, partialLine, prefixSyncFlags, reportSync } from "../../topics/object.ts";

export default class ObjectSyncUp extends BaseCommand<typeof ObjectSyncUp> {
  static override summary = "Upload the files of a directory to a prefix";
  static override description = [
    "Runs on the shared sync engine, like photo-sync: files unchanged since the last sync (size and mtime) cost no request; the local folder is the source, so a changed file replaces its object.",
    "--include/--exclude globs apply to paths relative to <dir> (nothing is excluded by default). --delete (alias --mirror) then deletes objects under the prefix that have no local file, within the delete rails: a missing <dir> is an error; an empty one deletes nothing without --allow-empty-source; more than 50 % of the prefix (--max-delete-percent) or more than --max-delete objects stops before any change; never excluded keys, never past the prefix, and only if every upload succeeded. --dry-run prints the plan.",
    "Exit codes: 0 done, 1 failed (nothing changed when a delete rail stops the run), 2 usage error, 3 some objects failed, 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object sync-up ./data s3://my-bucket/data/",
    "<%= config.bin %> object sync-up ./data s3://my-bucket/data/ --delete --exclude '*.tmp' --dry-run",
  ];
  static override args = {
    dir: Args.string({ description: "Local directory", required: true }),
    prefix: Args.string({ description: "s3://bucket/prefix/ (or file:///dir)", required: true }),
  };
  static override flags = prefixSyncFlags({
    deletes: "Delete objects under the prefix that have no local file (within the delete rails)",
  });

  async run(): Promise<PrefixSyncResult | SyncPlan> {
    const { args, flags } = this;
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    await using manager = managerFor(this, flags);
    const result = await manager.uploadPrefix(args.dir, args.prefix, { ...sync, signal: this.signal });
    const json = reportSync(
      { log: (line) => this.log(line), note: (line) => this.note(line), json: this.jsonEnabled() },
      "object sync-up",
      result,
    );
    if (result.failed > 0) return this.partial(json, partialLine(result, "object(s)"));
    return json;
  }
}
