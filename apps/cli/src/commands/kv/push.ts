import { type OnConflict, openKv, type PushResult } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions, onConflictFlag, singleWriterFlag } from "../../topics/kv.ts";

export default class KvPush extends BaseCommand<typeof KvPush> {
  static override summary = "Send local changes to the remote";
  static override description =
    "Packs every changed key into one new segment and replaces the manifest conditionally: two requests, whatever the number of keys. If another writer pushed meanwhile, its changes are pulled first and conflicts settled by --on-conflict.\n\nOn an endpoint that ignores conditional PutObject (see `s3kit doctor s3://bucket/prefix`) two writers could overwrite each other, so the push is refused (kv.unsafeStore) unless --single-writer declares that only this replica ever writes there.";
  static override examples = [
    "<%= config.bin %> kv push --db ./notes.db --remote s3://my-bucket/dbs/notes",
    "<%= config.bin %> kv push --db ./notes.db --on-conflict error --json",
  ];
  static override flags = {
    ...dbFlags,
    ...onConflictFlag,
    ...singleWriterFlag,
  };

  async run(): Promise<PushResult> {
    const { flags } = this;
    await using db = await openKv({
      ...dbOptions(flags, this),
      flag: "w",
      onConflict: flags["on-conflict"] as OnConflict,
      pullOnOpen: false,
      singleWriter: flags["single-writer"],
    });
    const result = await db.push({ signal: this.signal });
    this.log(
      `pushed ${result.pushed} value(s) and ${result.deleted} deletion(s) to ${db.remote} in ${result.requests} request(s)`,
    );
    for (const c of result.conflicts) this.log(`conflict on ${JSON.stringify(c.key)}: ${c.winner} version kept`);
    return result;
  }
}
