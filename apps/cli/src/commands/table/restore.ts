import { Args } from "@oclif/core";
import { BaseCommand } from "../../base-command.ts";
import { openTable, typeFlags } from "../../topics/table.ts";

export default class TableRestore extends BaseCommand<typeof TableRestore> {
  static override summary = "Write an old version's fields as a new latest version";
  static override examples = ["<%= config.bin %> table restore 01JD7Z… 3 --table app --type Note --versioned"];
  static override args = {
    id: Args.string({ description: "Item id", required: true }),
    version: Args.integer({ description: "Version to restore", required: true, min: 1 }),
  };
  static override flags = { ...typeFlags };

  async run(): Promise<Record<string, unknown>> {
    const { table, resource, close } = openTable(this, { ...this.flags, versioned: true });
    try {
      const item = await table.restore(resource, this.args.id, this.args.version, { signal: this.signal });
      this.note(
        `restored ${resource.type} ${this.args.id} version ${this.args.version} as version ${String(item.version)}`,
      );
      this.log(JSON.stringify(item, null, 2));
      return item;
    } finally {
      close();
    }
  }
}
