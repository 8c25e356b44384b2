// Helpers shared by the `s3kit table …` commands. They live outside commands/, where oclif would take every
// module for a command.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Flags } from "@oclif/core";
import {
  createTable,
  DynamoTableError,
  defineUntypedResource,
  type Filter,
  type Page,
  type Resource,
  type Table,
  type UntypedSchema,
} from "@toolkit/dynamo-table";
import type { Logger } from "@toolkit/shared";
import { createDynamoDbClient } from "@toolkit/shared/dynamodb";

export const tableFlag = {
  table: Flags.string({ description: "DynamoDB table name", required: true, helpValue: "<name>" }),
};

export const typeFlags = {
  ...tableFlag,
  type: Flags.string({
    description: "Resource type: the partition-key prefix ({type}#{id})",
    required: true,
    helpValue: "<Type>",
  }),
  versioned: Flags.boolean({ description: "The type is versioned (history at v1, v2, …, latest copy at v0)" }),
  compress: Flags.boolean({
    description: "Items are gzip JSON in `data` (default: on with --versioned, as simplesingletable)",
    allowNo: true,
  }),
};

export const pageFlags = {
  limit: Flags.integer({ description: "Items per page (1-1000)", default: 100, min: 1, max: 1000 }),
  cursor: Flags.string({
    description:
      "The cursor printed by the previous page (signed with the secret in <config dir>/table-cursor-secret, or $S3KIT_TABLE_CURSOR_SECRET)",
    helpValue: "<cursor>",
  }),
  order: Flags.option({ options: ["asc", "desc"] as const, description: "Sort order", default: "asc" as const })(),
  where: Flags.string({
    description: "Filter `field=value` or `field!=value` (repeatable, all must match); values are JSON when they parse",
    multiple: true,
    helpValue: "<field=value>",
  }),
  "skip-invalid": Flags.boolean({
    description:
      "Skip stored items that cannot be read (corrupt data, schema mismatch) instead of failing; each is named on stderr (and under `invalid` with --json)",
  }),
};

/** One stderr line per item `--skip-invalid` skipped. */
export function noteInvalid(note: (message: string) => void, page: Page<unknown>): void {
  for (const item of page.invalid ?? []) note(`skipped invalid item pk=${item.pk} sk=${item.sk}: ${item.message}`);
}

/** GSI keys the untyped resource writes, filled per command (the CLI cannot compute them from a schema). */
export type GsiKeys = Record<number, { pk?: string; sk?: string }>;

export type UntypedResource = Resource<string, UntypedSchema, boolean>;

export interface OpenedTable {
  table: Table;
  resource: UntypedResource;
  gsiKeys: GsiKeys;
  close(): void;
}

interface CommandContext {
  clientOptions(): { endpoint?: string; region?: string; profile?: string };
  readonly logger: Logger;
  readonly config: { configDir: string };
}

/** Environment variable with the secret that signs `--cursor` values (at least 16 characters). */
export const CURSOR_SECRET_ENV = "S3KIT_TABLE_CURSOR_SECRET";
const MIN_SECRET_LENGTH = 16;

/**
 * The secret that signs the cursors `table list` / `table query` print, so a cursor works in the next run:
 * `$S3KIT_TABLE_CURSOR_SECRET`, else a random secret made once in the config directory
 * (`<configDir>/table-cursor-secret`, mode 0600). The library's default (random per process) would make every
 * printed cursor useless; one derived from the table name could be forged.
 */
export function cursorSecretFor(command: CommandContext): string {
  const fromEnv = process.env[CURSOR_SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (fromEnv.length < MIN_SECRET_LENGTH) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `$${CURSOR_SECRET_ENV} has ${fromEnv.length} characters; a cursor secret has at least ${MIN_SECRET_LENGTH}`,
      );
    }
    return fromEnv;
  }
  const file = join(command.config.configDir, "table-cursor-secret");
  try {
    mkdirSync(command.config.configDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      command.logger.warn("table: cannot store a cursor secret; cursors will not work in another run", {
        file,
        error: String(error),
      });
      return randomBytes(32).toString("base64url");
    }
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${file} holds no usable cursor secret; delete it (a new one is made) or set $${CURSOR_SECRET_ENV}`,
    );
  }
  return secret;
}

export function openTable(
  command: CommandContext,
  flags: { table: string; type?: string; versioned?: boolean; compress?: boolean | undefined },
  options: { cursors?: boolean } = {},
): OpenedTable {
  const client = createDynamoDbClient({ ...command.clientOptions(), logger: command.logger });
  const table = createTable({
    tableName: flags.table,
    client,
    logger: command.logger,
    ...(options.cursors ? { cursorSecret: cursorSecretFor(command) } : {}),
  });
  const gsiKeys: GsiKeys = {};
  const gsis: Record<string, { index: 1 | 2 | 3 | 4 | 5; pk: () => string | undefined; sk: () => string | undefined }> =
    {};
  for (const n of [1, 2, 3, 4, 5] as const) {
    gsis[`gsi${n}`] = { index: n, pk: () => gsiKeys[n]?.pk, sk: () => gsiKeys[n]?.sk };
  }
  const resource = defineUntypedResource({
    type: flags.type ?? "Untyped",
    versioned: flags.versioned ?? false,
    ...(flags.compress !== undefined ? { compress: flags.compress } : {}),
    gsis,
  }) as UntypedResource;
  return { table, resource, gsiKeys, close: () => client.destroy() };
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** `--where status=open --where n!=3` as a filter for `list`/`query`. */
export function whereFromFlags(where: string[] | undefined): ((f: never) => Filter) | undefined {
  if (!where || where.length === 0) return undefined;
  const parts = where.map((w) => {
    const m = /^([^=!]+)(!?=)(.*)$/.exec(w);
    if (!m) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `--where ${JSON.stringify(w)}: expected field=value or field!=value`,
      );
    }
    return { field: m[1]!.trim(), op: m[2] === "=" ? ("eq" as const) : ("ne" as const), value: parseValue(m[3]!) };
  });
  return () => {
    const filters: Filter[] = parts.map((p) => ({ op: p.op, field: p.field, value: p.value }));
    return filters.length === 1 ? filters[0]! : { op: "and", filters };
  };
}

/** The JSON object given with --data, or read from stdin. */
export async function readItemJson(data: string | undefined): Promise<Record<string, unknown>> {
  let text = data;
  if (text === undefined) {
    if (process.stdin.isTTY) {
      throw new DynamoTableError(
        "table.invalidOptions",
        "put: pipe the item as JSON on stdin, or pass --data '<json>'",
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `put: the item is not valid JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DynamoTableError("table.invalidOptions", 'put: the item must be a JSON object such as {"title":"a"}');
  }
  return value as Record<string, unknown>;
}

/** Items as one JSON document per line (human output; --json prints the returned object instead). */
export function ndjson(items: unknown[]): string {
  return items.map((i) => JSON.stringify(i)).join("\n");
}
