import type { Page } from "@toolkit/dynamo-table";
import { BaseCommand } from "../../base-command.ts";
import { ndjson, noteInvalid, openTable, pageFlags, typeFlags, whereFromFlags } from "../../topics/table.ts";

export default class TableList extends BaseCommand<typeof TableList> {
  static override summary = "List one page of a type by updatedAt (JSON lines; the next page's cursor on stderr)";
  static override examples = [
    "<%= config.bin %> table list --table app --type Note --versioned --where status=open --limit 20",
    "<%= config.bin %> table list --table app --type Note --versioned --cursor <cursor> --json",
  ];
  static override flags = { ...typeFlags, ...pageFlags };

  async run(): Promise<Page<Record<string, unknown>>> {
    const { flags } = this;
    const { table, resource, close } = openTable(this, flags, { cursors: true });
    try {
      const where = whereFromFlags(flags.where);
      const page = await table.list(resource, {
        limit: flags.limit,
        order: flags.order,
        signal: this.signal,
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
