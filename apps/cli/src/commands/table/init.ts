import { Flags } from "@oclif/core";
import type { EnsureTableResult } from "@toolkit/dynamo-table";
import { BaseCommand } from "../../base-command.ts";
import { openTable, tableFlag } from "../../topics/table.ts";

export default class TableInit extends BaseCommand<typeof TableInit> {
  static override summary = "Create the table (pk/sk, gsitype, gsi1-gsi5) or add its missing indexes";
  static override description =
    "Idempotent: an existing table keeps its items; missing indexes are added one at a time. The layout is simplesingletable's.";
  static override examples = [
    "<%= config.bin %> table init --table app",
    "<%= config.bin %> table init --table app --ttl-attribute ttl --json",
  ];
  static override flags = {
    ...tableFlag,
    "ttl-attribute": Flags.string({ description: "Enable DynamoDB TTL on this attribute", helpValue: "<name>" }),
  };

  async run(): Promise<EnsureTableResult & { table: string }> {
    const { table, close } = openTable(this, this.flags);
    try {
      const result = await table.ensureTable({
        signal: this.signal,
        ...(this.flags["ttl-attribute"] ? { ttlAttribute: this.flags["ttl-attribute"] } : {}),
      });
      const added = result.addedIndexes.length > 0 ? ` (added ${result.addedIndexes.join(", ")})` : "";
      this.log(result.created ? `created table ${table.tableName}` : `table ${table.tableName} is ready${added}`);
      return { table: table.tableName, ...result };
    } finally {
      close();
    }
  }
}
