import { Args, Flags } from "@oclif/core";
import { KvError, openKv } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions } from "../../topics/kv.ts";

export default class KvDelete extends BaseCommand<typeof KvDelete> {
  static override summary = "Delete a key (locally; push sends the deletion)";
  static override examples = ["<%= config.bin %> kv delete user:1 --db ./notes.db"];
  static override args = { key: Args.string({ description: "The key", required: true }) };
  static override flags = {
    ...dbFlags,
    "if-exists": Flags.boolean({ description: "Succeed when the key has no value" }),
  };

  async run(): Promise<{ key: string; deleted: boolean }> {
    const { args, flags } = this;
    await using db = await openKv({
      ...dbOptions(flags, this),
      flag: "w",
      // A local write: no request now, `kv push` sends it.
      offline: true,
    });
    const deleted = await db.delete(args.key);
    if (!deleted && !flags["if-exists"]) {
      throw new KvError(
        "kv.notFound",
        `No key ${JSON.stringify(args.key)} in ${flags.db}; pass --if-exists to ignore.`,
      );
    }
    this.note(deleted ? `deleted ${args.key}` : `${args.key} had no value`);
    return { key: args.key, deleted };
  }
}
