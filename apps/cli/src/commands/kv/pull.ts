import { type OnConflict, openKv, type PullResult } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions, onConflictFlag } from "../../topics/kv.ts";

export default class KvPull extends BaseCommand<typeof KvPull> {
  static override summary = "Bring remote changes into the local file";
  static override description =
    "One conditional GET of the manifest (304 when nothing changed) and one ranged GET per new segment; values are fetched later, when read. Keys changed locally too are settled by --on-conflict.";
  static override examples = [
    "<%= config.bin %> kv pull --db ./notes.db --remote s3://my-bucket/dbs/notes",
    "<%= config.bin %> kv pull --db ./notes.db --on-conflict error --json",
  ];
  static override flags = {
    ...dbFlags,
    ...onConflictFlag,
  };

  async run(): Promise<PullResult> {
    const { flags } = this;
    await using db = await openKv({
      ...dbOptions(flags, this),
      flag: "w",
      onConflict: flags["on-conflict"] as OnConflict,
      pullOnOpen: false,
    });
    const result = await db.pull({ signal: this.signal });
    this.log(
      `${result.updated} key(s) updated, ${result.deleted} deleted from ${db.remote} in ${result.requests} request(s)`,
    );
    for (const c of result.conflicts) this.log(`conflict on ${JSON.stringify(c.key)}: ${c.winner} version kept`);
    return result;
  }
}
