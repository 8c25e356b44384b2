import { Args } from "@oclif/core";
import { KvError } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions, openForReading } from "../../topics/kv.ts";

export default class KvGet extends BaseCommand<typeof KvGet> {
  static override summary = "Print the value of a key";
  static override description =
    "Reads the local file; a value known only from the remote is fetched with one ranged GET (and kept). Opening pulls new remote changes first, unless a key changed both here and remotely: then nothing is pulled (a read never settles a conflict; use `kv pull --on-conflict`).";
  static override examples = [
    "<%= config.bin %> kv get user:1 --db ./notes.db",
    "<%= config.bin %> kv get user:1 --db ./notes.db --remote s3://my-bucket/dbs/notes --json",
  ];
  static override args = { key: Args.string({ description: "The key", required: true }) };
  static override flags = dbFlags;

  async run(): Promise<{ key: string; value: unknown; modified: string | undefined }> {
    const { args, flags } = this;
    await using db = await openForReading(
      {
        ...dbOptions(flags, this),
        flag: "r",
      },
      (message) => this.note(message),
    );
    const value = await db.get(args.key, { signal: this.signal });
    if (value === undefined) {
      throw new KvError(
        "kv.notFound",
        `No key ${JSON.stringify(args.key)} in ${flags.db}; list the keys with \`kv list\`.`,
      );
    }
    this.log(typeof value === "string" && flags.codec === "string" ? value : JSON.stringify(value));
    return { key: args.key, value, modified: (await db.getTimestamp(args.key))?.toISOString() };
  }
}
