import { Args } from "@oclif/core";
import type { PrefixSyncResult } from "@toolkit/s3-object";
import type { SyncPlan } from "@toolkit/shared";
import { BaseCommand } from "../../base-command.ts";
import { checkDestinationFolder } from "../../preflight.ts";
import { syncOptionsOf } from "../../sync-flags.ts";
import { managerFor, partialLine, prefixSyncFlags, reportSync } from "../../topics/object.ts";

export default class ObjectSyncDown extends BaseCommand<typeof ObjectSyncDown> {
  static override summary = "Download every object under a prefix into a directory";
  static override description = [
    "Runs on the shared sync engine, like photo-sync restore: objects unchanged since the last sync cost no request; changed ones are downloaded to temp files, verified (s3kit-sha256, else MD5 or the multipart ETag) and renamed into place. The prefix is the source, so a changed object replaces the local file. A key that cannot be a safe local path (`..`, `.`, `//`, NUL) is one failed item.",
    "--include/--exclude globs apply to paths relative to the prefix (nothing is excluded by default). --delete (alias --mirror) then deletes local files the prefix does not hold, within the delete rails: an empty or missing prefix deletes nothing without --allow-empty-source; more than 50 % of <dir> (--max-delete-percent) or more than --max-delete files stops before any change; only inside <dir>, never excluded files, and only if every download succeeded. --dry-run prints the plan.",
    "Exit codes: 0 done, 1 failed (nothing changed when a delete rail stops the run), 2 usage error, 3 some objects failed, 130 interrupted.",
  ].join("\n\n");
  static override examples = [
    "<%= config.bin %> object sync-down s3://my-bucket/data/ ./data",
    "<%= config.bin %> object sync-down s3://my-bucket/data/ ./data --delete --exclude '.git/**' --dry-run",
  ];
  static override args = {
    prefix: Args.string({ description: "s3://bucket/prefix/ (or file:///dir)", required: true }),
    dir: Args.string({ description: "Local directory", required: true }),
  };
  static override flags = prefixSyncFlags({
    deletes: "Delete local files the prefix does not hold (within the delete rails)",
  });

  async run(): Promise<PrefixSyncResult | SyncPlan> {
    const { args, flags } = this;
    await checkDestinationFolder(args.dir, "download");
    const sync = syncOptionsOf(flags, (line) => this.note(line));
    await using manager = managerFor(this, flags);
    const result = await manager.downloadPrefix(args.prefix, args.dir, { ...sync, signal: this.signal });
    const json = reportSync(
      { log: (line) => this.log(line), note: (line) => this.note(line), json: this.jsonEnabled() },
      "object sync-down",
      result,
    );
    if (result.failed > 0) return this.partial(json, partialLine(result, "object(s)"));
    return json;
  }
}
