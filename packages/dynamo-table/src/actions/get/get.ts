import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { decodeItem, latestSortKey, type StoredItem, versionSortKey } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";

export interface GetOptions extends SignalOptions {
  /** Read this version of a versioned resource instead of the latest. */
  version?: number;
  /** @default the table's `consistentRead` */
  consistentRead?: boolean;
}

/** One stored item by its keys (GetItem), undecoded. */
export async function readStored(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  sk: string,
  consistent: boolean,
  signal: AbortSignal | undefined,
): Promise<StoredItem | undefined> {
  const out = await ctx.send<{ Item?: StoredItem }>(
    `get ${resource.type} ${id}`,
    new GetCommand({
      TableName: ctx.tableName,
      Key: { pk: partitionKey(resource, id), sk },
      ConsistentRead: consistent,
    }),
    signal,
  );
  return out.Item;
}

/** The latest copy (or one version) of an item, decoded; `undefined` when missing or expired. One GetItem. */
export async function getItem(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  opts: GetOptions,
): Promise<unknown> {
  assertId(resource, id, "get");
  let sk = latestSortKey(resource, id);
  if (opts.version !== undefined) {
    if (!resource.versioned) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `get: \`version\` (${opts.version}) needs a versioned resource; ${resource.type} is not`,
      );
    }
    if (!Number.isInteger(opts.version) || opts.version < 1) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `get: invalid \`version\` (${JSON.stringify(opts.version)}): an integer >= 1`,
      );
    }
    sk = versionSortKey(opts.version);
  }
  const stored = await readStored(ctx, resource, id, sk, opts.consistentRead ?? ctx.consistentRead, opts.signal);
  return stored ? decodeItem(resource, stored) : undefined;
}

/** As {@link getItem}, but a missing item is `table.notFound`. */
export async function getItemOrThrow(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  opts: GetOptions,
): Promise<unknown> {
  const item = await getItem(ctx, resource, id, opts);
  if (item === undefined) {
    const which = opts.version !== undefined ? ` version ${opts.version}` : "";
    throw new DynamoTableError("table.notFound", `${resource.type} ${id}${which} not found`);
  }
  return item;
}

/** The stored DynamoDB item (keys, index attributes, `data` undecoded), for tools and debugging. */
export async function getStoredItem(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  opts: GetOptions,
): Promise<StoredItem | undefined> {
  assertId(resource, id, "getStored");
  const sk =
    opts.version !== undefined && resource.versioned ? versionSortKey(opts.version) : latestSortKey(resource, id);
  return readStored(ctx, resource, id, sk, opts.consistentRead ?? ctx.consistentRead, opts.signal);
}
