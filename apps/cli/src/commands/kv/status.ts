import { openKv } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions } from "../../topics/kv.ts";

export default class KvStatus extends BaseCommand<typeof KvStatus> {
  static override summary = "Show what a push would send";
  static override description =
    "Compares the local file with the remote state of the last pull or push; sends no request.";
  static override examples = [
    "<%= config.bin %> kv status --db ./notes.db",
    "<%= config.bin %> kv status --db ./notes.db --json",
  ];
  static override flags = dbFlags;

  async run(): Promise<{
    remote: string | undefined;
    size: number;
    added: string[];
    modified: string[];
    deleted: string[];
  }> {
    const { flags } = this;
    await using db = await openKv({
      ...dbOptions(flags, this),
      flag: "r",
      offline: true,
    });
    const changes = await db.changes();
    const size = await db.size();
    this.log(`${size} key(s) in ${flags.db}${db.remote ? `, remote ${db.remote}` : ""}`);
    const total = changes.added.length + changes.modified.length + changes.deleted.length;
    if (total === 0) this.log("nothing to push");
    for (const key of changes.added) this.log(`  added     ${key}`);
    for (const key of changes.modified) this.log(`  modified  ${key}`);
    for (const key of changes.deleted) this.log(`  deleted   ${key}`);
    return { remote: db.remote, size, ...changes };
  }
}
