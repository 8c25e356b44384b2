import { GetCommand, QueryCommand, type QueryCommandInput, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { STORED_NAMES, type StoredItem } from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { decodeCursor, encodeCursor, queryFingerprint } from "../../cursor.ts";
import { DynamoTableError } from "../../errors.ts";
import type { AnyResource } from "../../resource.ts";
import type { Action } from "../write/prepare.ts";

/** simplesingletable's key prefix of audit-log items (`_INTERNAL#AuditLog#<ULID>`). */
export const AUDIT_PREFIX = "_INTERNAL#AuditLog";
/** simplesingletable's stats item (`counts_by_type`). */
export const STATS_KEY = "_INTERNAL#MemoryStats";

/** Who made a change and why: the audit-log fields a write may carry. */
export interface AuditOptions {
  /** Who made the change (`changed_by`; indexed on `gsi3`). Required when the resource sets `changedByRequired`. */
  changedBy?: string;
  /** Free-form context stored with the entry (`audit_metadata`): a reason, a request id. */
  auditMetadata?: Record<string, unknown>;
}

export type AuditOperation = "CREATE" | "UPDATE" | "DELETE" | "RESTORE";

/** One audit-log entry, decoded. */
export interface AuditEntry {
  id: string;
  createdAt: string;
  resourceType: string;
  resourceId: string;
  operation: AuditOperation | string;
  changedBy?: string;
  /** UPDATE/RESTORE with `trackFieldChanges`: `{ field: { old, new } }`. */
  changedFields?: Record<string, { old?: unknown; new?: unknown }>;
  /** With `includeSnapshot`: the item after the operation (simplesingletable's field names). */
  snapshot?: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

function plain(value: unknown): unknown {
  return value === undefined
    ? undefined
    : JSON.parse(
        JSON.stringify(value, (_k, v) => (v instanceof Set ? [...v] : v instanceof Uint8Array ? undefined : v)),
      );
}

function visibleFields(resource: AnyResource, item: Record<string, unknown>): Record<string, unknown> {
  const exclude = new Set(resource.audit?.excludeFields ?? []);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    if (value === undefined || exclude.has(key) || Object.hasOwn(resource.blobFields, key)) continue;
    out[STORED_NAMES[key] ?? key] = plain(value);
  }
  return out;
}

/** `{ field: { old, new } }` for the fields that differ (JSON-compared), base fields and excluded ones left out. */
export function changedFields(
  resource: AnyResource,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
): Record<string, { old?: unknown; new?: unknown }> {
  const a = visibleFields(resource, before ?? {});
  const b = visibleFields(resource, after);
  const out: Record<string, { old?: unknown; new?: unknown }> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (["resource_id", "created_at", "updated_at", "version"].includes(key)) continue;
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    out[key] = { ...(key in a ? { old: a[key] } : {}), ...(key in b ? { new: b[key] } : {}) };
  }
  return out;
}

/**
 * The audit-log item of a write, in simplesingletable's layout (a flat `AuditLog` resource): indexed on
 * `gsi1` by resource, `gsi2` by type and, when someone is named, `gsi3` by changer (sorted by time).
 */
export function auditItem(
  ctx: TableContext,
  resource: AnyResource,
  operation: AuditOperation,
  id: string,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
  options: AuditOptions,
  what: string,
): StoredItem {
  const config = resource.audit!;
  if (config.changedByRequired && !options.changedBy) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: ${resource.type} requires \`changedBy\` (its audit log names who made every change)`,
    );
  }
  const entryId = ctx.newId();
  const pk = `${AUDIT_PREFIX}#${entryId}`;
  const now = new Date().toISOString();
  const fields =
    config.trackFieldChanges && after && (operation === "UPDATE" || operation === "RESTORE")
      ? changedFields(resource, before, after)
      : undefined;
  const item: StoredItem = {
    pk,
    sk: pk,
    resource_id: entryId,
    created_at: now,
    updated_at: now,
    audited_resource_type: resource.type,
    audited_resource_id: id,
    operation,
    changed_by: options.changedBy ?? null,
    changed_fields: fields ?? null,
    resource_snapshot: config.includeSnapshot && after ? visibleFields(resource, after) : null,
    audit_metadata: plain(options.auditMetadata ?? {}) as Record<string, unknown>,
    gsitype: AUDIT_PREFIX,
    gsitypesk: now,
    gsi1pk: `${AUDIT_PREFIX}#${resource.type}#${id}`,
    gsi1sk: pk,
    gsi2pk: `${AUDIT_PREFIX}#${resource.type}`,
    gsi2sk: pk,
  };
  if (options.changedBy) {
    item.gsi3pk = `${AUDIT_PREFIX}#changed_by#${options.changedBy}`;
    item.gsi3sk = now;
  }
  return item;
}

/** The Put of an audit item, to commit in the same transaction as the write it records. */
export function auditAction(ctx: TableContext, resource: AnyResource, id: string, item: StoredItem): Action {
  return {
    describe: `audit ${item.pk}`,
    kind: "audit",
    resource,
    id,
    request: {
      Put: {
        TableName: ctx.tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(pk)",
      },
    },
  };
}

function decodeEntry(stored: StoredItem): AuditEntry {
  const entry: AuditEntry = {
    id: String(stored.resource_id),
    createdAt: String(stored.created_at),
    resourceType: String(stored.audited_resource_type),
    resourceId: String(stored.audited_resource_id),
    operation: String(stored.operation),
    metadata: (stored.audit_metadata as Record<string, unknown> | undefined) ?? {},
  };
  if (typeof stored.changed_by === "string") entry.changedBy = stored.changed_by;
  if (stored.changed_fields && typeof stored.changed_fields === "object") {
    entry.changedFields = stored.changed_fields as AuditEntry["changedFields"] & object;
  }
  if (stored.resource_snapshot && typeof stored.resource_snapshot === "object") {
    entry.snapshot = stored.resource_snapshot as Record<string, unknown>;
  }
  return entry;
}

export interface AuditLogOptions {
  /** Only the entries of this item (`gsi1`); otherwise every entry of the type (`gsi2`). */
  id?: string;
  /** Entries per page (1..1000). @default 100 */
  limit?: number;
  cursor?: string;
  /** By time. @default "asc" */
  order?: "asc" | "desc";
  signal?: AbortSignal;
}

/** One page of a resource's (or one item's) audit log, oldest first unless `order: "desc"`. */
export async function listAuditLog(
  ctx: TableContext,
  resource: AnyResource,
  options: AuditLogOptions,
): Promise<{ items: AuditEntry[]; cursor?: string }> {
  const what = `auditLog ${resource.type}`;
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new DynamoTableError("table.invalidOptions", `${what}: invalid \`limit\` (${limit}): an integer 1..1000`);
  }
  const index = options.id === undefined ? "gsi2" : "gsi1";
  const pkValue =
    options.id === undefined ? `${AUDIT_PREFIX}#${resource.type}` : `${AUDIT_PREFIX}#${resource.type}#${options.id}`;
  const order = options.order ?? "asc";
  const fingerprint = queryFingerprint([ctx.tableName, "audit", index, pkValue, order]);
  const input: QueryCommandInput = {
    TableName: ctx.tableName,
    IndexName: index,
    KeyConditionExpression: "#p = :p",
    ExpressionAttributeNames: { "#p": `${index}pk` },
    ExpressionAttributeValues: { ":p": pkValue },
    ScanIndexForward: order === "asc",
    Limit: limit,
    ...(options.cursor ? { ExclusiveStartKey: decodeCursor(ctx.cursorSecret, fingerprint, options.cursor, what) } : {}),
  };
  const out = await ctx.send<{ Items?: StoredItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
    what,
    new QueryCommand(input),
    options.signal,
  );
  return {
    items: (out.Items ?? []).map(decodeEntry),
    ...(out.LastEvaluatedKey ? { cursor: encodeCursor(ctx.cursorSecret, fingerprint, out.LastEvaluatedKey) } : {}),
  };
}

/**
 * Add `delta` to the type's count in simplesingletable's `_INTERNAL#MemoryStats` item (one UpdateItem; the
 * item and its `counts_by_type` map are created the first time). After the write it counts: a failure is
 * logged, never thrown (the write has committed; counts are statistics).
 */
export async function bumpStats(
  ctx: TableContext,
  resource: AnyResource,
  delta: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const what = `stats ${resource.type}`;
  const now = new Date().toISOString();
  const count = () =>
    ctx.send(
      what,
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: { pk: STATS_KEY, sk: STATS_KEY },
        UpdateExpression: "SET #c.#t = if_not_exists(#c.#t, :zero) + :d, #u = :now",
        ExpressionAttributeNames: { "#c": "counts_by_type", "#t": resource.type, "#u": "updated_at" },
        ExpressionAttributeValues: { ":zero": 0, ":d": delta, ":now": now },
      }),
      signal,
    );
  try {
    try {
      await count();
    } catch (error) {
      if (!/document path/i.test(String((error as { cause?: unknown }).cause))) throw error;
      // First count in this table: create the item as simplesingletable's MemoryStats resource would.
      await ctx.send(
        what,
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: { pk: STATS_KEY, sk: STATS_KEY },
          UpdateExpression:
            "SET #c = if_not_exists(#c, :empty), #r = if_not_exists(#r, :rid), #cr = if_not_exists(#cr, :now), #u = :now, #gt = :gt, #gts = :now",
          ExpressionAttributeNames: {
            "#c": "counts_by_type",
            "#r": "resource_id",
            "#cr": "created_at",
            "#u": "updated_at",
            "#gt": "gsitype",
            "#gts": "gsitypesk",
          },
          ExpressionAttributeValues: { ":empty": {}, ":rid": "MemoryStats", ":now": now, ":gt": "MemoryStats" },
        }),
        signal,
      );
      await count();
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    ctx.logger.warn("dynamo-table: updating the stats item failed", { type: resource.type, error: String(error) });
  }
}

/** The counts by type of the stats item (`{}` when nothing was counted yet). */
export async function readStats(
  ctx: TableContext,
  options: { signal?: AbortSignal; consistentRead?: boolean },
): Promise<Record<string, number>> {
  const out = await ctx.send<{ Item?: StoredItem }>(
    "stats",
    new GetCommand({
      TableName: ctx.tableName,
      Key: { pk: STATS_KEY, sk: STATS_KEY },
      ConsistentRead: options.consistentRead ?? ctx.consistentRead,
    }),
    options.signal,
  );
  const counts = out.Item?.counts_by_type;
  const result: Record<string, number> = {};
  if (counts && typeof counts === "object") {
    for (const [type, n] of Object.entries(counts)) if (typeof n === "number") result[type] = n;
  }
  return result;
}
