import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../base-command.ts";
import { openTable, typeFlags } from "../../topics/table.ts";

export default class TableGet extends BaseCommand<typeof TableGet> {
  static override summary = "Print one item (the latest, or one version) as JSON";
  static override examples = [
    "<%= config.bin %> table get 01JD7Z… --table app --type Note --versioned",
    "<%= config.bin %> table get 01JD7Z… --table app --type Note --versioned --version 3",
  ];
  static override args = { id: Args.string({ description: "Item id", required: true }) };
  static override flags = {
    ...typeFlags,
    version: Flags.integer({ description: "Read this version (versioned types)", min: 1 }),
    consistent: Flags.boolean({ description: "Strongly consistent read" }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { table, resource, close } = openTable(this, this.flags);
    try {
      const item = await table.getOrThrow(resource, this.args.id, {
        signal: this.signal,
        consistentRead: this.flags.consistent,
        ...(this.flags.version !== undefined ? { version: this.flags.version } : {}),
      });
      this.log(JSON.stringify(item, null, 2));
      return item;
    } finally {
      close();
    }
  }
}
