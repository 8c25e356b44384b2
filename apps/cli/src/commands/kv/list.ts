import { Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions, openForReading } from "../../topics/kv.ts";

export default class KvList extends BaseCommand<typeof KvList> {
  static override summary = "List keys (and values) in key order";
  static override description =
    "Opening pulls new remote changes first, unless a key changed both here and remotely: then nothing is pulled (a read never settles a conflict; use `kv pull --on-conflict`).";
  static override examples = [
    "<%= config.bin %> kv list --db ./notes.db --prefix user:",
    "<%= config.bin %> kv list --db ./notes.db --values --json",
  ];
  static override flags = {
    ...dbFlags,
    prefix: Flags.string({ description: "Only keys starting with this", helpValue: "<prefix>" }),
    values: Flags.boolean({ description: "Print values too (fetches remote-only values)" }),
  };

  async run(): Promise<{ keys: string[] } | { entries: Record<string, unknown> }> {
    const { flags } = this;
    await using db = await openForReading(
      {
        ...dbOptions(flags, this),
        flag: "r",
      },
      (message) => this.note(message),
    );
    const options = { ...(flags.prefix ? { prefix: flags.prefix } : {}), signal: this.signal };
    if (flags.values) {
      const entries: Record<string, unknown> = {};
      for await (const [key, value] of db.entries(options)) {
        entries[key] = value;
        if (!this.jsonEnabled()) this.log(`${key}\t${JSON.stringify(value)}`);
      }
      return { entries };
    }
    const keys: string[] = [];
    for await (const key of db.keys(options)) {
      keys.push(key);
      if (!this.jsonEnabled()) this.log(key);
    }
    return { keys };
  }
}
