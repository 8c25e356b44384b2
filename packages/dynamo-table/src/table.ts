import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Logger, type ObjectStore, silentLogger } from "@toolkit/shared";
import { z } from "zod";
import {
  type AuditEntry,
  type AuditLogOptions,
  type AuditOptions,
  listAuditLog,
  readStats,
} from "./actions/audit/audit.ts";
import { type BatchGetOptions, batchGetItems } from "./actions/batch-get/batch-get.ts";
import type { ReadBlobOptions } from "./actions/blobs/blobs.ts";
import { type CreateOptions, createItem } from "./actions/create/create.ts";
import { deleteItem } from "./actions/delete/delete.ts";
import { type GetOptions, getItem, getItemOrThrow, getStoredItem, readItemBlob } from "./actions/get/get.ts";
import { type PatchChanges, type PatchOptions, patchItem } from "./actions/patch/patch.ts";
import { iterateItems, listItems } from "./actions/query/list.ts";
import type { ListOptions, Page, QueryOptions } from "./actions/query/options.ts";
import { queryItems } from "./actions/query/query.ts";
import { restoreVersion } from "./actions/restore/restore.ts";
import { getSingleton, putSingleton } from "./actions/singleton/singleton.ts";
import { runTransaction, type TransactionBuilder, type TransactionResult } from "./actions/transaction/transaction.ts";
import { type UpdateOptions, updateItem } from "./actions/update/update.ts";
import { listVersions } from "./actions/versions/versions.ts";
import { createContext } from "./context.ts";
import { defaultCursorSecret } from "./cursor.ts";
import { type EnsureTableOptions, type EnsureTableResult, ensureTable } from "./ensure-table.ts";
import { DynamoTableError } from "./errors.ts";
import type { AnyResource } from "./resource.ts";
import type { FieldPath, GsiNameOf, InputOf, ItemOf, PatchOf, SignalOptions } from "./types.ts";

export interface CreateTableOptions {
  /** Name of the DynamoDB table. */
  tableName: string;
  /** A client from `createDynamoDbClient` (`@toolkit/shared`). */
  client: DynamoDBClient;
  /**
   * Secret for the HMAC that makes cursors tamper-proof (at least 16 characters). Without it each process
   * makes a random one, so a cursor works only in the process that issued it; set it (the same in every
   * process, kept secret) when cursors must outlive the process or pass between servers.
   * @default a random secret per process
   */
  cursorSecret?: string;
  /** Strongly consistent reads for `get` and listings (not available on GSIs). @default false */
  consistentRead?: boolean;
  /**
   * Where resources' `blobFields` live, e.g. `openObjectStore("s3://bucket/blobs/")` (the location is the
   * prefix; objects are `{Type}/{id}[/v{n}]/{field}` under it, as simplesingletable writes them). Not closed
   * by the table. @default none (a write of a blob field fails with `table.invalidOptions`)
   */
  blobStore?: ObjectStore;
  logger?: Logger;
}

const createTableOptionsSchema = z.object({
  tableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, "a table name has 3-255 characters: letters, digits, `_ . -`"),
  client: z.custom<DynamoDBClient>(
    (c) => typeof c === "object" && c !== null && typeof (c as { send?: unknown }).send === "function",
    "`client` must be a DynamoDBClient (createDynamoDbClient from @toolkit/shared)",
  ),
  cursorSecret: z.string().min(16, "a cursor secret has at least 16 characters").optional(),
  consistentRead: z.boolean().optional(),
  logger: z.custom<Logger>().optional(),
  blobStore: z
    .custom<ObjectStore>(
      (s) => typeof s === "object" && s !== null && typeof (s as { put?: unknown }).put === "function",
      "`blobStore` must be an ObjectStore (openObjectStore from @toolkit/shared)",
    )
    .optional(),
});

export interface Table {
  readonly tableName: string;
  /** The document client used for every request (for raw calls beside this library). */
  readonly documentClient: DynamoDBDocumentClient;
  ensureTable(options?: EnsureTableOptions): Promise<EnsureTableResult>;
  create<R extends AnyResource>(resource: R, input: InputOf<R>, options?: CreateOptions): Promise<ItemOf<R>>;
  get<R extends AnyResource>(resource: R, id: string, options?: GetOptions): Promise<ItemOf<R> | undefined>;
  getOrThrow<R extends AnyResource>(resource: R, id: string, options?: GetOptions): Promise<ItemOf<R>>;
  /**
   * The latest copies of many items: BatchGetItem with 100 keys a request, unprocessed keys retried. Missing
   * (and expired) items are absent; the map follows the order of `ids`.
   */
  batchGet<R extends AnyResource>(
    resource: R,
    ids: Iterable<string>,
    options?: BatchGetOptions,
  ): Promise<Map<string, ItemOf<R>>>;
  /** The stored DynamoDB item (keys, index attributes, `data` undecoded), for tools and debugging. */
  getStored<R extends AnyResource>(
    resource: R,
    id: string,
    options?: GetOptions,
  ): Promise<Record<string, unknown> | undefined>;
  update<R extends AnyResource>(
    resource: R,
    current: ItemOf<R>,
    patch: PatchOf<R>,
    options?: UpdateOptions,
  ): Promise<ItemOf<R>>;
  /**
   * Field-level changes of a non-versioned, uncompressed item (`set`, `remove`, `add`, `append`, `delete`),
   * compiled to one conditional UpdateItem: writers of different fields never conflict. Resolves the new item.
   * Fails with `table.notFound` when the item is missing, `table.conflict` when `expected` does not hold.
   */
  patch<R extends AnyResource>(
    resource: R,
    id: string,
    changes: PatchChanges<ItemOf<R>>,
    options?: PatchOptions<ItemOf<R>>,
  ): Promise<ItemOf<R>>;
  /**
   * Atomically add `by` to a number field, or to one key of a map field (`"visits.home"`); a missing counter
   * counts from 0. One UpdateItem; resolves the new value. Non-versioned, uncompressed resources only.
   */
  increment<R extends AnyResource>(
    resource: R,
    id: string,
    path: FieldPath<ItemOf<R>>,
    by?: number,
    options?: PatchOptions<ItemOf<R>>,
  ): Promise<number>;
  /** Atomically add members to a set field (`z.set(...)`, a DynamoDB SS/NS). One UpdateItem. */
  addToSet<R extends AnyResource>(
    resource: R,
    id: string,
    field: FieldPath<ItemOf<R>>,
    members: string | number | Iterable<string> | Iterable<number>,
    options?: PatchOptions<ItemOf<R>>,
  ): Promise<void>;
  /** Atomically remove members from a set field. One UpdateItem. */
  removeFromSet<R extends AnyResource>(
    resource: R,
    id: string,
    field: FieldPath<ItemOf<R>>,
    members: string | number | Iterable<string> | Iterable<number>,
    options?: PatchOptions<ItemOf<R>>,
  ): Promise<void>;
  /**
   * Read one blob field of an item you hold (for a versioned resource: the object of the version it points
   * at). `ifMatch` (an ETag from an earlier read) makes it fail with `table.conflict` if the object changed;
   * `maxBytes` (default: the field's `maxSizeBytes`) refuses a larger object before reading its body.
   */
  readBlob<R extends AnyResource>(
    resource: R,
    item: ItemOf<R>,
    field: FieldPath<ItemOf<R>>,
    options?: ReadBlobOptions,
  ): Promise<{ value: unknown; etag: string }>;
  /** Delete an item and all its versions. Resolves `false` when there was nothing to delete. */
  delete<R extends AnyResource>(resource: R, id: string, options?: SignalOptions & AuditOptions): Promise<boolean>;
  /** One page of the audit log of a resource type, or of one item (`id`); oldest first unless `order: "desc"`. */
  auditLog<R extends AnyResource>(
    resource: R,
    options?: AuditLogOptions,
  ): Promise<{ items: AuditEntry[]; cursor?: string }>;
  /** Items per type counted in the stats item (resources defined with `stats: true`). */
  stats(options?: SignalOptions & { consistentRead?: boolean }): Promise<Record<string, number>>;
  list<R extends AnyResource>(resource: R, options?: ListOptions<ItemOf<R>>): Promise<Page<ItemOf<R>>>;
  iterate<R extends AnyResource>(
    resource: R,
    options?: Omit<ListOptions<ItemOf<R>>, "cursor">,
  ): AsyncIterable<ItemOf<R>>;
  query<R extends AnyResource>(
    resource: R,
    gsi: GsiNameOf<R>,
    options: QueryOptions<ItemOf<R>>,
  ): Promise<Page<ItemOf<R>>>;
  /** Every stored version, oldest first (numeric order). */
  versions<R extends AnyResource>(resource: R, id: string, options?: SignalOptions): Promise<ItemOf<R>[]>;
  /** Write version `version`'s fields as a new latest version. */
  restore<R extends AnyResource>(
    resource: R,
    id: string,
    version: number,
    options?: SignalOptions & AuditOptions,
  ): Promise<ItemOf<R>>;
  /**
   * Collect actions with the builder and commit them as one TransactWriteItems. Resolves what `fn` returned
   * (typed: return the items `tx.create`/`tx.update` gave you) and every item written, in order.
   */
  transaction<T = void>(
    fn: (tx: TransactionBuilder) => T | Promise<T>,
    options?: SignalOptions,
  ): Promise<TransactionResult<Awaited<T>>>;
  getSingleton<R extends AnyResource>(resource: R, options?: GetOptions): Promise<ItemOf<R> | undefined>;
  /**
   * Create or replace the singleton's fields: reads the current copy (consistently), then writes conditionally on
   * it, so a change between the read and the write fails with `table.versionConflict` / `table.conflict` unless
   * `force` (non-versioned singletons) is set.
   */
  putSingleton<R extends AnyResource>(
    resource: R,
    value: InputOf<R>,
    options?: SignalOptions & { force?: boolean },
  ): Promise<ItemOf<R>>;
}

/**
 * Create a table handle. No request is sent until a method is called. The factory only wires the actions:
 * each lives in its own module under `actions/` and is a function of the handle's {@link TableContext}.
 */
export function createTable(options: CreateTableOptions): Table {
  const parsed = createTableOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join(".") || "options";
    const value =
      path === "cursorSecret"
        ? "<redacted>"
        : path === "client" || path === "blobStore"
          ? typeof (options as unknown as Record<string, unknown>)[path]
          : JSON.stringify((options as unknown as Record<string, unknown>)[path]);
    throw new DynamoTableError("table.invalidOptions", `createTable: invalid \`${path}\` (${value}): ${issue.message}`);
  }
  const ctx = createContext({
    tableName: options.tableName,
    client: options.client,
    logger: options.logger ?? silentLogger,
    consistentRead: options.consistentRead ?? false,
    cursorSecret: options.cursorSecret ?? defaultCursorSecret(),
    blobStore: options.blobStore,
  });
  const members = (m: string | number | Iterable<string> | Iterable<number>) =>
    typeof m === "string" || typeof m === "number" ? [m] : m;
  const current = (item: unknown) => item as Record<string, unknown>;

  return {
    tableName: ctx.tableName,
    documentClient: ctx.doc,
    ensureTable: (opts) => ensureTable(ctx.client, ctx.tableName, ctx.logger, opts),
    create: async (resource, input, opts = {}) => (await createItem(ctx, resource, input, opts)) as never,
    get: async (resource, id, opts = {}) => (await getItem(ctx, resource, id, opts)) as never,
    getOrThrow: async (resource, id, opts = {}) => (await getItemOrThrow(ctx, resource, id, opts)) as never,
    batchGet: async (resource, ids, opts = {}) => (await batchGetItems(ctx, resource, ids, opts)) as never,
    getStored: (resource, id, opts = {}) => getStoredItem(ctx, resource, id, opts),
    update: async (resource, item, patch, opts = {}) =>
      (await updateItem(ctx, resource, current(item), patch as object, opts)) as never,
    patch: async (resource, id, changes, opts = {}) =>
      (await patchItem(ctx, resource, id, changes as never, opts as never, "item", `patch ${resource.type} ${id}`))
        .item as never,
    async increment(resource, id, path, by = 1, opts = {}) {
      const what = `increment ${resource.type} ${id} ${path}`;
      const out = await patchItem(ctx, resource, id, { add: { [path]: by } } as never, opts as never, "updated", what);
      const [field, key] = String(path).split(".") as [string, string | undefined];
      const top = out.attributes?.[field];
      return Number(key === undefined ? top : (top as Record<string, unknown> | undefined)?.[key]);
    },
    async addToSet(resource, id, field, m, opts = {}) {
      const what = `addToSet ${resource.type} ${id} ${field}`;
      await patchItem(ctx, resource, id, { add: { [field]: members(m) } } as never, opts as never, "none", what);
    },
    async removeFromSet(resource, id, field, m, opts = {}) {
      const what = `removeFromSet ${resource.type} ${id} ${field}`;
      await patchItem(ctx, resource, id, { delete: { [field]: members(m) } } as never, opts as never, "none", what);
    },
    readBlob: (resource, item, field, opts = {}) => readItemBlob(ctx, resource, current(item), field, opts),
    delete: (resource, id, opts = {}) => deleteItem(ctx, resource, id, opts),
    auditLog: (resource, opts = {}) => listAuditLog(ctx, resource, opts),
    stats: (opts = {}) => readStats(ctx, opts),
    list: async (resource, opts = {}) => (await listItems(ctx, resource, opts)) as never,
    iterate: (resource, opts = {}) => iterateItems(ctx, resource, opts) as never,
    query: async (resource, gsi, opts) => (await queryItems(ctx, resource, gsi, opts)) as never,
    versions: async (resource, id, opts = {}) => (await listVersions(ctx, resource, id, opts)) as never,
    restore: async (resource, id, version, opts = {}) =>
      (await restoreVersion(ctx, resource, id, version, opts)) as never,
    transaction: (fn, opts = {}) => runTransaction(ctx, fn, opts),
    getSingleton: async (resource, opts = {}) => (await getSingleton(ctx, resource, opts)) as never,
    putSingleton: async (resource, value, opts = {}) => (await putSingleton(ctx, resource, value, opts)) as never,
  };
}
