import { gunzipSync, gzipSync } from "node:zlib";
import { isObjectStoreError, type ObjectStore } from "@toolkit/shared";
import type { z } from "zod";
import type { TableContext } from "../../context.ts";
import { DynamoTableError } from "../../errors.ts";
import type { AnyResource } from "../../resource.ts";

/** Largest decompressed blob body read back, in bytes (a guard against a decompression bomb in the store). */
export const MAX_BLOB_INFLATED_BYTES = 512 * 1024 * 1024;

/** A blob serialized at prepare time (size checked before any request), uploaded after the commit. */
export interface PreparedBlob {
  field: string;
  key: string;
  body: Uint8Array;
  contentType?: string;
  metadata: Record<string, string>;
}

/** The store blob fields live in, or `table.invalidOptions` when the table has none. */
export function blobStoreOf(ctx: TableContext, resource: AnyResource, what: string): ObjectStore {
  if (!ctx.blobStore) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: ${resource.type} has blob fields; create the table with \`blobStore\` (openObjectStore("s3://bucket/prefix/") or a file:// store)`,
    );
  }
  return ctx.blobStore;
}

/**
 * An id as a key segment: blob keys are `{Type}/{id}/…`, so an id holding `/` (or being `.`/`..`) would
 * make one item's prefix cover another's objects. Refused for resources with blob fields.
 */
function idSegment(resource: AnyResource, id: string, what: string): string {
  if (id.includes("/") || id === "." || id === ".." || id.includes("\0")) {
    throw new DynamoTableError(
      "table.invalidOptions",
      `${what}: id ${JSON.stringify(id)} of ${resource.type} cannot name blob objects (no \`/\`, NUL, \`.\` or \`..\`)`,
    );
  }
  return id;
}

/** simplesingletable's object key of a blob: `{Type}/{id}[/v{n}]/{field}` (the store's location is the prefix). */
export function blobKey(resource: AnyResource, id: string, field: string, version: number | undefined): string {
  return `${resource.type}/${idSegment(resource, id, "blob")}/${version === undefined ? "" : `v${version}/`}${field}`;
}

/** The prefix of every blob of one item, ending in `/` (so `abc` never covers `abcd`'s objects). */
export function blobPrefix(resource: AnyResource, id: string, version?: number): string {
  return `${resource.type}/${idSegment(resource, id, "blob")}/${version === undefined ? "" : `v${version}/`}`;
}

function acceptsBytes(resource: AnyResource, field: string): boolean {
  const schema = (resource.schema.shape as Record<string, z.ZodType>)[field];
  return schema?.safeParse(new Uint8Array(0)).success === true;
}

/** Serialize a blob field's value as simplesingletable does: bytes as they are, anything else as JSON. */
export function prepareBlob(
  resource: AnyResource,
  id: string,
  field: string,
  value: unknown,
  version: number | undefined,
  what: string,
): PreparedBlob {
  const config = resource.blobFields[field]!;
  let body: Uint8Array =
    value instanceof Uint8Array
      ? value
      : Buffer.from(JSON.stringify(value instanceof Set ? [...value] : value), "utf8");
  if (config.compress) body = gzipSync(body);
  if (config.maxSizeBytes !== undefined && body.byteLength > config.maxSizeBytes) {
    throw new DynamoTableError(
      "table.validation",
      `${what}: ${resource.type}: blob field \`${field}\` is ${body.byteLength} bytes, over its maxSizeBytes ${config.maxSizeBytes}`,
    );
  }
  const metadata: Record<string, string> = {
    resource_type: resource.type,
    resource_id: id,
    field_name: field,
    // Python's str(bool).
    compressed: config.compress ? "True" : "False",
  };
  if (version !== undefined) metadata.version = String(version);
  return {
    field,
    key: blobKey(resource, id, field, version),
    body,
    metadata,
    ...(config.contentType ? { contentType: config.contentType } : {}),
  };
}

/** Upload prepared blobs (after the item's commit: only the writer that won writes them). */
export async function putBlobs(
  ctx: TableContext,
  resource: AnyResource,
  blobs: PreparedBlob[],
  signal: AbortSignal | undefined,
): Promise<void> {
  if (blobs.length === 0) return;
  const store = blobStoreOf(ctx, resource, "write blobs");
  for (const blob of blobs) {
    try {
      await store.put(blob.key, blob.body, {
        metadata: blob.metadata,
        contentLength: blob.body.byteLength,
        ...(blob.contentType ? { contentType: blob.contentType } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new DynamoTableError(
        "table.request",
        `write blob ${store.url}${blob.key}: ${(error as Error).message}; the item is written, its blob field \`${blob.field}\` is not: write it again`,
        { cause: error },
      );
    }
  }
}

/** Delete blob objects by key (a missing one is fine). */
export async function deleteBlobKeys(
  ctx: TableContext,
  resource: AnyResource,
  keys: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const store = blobStoreOf(ctx, resource, "delete blobs");
  const out = await store.deleteMany(keys, signal ? { signal } : {});
  if (out.errors.length > 0) {
    ctx.logger.warn("dynamo-table: some blob objects could not be deleted", {
      type: resource.type,
      errors: out.errors,
    });
  }
}

/** Delete every object under `prefix` (it ends in `/`); resolves how many were deleted. */
export async function deleteBlobPrefix(
  ctx: TableContext,
  resource: AnyResource,
  prefix: string,
  signal: AbortSignal | undefined,
  keep?: (key: string) => boolean,
): Promise<number> {
  const store = blobStoreOf(ctx, resource, "delete blobs");
  const keys: string[] = [];
  for await (const entry of store.list({ prefix, ...(signal ? { signal } : {}) })) {
    if (entry.kind === "object" && !keep?.(entry.key)) keys.push(entry.key);
  }
  if (keys.length === 0) return 0;
  const out = await store.deleteMany(keys, signal ? { signal } : {});
  if (out.errors.length > 0) {
    ctx.logger.warn("dynamo-table: some blob objects could not be deleted", {
      type: resource.type,
      errors: out.errors.slice(0, 5),
    });
  }
  return out.deleted.length;
}

export interface ReadBlobOptions {
  /** Fail with `table.conflict` unless the object still has this ETag (from a previous read). */
  ifMatch?: string;
  /** Refuse a stored body larger than this before reading it. @default the field's `maxSizeBytes` */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** Read one blob; `table.notFound` when the object is missing. Bytes fields come back as bytes, others from JSON. */
export async function readBlob(
  ctx: TableContext,
  resource: AnyResource,
  id: string,
  field: string,
  version: number | undefined,
  options: ReadBlobOptions,
): Promise<{ value: unknown; etag: string }> {
  const what = `read blob ${resource.type} ${id} ${field}`;
  const config = resource.blobFields[field];
  if (config === undefined) {
    throw new DynamoTableError("table.invalidOptions", `${what}: \`${field}\` is not a blob field of ${resource.type}`);
  }
  const store = blobStoreOf(ctx, resource, what);
  const key = blobKey(resource, id, field, version);
  const maxBytes = options.maxBytes ?? config.maxSizeBytes;
  let result: Awaited<ReturnType<ObjectStore["get"]>>;
  try {
    result = await store.get(key, {
      ...(options.ifMatch ? { ifMatch: options.ifMatch } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (isObjectStoreError(error, "notFound")) {
      throw new DynamoTableError("table.notFound", `${what}: no object ${store.url}${key}`, { cause: error });
    }
    if (isObjectStoreError(error, "preconditionFailed")) {
      throw new DynamoTableError("table.conflict", `${what}: ${store.url}${key} changed (ETag no longer matches)`, {
        cause: error,
      });
    }
    throw new DynamoTableError("table.request", `${what}: ${(error as Error).message}`, { cause: error });
  }
  if (maxBytes !== undefined && result.size > maxBytes) {
    result.body.destroy();
    throw new DynamoTableError(
      "table.validation",
      `${what}: ${store.url}${key} is ${result.size} bytes, over the limit of ${maxBytes}; pass a larger \`maxBytes\``,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of result.body) {
    size += (chunk as Buffer).byteLength;
    if (maxBytes !== undefined && size > maxBytes) {
      result.body.destroy();
      throw new DynamoTableError("table.validation", `${what}: ${store.url}${key} is over the limit of ${maxBytes}`);
    }
    chunks.push(chunk as Buffer);
  }
  let bytes = Buffer.concat(chunks);
  if ((result.metadata.compressed ?? "").toLowerCase() === "true") {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_BLOB_INFLATED_BYTES });
    } catch (error) {
      throw new DynamoTableError("table.corruptItem", `${what}: ${store.url}${key} is not valid gzip`, {
        cause: error,
      });
    }
  }
  if (acceptsBytes(resource, field)) return { value: new Uint8Array(bytes), etag: result.etag };
  try {
    return { value: JSON.parse(bytes.toString("utf8")), etag: result.etag };
  } catch (error) {
    throw new DynamoTableError("table.corruptItem", `${what}: ${store.url}${key} is not JSON`, { cause: error });
  }
}
