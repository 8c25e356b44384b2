import type { TransactWriteCommandInput } from "@aws-sdk/lib-dynamodb";
import {
  assertItemSize,
  BLOB_VERSIONS,
  blobVersionsOf,
  encodeItem,
  hasBlobFields,
  type StoredItem,
  versionSortKey,
} from "../../codec.ts";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import { type AnyResource, partitionKey, SINGLETON_ID } from "../../resource.ts";
import { assertId, validateInput } from "../../validate.ts";
import { type AuditOptions, auditAction, auditItem, bumpStats } from "../audit/audit.ts";
import { blobKey, blobStoreOf, deleteBlobKeys, type PreparedBlob, prepareBlob, putBlobs } from "../blobs/blobs.ts";
import { prune } from "../history/history.ts";

/** One write of a TransactWriteItems (or a single PutItem), with what a conflict message needs. */
export interface Action {
  describe: string;
  kind: "create" | "update" | "delete" | "check" | "history" | "audit";
  resource: AnyResource;
  id: string;
  version?: number;
  request: NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
}

/** The item a create/update will write and its actions; shared by single calls and transactions. */
export interface PreparedWrite {
  item: Record<string, unknown>;
  actions: Action[];
  /** Runs after a successful commit (pruning, history cleanup). */
  after?: (signal: AbortSignal | undefined) => Promise<void>;
}

/** The schema fields of an item (no id, timestamps or version). */
export function ownFields(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!BASE_KEYS.has(k)) out[k] = v;
  return out;
}

const BASE_KEYS = new Set(["id", "createdAt", "updatedAt", "version"]);

/** A timestamp after `previous`: each write of an item gets a strictly larger `updatedAt`. */
export function nextTimestamp(previous: unknown): string {
  const prev = typeof previous === "string" ? Date.parse(previous) : Number.NaN;
  const now = Date.now();
  return new Date(Number.isFinite(prev) && prev >= now ? prev + 1 : now).toISOString();
}

/**
 * simplesingletable writes flat timestamps and `gsitypesk` as Python's `isoformat()` (`+00:00`) but inside
 * gzip `data` as `Z`: the `gsitypesk` of a Python-written compressed item is its `updatedAt` with `+00:00`.
 */
export function pythonIsoFormat(iso: string): string {
  return iso.endsWith("Z") ? `${iso.slice(0, -1)}+00:00` : iso;
}

/** A conditional Put, its size checked before any request. */
export function put(
  ctx: TableContext,
  resource: AnyResource,
  stored: StoredItem,
  condition: string,
  extra?: { names?: Record<string, string>; values?: Record<string, unknown> },
) {
  assertItemSize(resource, stored);
  return {
    Put: {
      TableName: ctx.tableName,
      Item: stored,
      ConditionExpression: condition,
      ...(extra?.names ? { ExpressionAttributeNames: extra.names } : {}),
      ...(extra?.values ? { ExpressionAttributeValues: extra.values } : {}),
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    },
  };
}

/** A create: a Put conditional on the key not existing (versioned: `v1` and `v0` together). */
export function prepareCreate(
  ctx: TableContext,
  resource: AnyResource,
  input: unknown,
  id: string | undefined,
  audit: AuditOptions = {},
): PreparedWrite {
  if (hasBlobFields(resource)) blobStoreOf(ctx, resource, `create ${resource.type}`);
  const fields = validateInput(resource, input, "create");
  const itemId =
    resource.kind === "singleton" ? SINGLETON_ID : id === undefined ? ctx.newId() : assertId(resource, id, "create");
  const now = new Date().toISOString();
  const item: Record<string, unknown> = { ...fields, id: itemId, createdAt: now, updatedAt: now };
  const pk = partitionKey(resource, itemId);
  const blobs = blobChanges(resource, itemId, item, undefined, undefined, resource.versioned ? 1 : undefined, "create");
  if (blobs.versions) (item as Record<symbol, unknown>)[BLOB_VERSIONS] = blobs.versions;
  const logged = resource.audit
    ? [auditAction(ctx, resource, itemId, auditItem(ctx, resource, "CREATE", itemId, undefined, item, audit, "create"))]
    : [];
  const after =
    blobs.put.length > 0 || resource.stats
      ? async (signal: AbortSignal | undefined) => {
          await putBlobs(ctx, resource, blobs.put, signal);
          if (resource.stats) await bumpStats(ctx, resource, 1, signal);
        }
      : undefined;
  if (resource.versioned) {
    item.version = 1;
    const v1 = encodeItem(resource, item, versionSortKey(1), false);
    const v0 = encodeItem(resource, item, "v0", true);
    return {
      item,
      actions: [
        {
          describe: `create ${pk} v1`,
          kind: "create",
          resource,
          id: itemId,
          version: 1,
          request: put(ctx, resource, v1, "attribute_not_exists(pk)"),
        },
        {
          describe: `create ${pk} v0`,
          kind: "create",
          resource,
          id: itemId,
          version: 1,
          request: put(ctx, resource, v0, "attribute_not_exists(pk)"),
        },
        ...logged,
      ],
      ...(after ? { after } : {}),
    };
  }
  const stored = encodeItem(resource, item, pk, true);
  return {
    item,
    actions: [
      {
        describe: `create ${pk}`,
        kind: "create",
        resource,
        id: itemId,
        request: put(ctx, resource, stored, "attribute_not_exists(pk)"),
      },
      ...logged,
    ],
    ...(after ? { after } : {}),
  };
}

/** What a write does to blob fields: objects to upload, objects to delete, and (versioned) `_blob_versions`. */
interface BlobChanges {
  put: PreparedBlob[];
  delete: string[];
  versions?: Record<string, number>;
}

/**
 * The blob side of a write. `changed`: the fields the caller set (undefined: all of them, a whole
 * replacement); a blob field not changed keeps its object (versioned: its version reference). `previous`:
 * the `_blob_versions` of the item the write is based on.
 */
function blobChanges(
  resource: AnyResource,
  id: string,
  item: Record<string, unknown>,
  changed: ReadonlySet<string> | undefined,
  previous: Record<string, number> | undefined,
  version: number | undefined,
  what: string,
): BlobChanges {
  const out: BlobChanges = { put: [], delete: [] };
  if (!hasBlobFields(resource)) return out;
  const versions: Record<string, number> = {};
  for (const field of Object.keys(resource.blobFields)) {
    if (changed !== undefined && !changed.has(field)) {
      if (previous?.[field] !== undefined) versions[field] = previous[field];
      continue;
    }
    const value = item[field];
    if (value !== undefined) {
      out.put.push(prepareBlob(resource, id, field, value, version, what));
      if (version !== undefined) versions[field] = version;
    } else if (version === undefined) {
      out.delete.push(blobKey(resource, id, field, undefined));
    }
  }
  if (resource.versioned) out.versions = versions;
  return out;
}

/** Write `fields` as the next state of `current` (update and restore). */
export function prepareWrite(
  ctx: TableContext,
  resource: AnyResource,
  current: Record<string, unknown>,
  fields: Record<string, unknown>,
  force: boolean,
  what: string,
  blobOptions: {
    /** The fields the caller changed (update: the patch's keys). @default all: a whole replacement */
    changed?: ReadonlySet<string>;
    /** Use these blob version references (restore: the restored version's). */
    versions?: Record<string, number>;
    /** Who and why, for the audit log. */
    audit?: AuditOptions;
    /** The audit-log operation. @default "UPDATE" */
    operation?: "UPDATE" | "RESTORE";
  } = {},
): PreparedWrite {
  const id = assertId(resource, current?.id, what);
  if (hasBlobFields(resource)) blobStoreOf(ctx, resource, `${what} ${resource.type}`);
  const valid = validateInput(resource, fields, what);
  const item: Record<string, unknown> = {
    ...valid,
    id,
    createdAt: current.createdAt,
    updatedAt: nextTimestamp(current.updatedAt),
  };
  const pk = partitionKey(resource, id);
  const logged = () =>
    resource.audit
      ? [
          auditAction(
            ctx,
            resource,
            id,
            auditItem(
              ctx,
              resource,
              blobOptions.operation ?? "UPDATE",
              id,
              current,
              item,
              blobOptions.audit ?? {},
              what,
            ),
          ),
        ]
      : [];
  if (resource.versioned) {
    const prev = current.version;
    if (typeof prev !== "number" || !Number.isInteger(prev) || prev < 1) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `${what}: ${resource.type} ${id} has no valid \`version\` (${JSON.stringify(prev)}); pass the item returned by get()`,
      );
    }
    const next = prev + 1;
    item.version = next;
    let blobs: BlobChanges = { put: [], delete: [] };
    if (hasBlobFields(resource)) {
      const previous = blobOptions.versions ?? blobVersionsOf(current);
      if (previous === undefined) {
        throw new DynamoTableError(
          "table.invalidOptions",
          `${what}: ${resource.type} ${id} has blob fields: pass the item returned by get()/update() (it carries which version holds each blob)`,
        );
      }
      blobs = blobChanges(
        resource,
        id,
        item,
        blobOptions.versions ? new Set() : blobOptions.changed,
        previous,
        next,
        what,
      );
      (item as Record<symbol, unknown>)[BLOB_VERSIONS] = blobs.versions;
    }
    const history = encodeItem(resource, item, versionSortKey(next), false);
    const latest = encodeItem(resource, item, "v0", true);
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html — both or neither.
    return {
      item,
      actions: [
        {
          describe: `${what} ${pk} v${next}`,
          kind: "history",
          resource,
          id,
          version: prev,
          request: put(ctx, resource, history, "attribute_not_exists(pk)"),
        },
        {
          describe: `${what} ${pk} v0`,
          kind: "update",
          resource,
          id,
          version: prev,
          request: put(ctx, resource, latest, "#version = :prev", {
            names: { "#version": "version" },
            values: { ":prev": prev },
          }),
        },
        ...logged(),
      ],
      after: async (signal) => {
        await putBlobs(ctx, resource, blobs.put, signal);
        await prune(ctx, resource, id, next, signal);
      },
    };
  }
  const blobs = blobChanges(resource, id, item, blobOptions.changed, undefined, undefined, what);
  const stored = encodeItem(resource, item, pk, true);
  let condition = "attribute_exists(pk)";
  let extra: { names: Record<string, string>; values: Record<string, unknown> } | undefined;
  if (!force && !resource.compress) {
    condition += " AND #updated = :prev";
    extra = { names: { "#updated": "updated_at" }, values: { ":prev": current.updatedAt } };
  } else if (!force) {
    // A compressed item keeps its fields in `data`; `gsitypesk` (both libraries write it on every latest copy)
    // holds its `updatedAt`, as this package writes it or as Python's isoformat() (a simplesingletable item).
    const prev = String(current.updatedAt);
    const python = pythonIsoFormat(prev);
    condition += python === prev ? " AND #updated = :prev" : " AND #updated IN (:prev, :prevPy)";
    extra = {
      names: { "#updated": "gsitypesk" },
      values: { ":prev": prev, ...(python === prev ? {} : { ":prevPy": python }) },
    };
  }
  return {
    item,
    actions: [
      {
        describe: `${what} ${pk}`,
        kind: "update",
        resource,
        id,
        request: put(ctx, resource, stored, condition, extra),
      },
      ...logged(),
    ],
    ...(blobs.put.length > 0 || blobs.delete.length > 0
      ? {
          after: async (signal: AbortSignal | undefined) => {
            await putBlobs(ctx, resource, blobs.put, signal);
            if (blobs.delete.length > 0) await deleteBlobKeys(ctx, resource, blobs.delete, signal);
          },
        }
      : {}),
  };
}
