import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import {
  blobVersionsOf,
  decodeItem,
  hasBlobFields,
  latestSortKey,
  type StoredItem,
  versionSortKey,
} from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError, isDynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import type { SignalOptions } from "../../types.ts";
import { assertId } from "../../validate.ts";
import { type ReadBlobOptions, readBlob } from "../blobs/blobs.ts";

export interface GetOptions extends SignalOptions {
  /** Read this version of a versioned resource instead of the latest. */
  version?: number;
  /** @default the table's `consistentRead` */
  consistentRead?: boolean;
  /** Also read the resource's blob fields from the blob store (one GET per field that has an object). @default false */
  loadBlobs?: boolean;
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
  const item = stored ? decodeItem(resource, stored) : undefined;
  if (item !== undefined && opts.loadBlobs && hasBlobFields(resource)) {
    await loadBlobs(ctx, resource, item as Record<string, unknown>, opts.signal);
  }
  return item;
}

/**
 * Read a blob field of an item (the version it points at, for a versioned resource); `table.notFound` when
 * it has none. Resolves the value (bytes for a field whose schema takes a Uint8Array, else JSON) and the
 * object's ETag, which `ifMatch` of a later read can demand.
 */
export async function readItemBlob(
  ctx: TableContext,
  resource: AnyResource,
  item: Record<string, unknown>,
  field: string,
  options: ReadBlobOptions,
): Promise<{ value: unknown; etag: string }> {
  const id = assertId(resource, item?.id, "readBlob");
  let version: number | undefined;
  if (resource.versioned) {
    version = blobVersionsOf(item)?.[field];
    if (version === undefined) {
      throw new DynamoTableError("table.notFound", `readBlob: ${resource.type} ${id} has no blob \`${field}\``);
    }
  }
  const out = await readBlob(ctx, resource, id, field, version, options);
  return { value: parseBlobValue(resource, id, field, out.value), etag: out.etag };
}

function parseBlobValue(resource: AnyResource, id: string, field: string, value: unknown): unknown {
  const schema = (resource.schema.shape as Record<string, z.ZodType>)[field]!;
  const input = resource.setFields.has(field) && Array.isArray(value) ? new Set(value) : value;
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new DynamoTableError(
      "table.corruptItem",
      `${resource.type} ${id}: blob field \`${field}\` fails the schema: ${parsed.error.issues[0]?.message}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/** Put the blob fields' values into a decoded item (fields without an object stay absent). */
async function loadBlobs(
  ctx: TableContext,
  resource: AnyResource,
  item: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const versions = blobVersionsOf(item);
  for (const field of Object.keys(resource.blobFields)) {
    if (resource.versioned && versions?.[field] === undefined) continue;
    try {
      item[field] = (await readItemBlob(ctx, resource, item, field, signal ? { signal } : {})).value;
    } catch (error) {
      // A non-versioned item's field never set (or cleared) has no object.
      if (!resource.versioned && isDynamoTableError(error, "table.notFound")) continue;
      throw error;
    }
  }
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
