import { gunzipSync, gzipSync } from "node:zlib";
import type { z } from "zod";
import { DynamoTableError } from "./errors.ts";
import { type AnyResource, formatZodError, type GsiDefinition, partitionKey } from "./resource.ts";

/** A stored DynamoDB item as lib-dynamodb sees it. */
export type StoredItem = Record<string, unknown>;

/** DynamoDB's item size limit. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html */
export const MAX_ITEM_SIZE_BYTES = 400 * 1024;

/** Layout attributes that are never model fields of a flat item. */
const LAYOUT_ATTRIBUTES = new Set([
  "pk",
  "sk",
  "data",
  "gsitype",
  "gsitypesk",
  "_blob_fields",
  "_blob_versions",
  ...[1, 2, 3, 4, 5].flatMap((n) => [`gsi${n}pk`, `gsi${n}sk`]),
]);

/** Stored names of the base fields, as simplesingletable writes them. */
export const STORED_NAMES: Record<string, string> = {
  id: "resource_id",
  createdAt: "created_at",
  updatedAt: "updated_at",
  version: "version",
};

/** Sort key of the latest copy (versioned) or of the one item (non-versioned). */
export function latestSortKey(resource: AnyResource, id: string): string {
  return resource.versioned ? "v0" : partitionKey(resource, id);
}

export function versionSortKey(version: number): string {
  return `v${version}`;
}

/** The numeric version of a history sort key `v{n}`, or undefined for anything else (and for `v0`). */
export function parseVersionSortKey(sk: unknown): number | undefined {
  if (typeof sk !== "string" || !/^v[1-9][0-9]*$/.test(sk)) return undefined;
  return Number(sk.slice(1));
}

/** Expiry of an item in epoch seconds, from its TTL field. */
export function ttlSeconds(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return Math.floor(value);
  const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * On a decoded item of a versioned resource with blob fields: the version whose blob each field uses
 * (`_blob_versions`; a field unchanged by an update keeps pointing at an older version's object). An
 * enumerable symbol, so spreading the item keeps it while JSON and `Object.keys` do not show it.
 */
export const BLOB_VERSIONS: unique symbol = Symbol("dynamo-table.blobVersions");

/** True when the resource keeps fields in the blob store. */
export function hasBlobFields(resource: AnyResource): boolean {
  for (const _ in resource.blobFields) return true;
  return false;
}

/** The `_blob_versions` an item carries (see {@link BLOB_VERSIONS}). */
export function blobVersionsOf(item: unknown): Record<string, number> | undefined {
  return (item as { [BLOB_VERSIONS]?: Record<string, number> } | null)?.[BLOB_VERSIONS];
}

/** The JSON object simplesingletable keeps (in `data` or as flat attributes): base fields in snake_case. */
function toStoredObject(resource: AnyResource, item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    if (value === undefined || Object.hasOwn(resource.blobFields, key)) continue;
    if (value instanceof Set) {
      // A set field: a DynamoDB set (SS/NS) on flat items, where `addToSet` works on it; DynamoDB has no empty
      // sets, so an empty one is left out (as simplesingletable does). Inside gzip JSON: an array.
      if (resource.compress) out[key] = [...value];
      else if (value.size > 0) out[key] = value;
      continue;
    }
    out[STORED_NAMES[key] ?? key] = value instanceof Date ? value.toISOString() : value;
  }
  if (!resource.versioned) delete out.version;
  return out;
}

/**
 * Encode a validated item into the stored layout. `latest` items carry the index attributes (type index and
 * user GSIs); history items (`v{n}`) do not, so no index ever returns them.
 */
export function encodeItem(
  resource: AnyResource,
  item: Record<string, unknown>,
  sk: string,
  latest: boolean,
): StoredItem {
  const id = String(item.id);
  const stored = toStoredObject(resource, item);
  const out: StoredItem = { pk: partitionKey(resource, id), sk };
  if (resource.compress) {
    out.data = gzipSync(Buffer.from(JSON.stringify(stored), "utf8"));
    // Exactly simplesingletable's attributes: `version` beside `data` (its condition attribute), nothing else.
    // Non-versioned updates are conditional on `gsitypesk`, which holds `updatedAt` on every latest copy.
    if (resource.versioned) out.version = stored.version;
  } else {
    // Layout names never come from the item (an untyped item could carry a `pk`).
    for (const [key, value] of Object.entries(stored)) if (!LAYOUT_ATTRIBUTES.has(key)) out[key] = value;
  }
  if (resource.ttl) {
    const seconds = ttlSeconds(item[resource.ttl.field]);
    if (seconds !== undefined) out[resource.ttl.attribute] = seconds;
  }
  const blobNames = Object.keys(resource.blobFields);
  if (blobNames.length > 0) {
    // As simplesingletable: the configured blob fields always, and (versioned) which version holds each blob.
    out._blob_fields = blobNames;
    const versions = blobVersionsOf(item);
    if (resource.versioned && versions && Object.keys(versions).length > 0) out._blob_versions = { ...versions };
  }
  if (latest) {
    out.gsitype = resource.type;
    out.gsitypesk = item.updatedAt;
    for (const [name, gsi] of Object.entries(resource.gsis as Record<string, GsiDefinition<never>>)) {
      const slot = resource.gsiSlots[name]!;
      const pk = gsi.pk(item as never);
      if (pk === undefined || pk === "") continue; // sparse: not in this index
      out[`gsi${slot}pk`] = pk;
      // The indexes have a sort key; an item without one would not be indexed at all, so it defaults to the
      // item's partition key (as simplesingletable's gsi1/gsi2 use `pk` as their range key). On a table whose
      // index sorts by another attribute (simplesingletable's gsi1/gsi2 sort by `pk`) the write drops it again:
      // see `fitToTable` in the table.
      const sk = gsi.sk?.(item as never);
      out[`gsi${slot}sk`] = sk !== undefined && sk !== "" ? sk : out.pk;
    }
  }
  return out;
}

/** True when the stored item's TTL attribute lies in the past (DynamoDB deletes such items late). */
export function isExpired(resource: AnyResource, stored: StoredItem, nowMs = Date.now()): boolean {
  if (!resource.ttl) return false;
  const value = stored[resource.ttl.attribute];
  return typeof value === "number" && value * 1000 <= nowMs;
}

/** The raw model object of a stored item (decoded from `data` or collected from flat attributes). */
export function storedObject(stored: StoredItem): Record<string, unknown> {
  const data = stored.data;
  if (data instanceof Uint8Array) {
    return JSON.parse(gunzipSync(data).toString("utf8")) as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stored)) {
    if (!LAYOUT_ATTRIBUTES.has(key)) out[key] = value;
  }
  return out;
}

/** The item field of a stored base name (simplesingletable's snake_case), or the name itself. */
function fieldName(key: string): string {
  switch (key) {
    case "resource_id":
      return "id";
    case "created_at":
      return "createdAt";
    case "updated_at":
      return "updatedAt";
    default:
      return key;
  }
}

/** A stored item that cannot be read back, by its keys (one of the listing's `invalid` entries). */
export interface InvalidItem {
  /** Partition key of the stored item. */
  pk: string;
  /** Sort key of the stored item. */
  sk: string;
  /** Why it cannot be read (the message of its `table.corruptItem` error). */
  message: string;
}

/** `table.corruptItem` for a stored item that fails decoding or the schema: names its keys and the way out. */
export function corruptItem(
  resource: AnyResource,
  stored: StoredItem,
  reason: string,
  cause: unknown,
): DynamoTableError {
  const pk = String(stored.pk);
  const sk = String(stored.sk);
  return new DynamoTableError(
    "table.corruptItem",
    `stored ${resource.type} item pk=${pk} sk=${sk} is corrupt: ${reason}; fix or delete that item (list with \`skipInvalid\` to read the others)`,
    { cause, key: { pk, sk } },
  );
}

/**
 * Decode and validate a stored item; `undefined` when its TTL has passed.
 * @throws DynamoTableError `table.corruptItem` when `data` is not gzip JSON or the item fails the schema.
 */
export function decodeItem<T>(resource: AnyResource, stored: StoredItem, nowMs = Date.now()): T | undefined {
  if (isExpired(resource, stored, nowMs)) return undefined;
  const compressed = stored.data instanceof Uint8Array;
  let raw: Record<string, unknown>;
  try {
    raw = compressed ? storedObject(stored) : stored;
  } catch (error) {
    throw corruptItem(resource, stored, "its `data` attribute is not gzip JSON", error);
  }
  const shape = resource.itemSchema.shape as Record<string, z.ZodType>;
  const ttlAttribute = resource.ttl?.attribute;
  const obj: Record<string, unknown> = {};
  // One pass over the stored attributes (a list page decodes up to 1000 items; this loop is most of its CPU).
  for (const key in raw) {
    if (!Object.hasOwn(raw, key) || (!compressed && LAYOUT_ATTRIBUTES.has(key)) || key === ttlAttribute) continue;
    // simplesingletable may keep a blob field's value inside gzip `data` too; the blob store holds the truth.
    if (Object.hasOwn(resource.blobFields, key)) continue;
    const value = raw[key];
    const name = fieldName(key);
    // simplesingletable stores None as NULL; an optional field that does not accept null reads as absent.
    if (value === null && shape[name] && !shape[name].safeParse(null).success) continue;
    if (resource.setFields.has(name))
      obj[name] = value instanceof Set ? value : Array.isArray(value) ? new Set(value) : value;
    else obj[name] = value instanceof Set ? [...value] : value;
  }
  if (resource.versioned && obj.version === undefined && typeof stored.version === "number")
    obj.version = stored.version;
  if (obj.id === undefined && typeof stored.pk === "string") obj.id = stored.pk.slice(stored.pk.indexOf("#") + 1);
  const parsed = resource.itemSchema.safeParse(obj);
  if (!parsed.success) {
    throw corruptItem(resource, stored, formatZodError(resource, parsed.error, "").replace(/ :/, ":"), parsed.error);
  }
  if (resource.versioned && hasBlobFields(resource)) {
    const versions: Record<string, number> = {};
    const raw = stored._blob_versions;
    if (raw !== null && typeof raw === "object") {
      for (const [field, v] of Object.entries(raw))
        if (typeof v === "number" && Number.isInteger(v)) versions[field] = v;
    }
    (parsed.data as Record<symbol, unknown>)[BLOB_VERSIONS] = versions;
  }
  return parsed.data as T;
}

/** Approximate stored size of an item in bytes, by DynamoDB's rules (names + values). */
export function itemSizeBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === "boolean") return 1;
  if (typeof value === "string") return Buffer.byteLength(value, "utf8");
  if (typeof value === "number" || typeof value === "bigint") return Math.ceil(String(value).length / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((n: number, v) => n + itemSizeBytes(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + itemSizeBytes(v), 0);
  if (typeof value === "object") {
    let n = 3;
    for (const [k, v] of Object.entries(value)) n += Buffer.byteLength(k, "utf8") + itemSizeBytes(v) + 1;
    return n;
  }
  return 0;
}

/** Throw `table.itemTooLarge` before any request when an item cannot fit DynamoDB's 400 KB limit. */
export function assertItemSize(resource: AnyResource, stored: StoredItem): void {
  let size = 0;
  for (const [k, v] of Object.entries(stored)) size += Buffer.byteLength(k, "utf8") + itemSizeBytes(v);
  if (size > MAX_ITEM_SIZE_BYTES) {
    const kb = Math.ceil(size / 1024);
    throw new DynamoTableError(
      "table.itemTooLarge",
      `${resource.type} ${String(stored.pk)}: the stored item is ${kb} KB, over DynamoDB's 400 KB item limit${
        resource.compress ? "" : "; enable `compress`"
      } or keep large fields in S3`,
    );
  }
}

/**
 * Drop the `gsi{n}sk` attributes index `gsi{n}` does not sort by (`indexes`: index name → key attributes, from
 * DescribeTable), so a stored item carries exactly the attributes simplesingletable writes. Mutates `item`.
 */
export function fitIndexAttributes(item: StoredItem, indexes: ReadonlyMap<string, readonly string[]>): void {
  for (const attr of Object.keys(item)) {
    const m = /^gsi([1-5])sk$/.exec(attr);
    if (!m) continue;
    const keys = indexes.get(`gsi${m[1]}`);
    if (keys !== undefined && keys[1] !== attr) delete item[attr];
  }
}

/** True when the stored item has a `gsi{n}sk` attribute (whose fit to the table needs the key schema). */
export function hasIndexSortKeys(item: StoredItem): boolean {
  for (const attr in item) if (/^gsi[1-5]sk$/.test(attr)) return true;
  return false;
}
