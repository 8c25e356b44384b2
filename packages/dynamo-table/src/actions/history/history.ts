import { BatchWriteCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { hasBlobFields, parseVersionSortKey, type StoredItem, versionSortKey } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import { blobPrefix, deleteBlobPrefix } from "../blobs/blobs.ts";

/** DynamoDB's limit of requests in one BatchWriteItem call. */
export const MAX_BATCH_WRITE_ITEMS = 25;

/**
 * Delete the blob objects no kept version uses any more (simplesingletable leaks them): objects under
 * `{Type}/{id}/v{n}/` with `n` at most the newest kept version and referenced by no kept version's
 * `_blob_versions` (an unchanged field points at an older version's object, which then stays). Objects of
 * versions newer than the ones seen (a write in between) are never touched.
 */
async function pruneBlobs(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  kept: number[],
  references: Map<number, number[]>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const used = new Set<number>();
  for (const n of kept) for (const v of references.get(n) ?? []) used.add(v);
  const newest = Math.max(...kept);
  const prefix = blobPrefix(resource, id);
  await deleteBlobPrefix(ctx, resource, prefix, signal, (key) => {
    const m = /^v([1-9][0-9]*)\//.exec(key.slice(prefix.length));
    if (!m) return true; // not a version's object
    const n = Number(m[1]);
    return n > newest || used.has(n);
  });
}

/** Every stored key of an item (`v0`, `v1`, … or the one key), following Query pages past 1 MB. */
export async function* itemPages(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  /** `keys` (pk, sk), `blobs` (pk, sk, `_blob_versions`) or `all` attributes. */
  projection: boolean | "keys" | "blobs" | "all",
  signal: AbortSignal | undefined,
): AsyncGenerator<StoredItem[]> {
  const keysOnly = projection === true || projection === "keys";
  const withBlobs = projection === "blobs";
  let start: Record<string, unknown> | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: ctx.tableName,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: {
        "#pk": "pk",
        ...(keysOnly || withBlobs ? { "#sk": "sk" } : {}),
        ...(withBlobs ? { "#bv": "_blob_versions" } : {}),
      },
      ExpressionAttributeValues: { ":pk": partitionKey(resource, id) },
      ConsistentRead: true,
      ...(keysOnly ? { ProjectionExpression: "#pk, #sk" } : withBlobs ? { ProjectionExpression: "#pk, #sk, #bv" } : {}),
      ...(start ? { ExclusiveStartKey: start } : {}),
    };
    const out = await ctx.send<{ Items?: StoredItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
      `list versions of ${resource.type} ${id}`,
      new QueryCommand(input),
      signal,
    );
    yield out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Delete keys with BatchWriteItem (25 a request), retrying unprocessed ones with jittered backoff. */
export async function batchDelete(
  ctx: TableContext,
  keys: { pk: unknown; sk: unknown }[],
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  for (let i = 0; i < keys.length; i += MAX_BATCH_WRITE_ITEMS) {
    let requests = keys.slice(i, i + MAX_BATCH_WRITE_ITEMS).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 50 * 2 ** attempt)));
      if (attempt > 8)
        throw new DynamoTableError("table.request", `${what}: ${requests.length} deletes stayed unprocessed; retry`);
      const out = await ctx.send<{ UnprocessedItems?: Record<string, typeof requests> }>(
        what,
        new BatchWriteCommand({ RequestItems: { [ctx.tableName]: requests } }),
        signal,
      );
      requests = out.UnprocessedItems?.[ctx.tableName] ?? [];
    }
  }
}

/** Delete history beyond `maxVersions`, newest kept, sorted numerically (v10 after v9). */
export async function prune(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  latest: number,
  signal?: AbortSignal,
): Promise<void> {
  const max = resource.maxVersions;
  if (max === undefined || latest <= max) return;
  try {
    const blobs = hasBlobFields(resource);
    const numbers: number[] = [];
    const references = new Map<number, number[]>();
    for await (const page of itemPages(ctx, resource, id, blobs ? "blobs" : "keys", signal)) {
      for (const stored of page) {
        const n = parseVersionSortKey(stored.sk);
        if (n === undefined) continue;
        numbers.push(n);
        const versions = stored._blob_versions;
        if (versions !== null && typeof versions === "object") {
          references.set(
            n,
            Object.values(versions).filter((v): v is number => typeof v === "number"),
          );
        }
      }
    }
    numbers.sort((a, b) => b - a);
    const drop = numbers.slice(max);
    if (drop.length === 0) return;
    const pk = partitionKey(resource, id);
    await batchDelete(
      ctx,
      drop.map((n) => ({ pk, sk: versionSortKey(n) })),
      `prune ${resource.type} ${id}`,
      signal,
    );
    if (blobs) await pruneBlobs(ctx, resource, id, numbers.slice(0, max), references, signal);
  } catch (error) {
    // The write has committed; the next write prunes again.
    ctx.logger.warn("dynamo-table: pruning old versions failed", { type: resource.type, id, error: String(error) });
  }
}

/** Delete every stored version of an item (following Query pages); resolves how many were deleted. */
export async function deleteHistory(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  signal?: AbortSignal,
): Promise<number> {
  const keys: { pk: unknown; sk: unknown }[] = [];
  for await (const page of itemPages(ctx, resource, id, true, signal))
    for (const s of page) keys.push({ pk: s.pk, sk: s.sk });
  await batchDelete(ctx, keys, `delete ${resource.type} ${id}`, signal);
  return keys.length;
}
