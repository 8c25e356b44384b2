import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { decodeItem, encodeItem, fitIndexAttributes, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type Filter, filterBuilder, type Where } from "../../filter.ts";
import { type AnyResource, partitionKey } from "../../resource.ts";
import { type CompiledPatch, compilePatch, type PatchChanges } from "./compile-patch.ts";

export type { PatchChanges };

/** What the item must look like for the patch to apply: a typed filter, or fields that must be equal. */
export type Expected<T> = Where<T> | { [K in keyof T]?: T[K] };

export interface PatchOptions<T = Record<string, unknown>> {
  /**
   * A condition on the stored item; when it does not hold nothing changes and the call fails with
   * `table.conflict`. `{ updatedAt: item.updatedAt }` makes the patch optimistic like `update`.
   */
  expected?: Expected<T>;
  signal?: AbortSignal;
}

/** What a patch returns: the whole new item, the updated attributes, or nothing (one request each way). */
export type PatchReturn = "item" | "updated" | "none";

let counter = Math.floor(Math.random() * 1000);

/**
 * `updatedAt` of a field-level write: the clock's milliseconds plus three more digits from a per-process
 * counter (microseconds, as Python's isoformat() writes them). Without a read there is no previous value to
 * exceed, so the extra digits keep two patches in the same millisecond from writing the same `updatedAt`
 * (which an optimistic `update` holding one of them could not tell apart).
 */
export function patchTimestamp(nowMs = Date.now()): string {
  counter = (counter + 1) % 1000;
  return `${new Date(nowMs).toISOString().slice(0, -1)}${String(counter).padStart(3, "0")}Z`;
}

function expectedFilter<T>(expected: Expected<T> | undefined, what: string): Filter | undefined {
  if (expected === undefined) return undefined;
  if (typeof expected === "function") return expected(filterBuilder<T>());
  if (typeof expected !== "object" || expected === null) {
    throw new DynamoTableError("table.invalidOptions", `${what}: \`expected\` is a filter callback or an object`);
  }
  const f = filterBuilder<Record<string, unknown>>();
  const parts = Object.entries(expected).map(([field, value]) =>
    value === undefined ? f.notExists(field) : f.eq(field, value),
  );
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0]! : f.and(...parts);
}

function isMissingMapPath(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause;
  return (
    cause instanceof Error &&
    cause.name === "ValidationException" &&
    /document path provided in the update expression is invalid/i.test(cause.message)
  );
}

/**
 * One field-level write of a non-versioned item: one conditional UpdateItem (see {@link compilePatch}).
 * Two more requests only in rare cases: creating a missing map the first time one of its keys is counted, and
 * re-pointing the item's GSI keys when the patch changed a field they are computed from.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
 */
export async function patchItem(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  changes: PatchChanges<never>,
  options: PatchOptions<never>,
  returns: PatchReturn,
  what: string,
): Promise<{ item?: unknown; attributes?: Record<string, unknown> }> {
  if (typeof id !== "string" || id.length === 0 || id.length > 1024) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: invalid id ${JSON.stringify(id)} for ${resource.type}; an id is a non-empty string`,
    );
  }
  const updatedAt = patchTimestamp();
  const compiled = compilePatch(resource, changes, updatedAt, expectedFilter(options.expected, what), what);
  const pk = partitionKey(resource, id);
  const hasGsis = Object.keys(resource.gsiSlots).length > 0;
  // With GSIs the new item is needed to check that its index keys still match its fields.
  const returnValues = returns === "item" || hasGsis ? "ALL_NEW" : returns === "updated" ? "UPDATED_NEW" : "NONE";
  const update = (c: CompiledPatch) =>
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: { pk, sk: pk },
      UpdateExpression: c.updateExpression,
      ConditionExpression: c.conditionExpression,
      ExpressionAttributeNames: c.names,
      ExpressionAttributeValues: c.values,
      ReturnValues: returnValues,
      ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    });
  let out: { Attributes?: StoredItem };
  try {
    try {
      out = await ctx.send(what, update(compiled), options.signal);
    } catch (error) {
      if (!isMissingMapPath(error)) throw error;
      // `field.key` of a map the item does not have yet: create the empty maps (only where still missing),
      // then apply the patch once more.
      await createMissingMaps(ctx, pk, changes, what, options.signal);
      out = await ctx.send(what, update(compiled), options.signal);
    }
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      if (!error.Item) {
        throw new DynamoTableError("table.notFound", `${resource.type} ${id} does not exist; create it first`, {
          cause: error,
        });
      }
      throw new DynamoTableError(
        "table.conflict",
        `${resource.type} ${id} does not match \`expected\`; nothing was changed (get it again and retry)`,
        { cause: error },
      );
    }
    throw error;
  }
  const attributes = out.Attributes ?? {};
  if (returnValues !== "ALL_NEW") return { attributes };
  const item = decodeItem(resource, attributes);
  if (hasGsis && item !== undefined) {
    await repointIndexKeys(ctx, resource, attributes, item as Record<string, unknown>, updatedAt, what, options.signal);
  }
  return { item, attributes };
}

/** The map fields whose keys a patch sets or counts. */
function mapFields(changes: PatchChanges<never>): string[] {
  const paths = [...Object.keys(changes.set ?? {}), ...Object.keys(changes.add ?? {})];
  return [...new Set(paths.filter((p) => p.includes(".")).map((p) => p.split(".")[0]!))];
}

async function createMissingMaps(
  ctx: TableContext,
  pk: string,
  changes: PatchChanges<never>,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const fields = mapFields(changes);
  const names: Record<string, string> = { "#pk": "pk" };
  fields.forEach((f, i) => {
    names[`#m${i}`] = f;
  });
  try {
    await ctx.send(
      what,
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { pk, sk: pk },
        UpdateExpression: `SET ${fields.map((_, i) => `#m${i} = if_not_exists(#m${i}, :empty)`).join(", ")}`,
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ":empty": {} },
      }),
      signal,
    );
  } catch (error) {
    // A missing item: the retried patch reports it as `table.notFound`.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/**
 * A GSI key is computed from the item's fields; after a patch changed one, write the keys the new item
 * computes, conditional on the patch still being the latest write (a later `update` computed its own keys, a
 * later patch re-points them itself).
 */
async function repointIndexKeys(
  ctx: TableContext,
  resource: AnyResource,
  stored: StoredItem,
  item: Record<string, unknown>,
  updatedAt: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const wanted = encodeItem(resource, item, String(stored.pk), true);
  const indexes = await ctx.describeIndexes(signal);
  if (indexes) fitIndexAttributes(wanted, indexes);
  const names: Record<string, string> = { "#updated": "updated_at" };
  const values: Record<string, unknown> = { ":updated": updatedAt };
  const sets: string[] = [];
  const removes: string[] = [];
  for (const slot of new Set(Object.values(resource.gsiSlots))) {
    for (const attr of [`gsi${slot}pk`, `gsi${slot}sk`]) {
      if (wanted[attr] === stored[attr]) continue;
      const n = `#${attr}`;
      names[n] = attr;
      if (wanted[attr] === undefined) removes.push(n);
      else {
        values[`:${attr}`] = wanted[attr];
        sets.push(`${n} = :${attr}`);
      }
    }
  }
  if (sets.length === 0 && removes.length === 0) return;
  try {
    await ctx.send(
      what,
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { pk: stored.pk, sk: stored.sk },
        UpdateExpression: [
          sets.length ? `SET ${sets.join(", ")}` : "",
          removes.length ? `REMOVE ${removes.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join(" "),
        ConditionExpression: "#updated = :updated",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
      signal,
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    ctx.logger.debug("dynamo-table: a later write re-pointed the GSI keys", { type: resource.type, pk: stored.pk });
  }
}
