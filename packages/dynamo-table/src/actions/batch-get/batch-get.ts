import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import { createLimit } from "@toolkit/shared";
import { decodeItem, latestSortKey, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";

/** DynamoDB's limit of keys in one BatchGetItem call. */
export const MAX_BATCH_GET_KEYS = 100;
/** Chunks of 100 keys in flight at once. */
const BATCH_GET_CONCURRENCY = 4;
/** Attempts for keys DynamoDB leaves unprocessed (throttling, the 16 MB response limit) before giving up. */
const MAX_ATTEMPTS = 10;

export interface BatchGetOptions {
  /** @default the table's `consistentRead` */
  consistentRead?: boolean;
  signal?: AbortSignal;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/**
 * The latest copies of many items by id: BatchGetItem in chunks of 100 keys (4 chunks in flight), keys left
 * unprocessed retried with jittered backoff. Missing and expired items are absent from the map; the map
 * follows the order of `ids` (duplicates once).
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
 */
export async function batchGetItems(
  ctx: TableContext,
  resource: AnyResource,
  ids: Iterable<string>,
  options: BatchGetOptions,
): Promise<Map<string, unknown>> {
  const what = `batchGet ${resource.type}`;
  const unique = [...new Set(ids)];
  for (const id of unique) {
    if (typeof id !== "string" || id.length === 0 || id.length > 1024) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `${what}: invalid id ${JSON.stringify(id)}; an id is a non-empty string`,
      );
    }
  }
  const consistent = options.consistentRead ?? ctx.consistentRead;
  const found = new Map<string, StoredItem>();
  const limit = createLimit(BATCH_GET_CONCURRENCY);
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += MAX_BATCH_GET_KEYS) chunks.push(unique.slice(i, i + MAX_BATCH_GET_KEYS));
  const prefix = resource.kind === "singleton" ? undefined : `${resource.type}#`;
  await Promise.all(
    chunks.map((chunk) =>
      limit(async () => {
        let keys: Record<string, unknown>[] = chunk.map((id) => ({
          pk: partitionKey(resource, id),
          sk: latestSortKey(resource, id),
        }));
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt >= MAX_ATTEMPTS) {
            throw new DynamoTableError(
              "table.request",
              `${what}: ${keys.length} keys stayed unprocessed after ${MAX_ATTEMPTS} attempts (throttled); retry`,
            );
          }
          if (attempt > 0) await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt), options.signal);
          const out = await ctx.send<{
            Responses?: Record<string, StoredItem[]>;
            UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
          }>(
            what,
            new BatchGetCommand({
              RequestItems: { [ctx.tableName]: { Keys: keys, ConsistentRead: consistent } },
            }),
            options.signal,
          );
          for (const stored of out.Responses?.[ctx.tableName] ?? []) {
            const pk = String(stored.pk);
            found.set(prefix && pk.startsWith(prefix) ? pk.slice(prefix.length) : pk, stored);
          }
          keys = out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
        }
      }),
    ),
  );
  const nowMs = Date.now();
  const items = new Map<string, unknown>();
  for (const id of unique) {
    const stored = found.get(id);
    if (stored === undefined) continue;
    const item = decodeItem(resource, stored, nowMs);
    if (item !== undefined) items.set(id, item);
  }
  return items;
}
