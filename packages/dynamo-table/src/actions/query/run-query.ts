import { QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { decodeItem, type InvalidItem, STORED_NAMES, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { decodeCursor, encodeCursor, queryFingerprint } from "../../cursor.ts";
import { DynamoTableError, isDynamoTableError } from "../../errors.ts";
import { compileFilter, type Filter, filterBuilder, matchesFilter } from "../../filter.ts";
import type { AnyResource } from "../../resource.ts";
import type { ListOptions, Page } from "./options.ts";

/** Largest `limit` of one page. */
export const MAX_PAGE_LIMIT = 1000;

export async function keyAttributesOf(
  ctx: TableContext,
  spec: QuerySpec,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  if (spec.index === "gsitype") return spec.keyAttributes; // the same in both libraries' tables
  const known = ctx.indexKeys.get(spec.index);
  if (known !== undefined) return known;
  const names = (await ctx.describeIndexes(signal))?.get(spec.index) ?? [];
  return names.length > 0 ? [...new Set(["pk", "sk", ...names])] : spec.keyAttributes;
}

function pageLimit(limit: number | undefined, what: string): number {
  const n = limit ?? 100;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_LIMIT) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: invalid \`limit\` (${JSON.stringify(limit)}): an integer 1..${MAX_PAGE_LIMIT}`,
    );
  }
  return n;
}

/** What a listing queries: the index, its key condition and the attributes of its keys. */
export interface QuerySpec {
  index: string;
  keyCondition: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
  keyAttributes: string[];
  /** Extra server-side filter that always applies (type of the item). */
  baseFilter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> };
}

/** One page of a listing: Query pages until `limit` items are found (see the README for the cursor rules). */
export async function runQuery<T>(
  ctx: TableContext,
  resource: AnyResource,
  spec: QuerySpec,
  options: ListOptions<T>,
  what: string,
): Promise<Page<T>> {
  const limit = pageLimit(options.limit, what);
  const order = options.order ?? "asc";
  if (order !== "asc" && order !== "desc") {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: invalid \`order\` (${JSON.stringify(order)}): "asc" or "desc"`,
    );
  }
  const maxRequests = options.maxRequests;
  if (maxRequests !== undefined && (!Number.isInteger(maxRequests) || maxRequests < 1)) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: invalid \`maxRequests\` (${JSON.stringify(maxRequests)}): an integer >= 1`,
    );
  }
  const filter: Filter | undefined = options.where ? options.where(filterBuilder<T>()) : undefined;
  const fingerprint = queryFingerprint([
    ctx.tableName,
    resource.type,
    spec.index,
    spec.keyCondition,
    spec.values,
    order,
    filter ?? null,
  ]);
  let start =
    options.cursor === undefined ? undefined : decodeCursor(ctx.cursorSecret, fingerprint, options.cursor, what);

  const filterParts: string[] = [];
  const names: Record<string, string> = { ...spec.names };
  const values: Record<string, unknown> = { ...spec.values };
  if (spec.baseFilter) {
    filterParts.push(spec.baseFilter.expression);
    Object.assign(names, spec.baseFilter.names);
    Object.assign(values, spec.baseFilter.values);
  }
  // Compressed resources keep their fields inside gzip `data`: DynamoDB cannot see them, so filter after decoding.
  const clientFilter = filter && resource.compress ? filter : undefined;
  if (filter && !resource.compress) {
    const compiled = compileFilter(filter, (f) => STORED_NAMES[f] ?? f);
    filterParts.push(compiled.expression);
    Object.assign(names, compiled.names);
    Object.assign(values, compiled.values);
  }
  if (resource.ttl) {
    // Expired items DynamoDB has not deleted yet (it can take days) are dropped here, and again on decode.
    filterParts.push("(attribute_not_exists(#ttl) OR #ttl > :now)");
    names["#ttl"] = resource.ttl.attribute;
    values[":now"] = Math.floor(Date.now() / 1000);
  }

  const items: T[] = [];
  let requests = 0;
  const nowMs = Date.now();
  const skipInvalid = options.skipInvalid === true || options.onInvalid !== undefined;
  const invalid: InvalidItem[] = [];
  const result = (cursor?: string): Page<T> => ({
    items,
    ...(cursor !== undefined ? { cursor } : {}),
    requests,
    ...(skipInvalid ? { invalid } : {}),
  });
  while (true) {
    const remaining = limit - items.length;
    // Without a filter, ask for exactly what is missing; with one, over-fetch (the rest is cut by cursor).
    const fetch = filter || resource.ttl ? Math.min(MAX_PAGE_LIMIT, Math.max(remaining * 3, 50)) : remaining;
    const input: QueryCommandInput = {
      TableName: ctx.tableName,
      IndexName: spec.index === "table" ? undefined : spec.index,
      KeyConditionExpression: spec.keyCondition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: order === "asc",
      Limit: fetch,
      ...(filterParts.length > 0 ? { FilterExpression: filterParts.join(" AND ") } : {}),
      ...(start ? { ExclusiveStartKey: start } : {}),
    };
    if (!input.IndexName) delete input.IndexName;
    const out = await ctx.send<{ Items?: StoredItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
      what,
      new QueryCommand(input),
      options.signal,
    );
    requests++;
    const page = out.Items ?? [];
    for (let i = 0; i < page.length; i++) {
      const stored = page[i]!;
      let item: T | undefined;
      try {
        item = decodeItem<T>(resource, stored, nowMs);
      } catch (error) {
        if (!skipInvalid || !isDynamoTableError(error, "table.corruptItem")) throw error;
        const skipped: InvalidItem = { pk: String(stored.pk), sk: String(stored.sk), message: error.message };
        invalid.push(skipped);
        options.onInvalid?.(skipped);
        continue;
      }
      if (item === undefined) continue;
      if (clientFilter && !matchesFilter(clientFilter, item as Record<string, unknown>)) continue;
      items.push(item);
      if (items.length === limit) {
        const last = i === page.length - 1;
        if (last && !out.LastEvaluatedKey) return result();
        // Cut mid-page: resume right after this item (a key DynamoDB accepts as ExclusiveStartKey).
        const attrs = out.LastEvaluatedKey
          ? Object.keys(out.LastEvaluatedKey)
          : await keyAttributesOf(ctx, spec, options.signal);
        const key: Record<string, unknown> = {};
        for (const attr of attrs) key[attr] = stored[attr];
        return result(encodeCursor(ctx.cursorSecret, fingerprint, key));
      }
    }
    start = out.LastEvaluatedKey;
    if (start && spec.index !== "gsitype" && !ctx.indexKeys.has(spec.index))
      ctx.indexKeys.set(spec.index, Object.keys(start));
    if (!start) return result();
    if (options.maxRequests !== undefined && requests >= options.maxRequests) {
      return result(encodeCursor(ctx.cursorSecret, fingerprint, start));
    }
  }
}
