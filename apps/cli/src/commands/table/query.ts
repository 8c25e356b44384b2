import { Flags } from "@oclif/core";
import { DynamoTableError, type Page, type SortKeyCondition } from "@toolkit/dynamo-table";
import { BaseCommand } from "../../base-command.ts";
import { ndjson, noteInvalid, openTable, pageFlags, typeFlags, whereFromFlags } from "../../topics/table.ts";

export default class TableQuery extends BaseCommand<typeof TableQuery> {
  static override summary = "Query a user GSI (gsi1-gsi5) by partition key and sort-key condition";
  static override examples = [
    "<%= config.bin %> table query --table app --type Note --versioned --index 1 --pk owner#u1",
    "<%= config.bin %> table query --table app --type Note --versioned --index 1 --pk owner#u1 --sk-begins-with 2026- --json",
  ];
  static override flags = {
    ...typeFlags,
    ...pageFlags,
    index: Flags.integer({ description: "User GSI number (gsi<n>pk / gsi<n>sk)", required: true, min: 1, max: 5 }),
    pk: Flags.string({ description: "Partition key value of the index", required: true }),
    sk: Flags.string({ description: "Sort key equals", exclusive: ["sk-begins-with"] }),
    "sk-begins-with": Flags.string({ description: "Sort key prefix" }),
  };

  async run(): Promise<Page<Record<string, unknown>>> {
    const { flags } = this;
    const { table, resource, close } = openTable(this, flags, { cursors: true });
    try {
      if (flags.pk === "") throw new DynamoTableError("table.invalidOptions", "--pk must not be empty");
      const sk: SortKeyCondition | undefined =
        flags.sk !== undefined
          ? flags.sk
          : flags["sk-begins-with"] !== undefined
            ? { beginsWith: flags["sk-begins-with"] }
            : undefined;
      const where = whereFromFlags(flags.where);
      const page = await table.query(resource, `gsi${flags.index}`, {
        pk: flags.pk,
        limit: flags.limit,
        order: flags.order,
        signal: this.signal,
        ...(sk !== undefined ? { sk } : {}),
        ...(flags.cursor ? { cursor: flags.cursor } : {}),
        ...(where ? { where: where as never } : {}),
        ...(flags["skip-invalid"] ? { skipInvalid: true } : {}),
      });
      noteInvalid((m) => this.note(m), page);
      if (page.items.length > 0) this.log(ndjson(page.items));
      if (page.cursor) this.note(`next page: --cursor ${page.cursor}`);
      return page;
    } finally {
      close();
    }
  }
}
