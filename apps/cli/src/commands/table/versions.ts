import { Args } from "@oclif/core";
import { BaseCommand } from "../../base-command.ts";
import { ndjson, openTable, typeFlags } from "../../topics/table.ts";

export default class TableVersions extends BaseCommand<typeof TableVersions> {
  static override summary = "Print every stored version of an item, oldest first (JSON lines)";
  static override examples = ["<%= config.bin %> table versions 01JD7Z… --table app --type Note --versioned --json"];
  static override args = { id: Args.string({ description: "Item id", required: true }) };
  static override flags = { ...typeFlags };

  async run(): Promise<{ id: string; versions: Record<string, unknown>[] }> {
    const { table, resource, close } = openTable(this, this.flags);
    try {
      const versions = await table.versions(resource, this.args.id, { signal: this.signal });
      if (versions.length > 0) this.log(ndjson(versions));
      else this.note(`${resource.type} ${this.args.id}: no versions stored`);
      return { id: this.args.id, versions };
    } finally {
      close();
    }
  }
}
