import { Flags } from "@oclif/core";
import { DynamoTableError } from "@toolkit/dynamo-table";
import { BaseCommand } from "../../base-command.ts";
import { openTable, readItemJson, typeFlags } from "../../topics/table.ts";

const BASE = new Set(["id", "createdAt", "updatedAt", "version"]);

export default class TablePut extends BaseCommand<typeof TablePut> {
  static override summary = "Create or replace an item from JSON on stdin (optimistic by default)";
  static override description = [
    "Without an id (in the JSON or --id) a new item is created with a ULID id. With an id that does not exist, the item is created with that id.",
    "Replacing an existing item is optimistic: the JSON must carry the `version` (versioned types) or `updatedAt` it was read with, as `table get` prints them, and a concurrent change fails with exit 1 (table.versionConflict / table.conflict). --force replaces whatever is stored.",
    "User GSI keys of the stored item are kept; set them with --gsi <n>=<pk>[,<sk>].",
  ].join("\n\n");
  static override examples = [
    `echo '{"title":"a","status":"open"}' | <%= config.bin %> table put --table app --type Note --versioned`,
    "<%= config.bin %> table get ID --table app --type Note --versioned | jq '.status=\"done\"' | <%= config.bin %> table put --table app --type Note --versioned",
  ];
  static override flags = {
    ...typeFlags,
    id: Flags.string({ description: "Item id (overrides `id` in the JSON)" }),
    data: Flags.string({ description: "The item as JSON (instead of stdin)", helpValue: "<json>" }),
    force: Flags.boolean({ description: "Replace the stored item even if it changed since it was read" }),
    gsi: Flags.string({
      description: "User GSI key: <n>=<pk>[,<sk>] with n in 1-5 (repeatable)",
      multiple: true,
      helpValue: "<n=pk,sk>",
    }),
  };

  async run(): Promise<Record<string, unknown>> {
    const { flags } = this;
    const input = await readItemJson(flags.data);
    const { table, resource, gsiKeys, close } = openTable(this, flags);
    try {
      const fields: Record<string, unknown> = {}; // the item's own fields
      for (const [k, v] of Object.entries(input)) if (!BASE.has(k)) fields[k] = v;
      const id = flags.id ?? (typeof input.id === "string" ? input.id : undefined);
      const current = id ? await table.get(resource, id, { consistentRead: true, signal: this.signal }) : undefined;
      if (current) {
        // Keep the stored GSI keys: the CLI has no functions to compute them.
        const raw = await table.getStored(resource, id!, { consistentRead: true, signal: this.signal });
        for (const n of [1, 2, 3, 4, 5]) {
          const pk = raw?.[`gsi${n}pk`];
          const sk = raw?.[`gsi${n}sk`];
          if (typeof pk === "string") gsiKeys[n] = { pk, ...(typeof sk === "string" ? { sk } : {}) };
        }
      }
      for (const spec of flags.gsi ?? []) {
        const m = /^([1-5])=([^,]+)(?:,(.+))?$/.exec(spec);
        if (!m)
          throw new DynamoTableError(
            "table.invalidOptions",
            `--gsi ${JSON.stringify(spec)}: expected <n>=<pk>[,<sk>] with n in 1-5`,
          );
        gsiKeys[Number(m[1])] = { pk: m[2]!, ...(m[3] ? { sk: m[3] } : {}) };
      }
      let item: Record<string, unknown>;
      if (!current) {
        item = await table.create(resource, fields, { signal: this.signal, ...(id ? { id } : {}) });
        this.note(`created ${resource.type} ${String(item.id)}`);
      } else {
        const basis = resource.versioned ? "version" : "updatedAt";
        if (!flags.force && input[basis] === undefined) {
          throw new DynamoTableError(
            "table.invalidOptions",
            `put: ${resource.type} ${id} exists; include the \`${basis}\` you read (as \`table get\` prints it) or pass --force`,
          );
        }
        const based = flags.force ? current : { ...current, [basis]: input[basis] };
        // Pass only the base fields as `current`, so the JSON replaces the fields instead of merging into them.
        item = await table.update(
          resource,
          {
            id,
            createdAt: current.createdAt,
            updatedAt: based.updatedAt,
            ...(resource.versioned ? { version: based.version } : {}),
          } as never,
          fields,
          { signal: this.signal, force: flags.force },
        );
        this.note(`updated ${resource.type} ${id}${resource.versioned ? ` to version ${String(item.version)}` : ""}`);
      }
      this.log(JSON.stringify(item, null, 2));
      return item;
    } finally {
      close();
    }
  }
}
