import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { fitIndexAttributes, hasIndexSortKeys, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import type { Action } from "./prepare.ts";

/** The two attributes a conflict message needs, from a raw (marshalled) item of a failed condition. */
function unmarshall(raw: Record<string, { S?: string; N?: string } | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (raw.version?.N !== undefined) out.version = Number(raw.version.N);
  // Flat items carry `updated_at`; compressed ones only `gsitypesk` (the same timestamp) outside `data`.
  const updated = raw.updated_at?.S ?? raw.gsitypesk?.S;
  if (updated !== undefined) out.updated_at = updated;
  return out;
}

/** A raw DynamoDB AttributeValue as plain JSON-comparable data (binary as base64). */
function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const v = value as Record<string, unknown>;
  if ("S" in v) return v.S;
  if ("N" in v) return Number(v.N);
  if ("B" in v) return Buffer.from(v.B as Uint8Array).toString("base64");
  if ("BOOL" in v) return v.BOOL;
  if ("NULL" in v) return null;
  if ("L" in v) return (v.L as unknown[]).map(plainValue);
  if ("M" in v) return plainItem(v.M as Record<string, unknown>);
  if ("SS" in v) return [...(v.SS as string[])].sort();
  if ("NS" in v) return (v.NS as string[]).map(Number).sort();
  return value;
}

function plainItem(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw).sort()) out[key] = plainValue(raw[key]);
  return out;
}

/** A document-client item in the same plain form as {@link plainItem}. */
function plainDocument(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(plainDocument);
  if (value instanceof Set) return [...value].sort();
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = plainDocument(v);
    }
    return out;
  }
  return value;
}

/**
 * Write exactly the attributes simplesingletable writes: `gsi{n}sk` only where index `gsi{n}` sorts by it.
 * On simplesingletable's standard table `gsi1`/`gsi2` sort by `pk`, and its models (extra fields forbidden)
 * fail on a stray `gsi1sk`/`gsi2sk`. Costs one DescribeTable per handle, and only for items with GSI keys.
 */
async function fitToTable(ctx: TableContext, actions: Action[], signal: AbortSignal | undefined): Promise<void> {
  for (const action of actions) {
    const item = action.request.Put?.Item as StoredItem | undefined;
    if (!item || !hasIndexSortKeys(item)) continue;
    const indexes = await ctx.describeIndexes(signal);
    if (indexes === undefined) return; // unknown layout: keep this package's own
    fitIndexAttributes(item, indexes);
  }
}

export function conflictError(
  action: Action,
  oldItem: Record<string, unknown> | undefined,
  cause: unknown,
): DynamoTableError {
  const { resource, id } = action;
  if (action.kind === "create") {
    return new DynamoTableError(
      "table.alreadyExists",
      `${resource.type} ${id} already exists; choose another id or update it`,
      { cause },
    );
  }
  if (!oldItem) {
    return new DynamoTableError(
      "table.notFound",
      `${resource.type} ${id} does not exist (deleted?); create it instead`,
      { cause },
    );
  }
  if (action.kind === "check" || action.kind === "delete") {
    return new DynamoTableError(
      "table.versionConflict",
      `${resource.type} ${id}: ${action.kind} expected version ${action.version}, but version ${String(oldItem.version)} is stored`,
      { cause },
    );
  }
  if (resource.versioned) {
    return new DynamoTableError(
      "table.versionConflict",
      `${resource.type} ${id}: update based on version ${action.version} conflicts with version ${String(oldItem.version)} already stored; get the latest version and apply the change again`,
      { cause },
    );
  }
  return new DynamoTableError(
    "table.conflict",
    `${resource.type} ${id} changed since it was read (read updatedAt ${String(
      (action.request.Put?.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[":prev"],
    )}, stored ${String(oldItem.updated_at ?? "unknown")}); get it again and retry, or pass { force: true }`,
    { cause },
  );
}

/** Send prepared actions: one conditional PutItem, or one TransactWriteItems; conditions failing become typed errors. */
export async function commit(ctx: TableContext, actions: Action[], what: string, signal?: AbortSignal): Promise<void> {
  await fitToTable(ctx, actions, signal);
  if (actions.length === 1 && actions[0]!.request.Put) {
    const action = actions[0]!;
    try {
      await ctx.send(what, new PutCommand(action.request.Put as never), signal);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // The SDK retried a write whose first attempt landed (the response was lost): the stored item is
        // exactly ours, so the write succeeded. (Transactions are idempotent by ClientRequestToken instead.)
        if (
          error.Item &&
          JSON.stringify(plainItem(error.Item)) === JSON.stringify(plainDocument(action.request.Put?.Item))
        ) {
          return;
        }
        throw conflictError(action, error.Item ? unmarshall(error.Item as never) : undefined, error);
      }
      throw error;
    }
    return;
  }
  try {
    await ctx.send(what, new TransactWriteCommand({ TransactItems: actions.map((a) => a.request) }), signal);
  } catch (error) {
    if (error instanceof TransactionCanceledException) throw cancellationError(error, actions, what);
    throw error;
  }
}

/** Map a cancelled transaction to the error of the action that failed. */
function cancellationError(error: TransactionCanceledException, actions: Action[], what: string): DynamoTableError {
  const reasons = error.CancellationReasons ?? [];
  const failed = reasons
    .map((reason, i) => ({ reason, action: actions[i]! }))
    .filter((r) => r.reason.Code && r.reason.Code !== "None" && r.action);
  const conditional = failed.filter((r) => r.reason.Code === "ConditionalCheckFailed");
  // Prefer the latest-copy (v0) failure: it holds the stored version for the message.
  const pick = conditional.find((r) => r.action.kind !== "history") ?? conditional[0];
  if (pick) {
    if (pick.action.kind === "history") {
      return new DynamoTableError(
        "table.versionConflict",
        `${pick.action.resource.type} ${pick.action.id}: update based on version ${pick.action.version} conflicts with version ${
          (pick.action.version ?? 0) + 1
        } already stored; get the latest version and apply the change again`,
        { cause: error },
      );
    }
    return conflictError(pick.action, pick.reason.Item ? unmarshall(pick.reason.Item as never) : undefined, error);
  }
  const list = failed.map(
    (r) => `${r.action.describe}: ${r.reason.Code}${r.reason.Message ? ` (${r.reason.Message})` : ""}`,
  );
  return new DynamoTableError(
    "table.transactionFailed",
    `${what}: transaction cancelled, nothing was written: ${list.join("; ") || error.message}`,
    { cause: error },
  );
}
