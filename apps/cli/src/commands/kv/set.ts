import { Args } from "@oclif/core";
import { KvError, openKv } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions } from "../../topics/kv.ts";

export default class KvSet extends BaseCommand<typeof KvSet> {
  static override summary = "Set the value of a key (locally; push sends it)";
  static override description =
    "With the json codec (default) the value is JSON text: quote strings ('\"text\"'), or use --codec string.";
  static override examples = [
    '<%= config.bin %> kv set user:1 \'{"name":"Ada"}\' --db ./notes.db',
    "<%= config.bin %> kv set greeting hello --db ./notes.db --codec string",
  ];
  static override args = {
    key: Args.string({ description: "The key", required: true }),
    value: Args.string({ description: "The value (JSON text with the json codec)", required: true }),
  };
  static override flags = dbFlags;

  async run(): Promise<{ key: string; pending: { added: number; modified: number; deleted: number } }> {
    const { args, flags } = this;
    let value: unknown = args.value;
    if (flags.codec === "json") {
      try {
        value = JSON.parse(args.value);
      } catch {
        throw new KvError(
          "kv.invalidValue",
          `The value ${JSON.stringify(args.value.slice(0, 40))} is not JSON; quote a string ('"text"') or use --codec string.`,
        );
      }
    }
    await using db = await openKv({
      ...dbOptions(flags, this),
      // A local write: no request now, `kv push` sends it.
      offline: true,
    });
    await db.set(args.key, value);
    const changes = await db.changes();
    const pending = { added: changes.added.length, modified: changes.modified.length, deleted: changes.deleted.length };
    this.note(`set ${args.key}; ${pending.added + pending.modified + pending.deleted} change(s) waiting for push`);
    return { key: args.key, pending };
  }
}
