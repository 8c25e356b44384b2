import { Flags } from "@oclif/core";
import { type CompactResult, openKv } from "@toolkit/kv-store";
import { BaseCommand } from "../../base-command.ts";
import { dbFlags, dbOptions, singleWriterFlag } from "../../topics/kv.ts";

export default class KvCompact extends BaseCommand<typeof KvCompact> {
  static override summary = "Merge the remote's segments into one, dropping superseded values";
  static override description =
    "The manifest is swapped conditionally; old segments are deleted only once retired for --grace-ms, so readers mid-pull never find a hole.\n\nLike push, refused (kv.unsafeStore) on an endpoint that ignores conditional PutObject unless --single-writer declares that only this replica ever writes there.";
  static override examples = ["<%= config.bin %> kv compact --db ./notes.db --remote s3://my-bucket/dbs/notes"];
  static override flags = {
    ...dbFlags,
    ...singleWriterFlag,
    "grace-ms": Flags.integer({ description: "Keep retired segments this long (ms)", default: 3_600_000, min: 0 }),
  };

  async run(): Promise<CompactResult> {
    const { flags } = this;
    await using db = await openKv({
      ...dbOptions(flags, this),
      flag: "w",
      pullOnOpen: false,
      singleWriter: flags["single-writer"],
    });
    const result = await db.compact({ graceMs: flags["grace-ms"], signal: this.signal });
    this.log(
      `${result.segmentsBefore} segment(s) → ${result.segmentsAfter}; ${result.liveKeys} live key(s), ${result.droppedEntries} superseded entr(ies) dropped, ${result.deletedObjects} object(s) deleted`,
    );
    return result;
  }
}
