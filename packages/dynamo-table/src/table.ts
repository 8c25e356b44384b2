import { randomBytes } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { abortReason, type Logger, silentLogger } from "@toolkit/shared";
import { monotonicFactory } from "ulid";
import { z } from "zod";
import { type BatchGetOptions, batchGetItems } from "./actions/batch-get/batch-get.ts";
import { type PatchChanges, type PatchOptions, patchItem } from "./actions/patch/patch.ts";
import {
  assertItemSize,
  decodeItem,
  encodeItem,
  fitIndexAttributes,
  hasIndexSortKeys,
  type InvalidItem,
  latestSortKey,
  parseVersionSortKey,
  STORED_NAMES,
  type StoredItem,
  versionSortKey,
} from "./codec.ts";
import type { TableContext } from "./context.ts";
import { decodeCursor, encodeCursor, queryFingerprint } from "./cursor.ts";
import { type EnsureTableOptions, type EnsureTableResult, ensureTable } from "./ensure-table.ts";
import { DynamoTableError, isDynamoTableError } from "./errors.ts";
import { compileFilter, type Filter, filterBuilder, matchesFilter, type Where } from "./filter.ts";
import {
  type AnyResource,
  formatZodError,
  type GsiDefinition,
  type Item,
  type ItemInput,
  partitionKey,
  SINGLETON_ID,
} from "./resource.ts";

/** DynamoDB's limit of actions in one TransactWriteItems call. */
export const MAX_TRANSACTION_ACTIONS = 100;
/** DynamoDB's limit of requests in one BatchWriteItem call. */
export const MAX_BATCH_WRITE_ITEMS = 25;
/** Largest `limit` of one page. */
export const MAX_PAGE_LIMIT = 1000;

/** The item type of a resource definition. */
export type ItemOf<R> = R extends {
  readonly schema: infer S extends z.ZodObject;
  readonly versioned: infer V extends boolean;
}
  ? Item<S, V>
  : never;
/** The input type of a resource definition's `create`. */
export type InputOf<R> = R extends { readonly schema: infer S extends z.ZodObject } ? ItemInput<S> : never;
/** The fields an `update` may change. Set a field to `undefined` to remove it. */
export type PatchOf<R> = Partial<InputOf<R>>;
/** A field of an item's own schema, or `field.key` for one key of a map field. */
export type FieldPath<T> =
  | Extract<keyof Omit<T, "id" | "createdAt" | "updatedAt" | "version">, string>
  | `${string}.${string}`;
/** The GSI names of a resource definition. */
export type GsiNameOf<R> = R extends { readonly gsis: infer G } ? Extract<keyof G, string> : never;

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
});

export interface SignalOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends SignalOptions {
  /** Use this id instead of a new ULID; fails with `table.alreadyExists` when taken. */
  id?: string;
}

export interface GetOptions extends SignalOptions {
  /** Read this version of a versioned resource instead of the latest. */
  version?: number;
  /** @default the table's `consistentRead` */
  consistentRead?: boolean;
}

export interface UpdateOptions extends SignalOptions {
  /** Non-versioned resources: write even if the item changed since it was read. @default false */
  force?: boolean;
}

/** A key condition on a GSI's sort key. */
export type SortKeyCondition =
  | string
  | { eq: string }
  | { lt: string }
  | { lte: string }
  | { gt: string }
  | { gte: string }
  | { beginsWith: string }
  | { between: [string, string] };

export interface ListOptions<T> extends SignalOptions {
  /** Items per page (1..1000). @default 100 */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string | undefined;
  /** By `updatedAt` (list) or by the GSI sort key (query). @default "asc" */
  order?: "asc" | "desc";
  /** A typed filter. Fields inside compressed `data` are filtered after decoding. */
  where?: Where<T> | undefined;
  /** Stop after this many Query requests (an integer >= 1) and return what was found, with a cursor. @default unlimited */
  maxRequests?: number;
  /**
   * Skip stored items that cannot be read (not gzip JSON, or failing the schema) instead of failing the whole
   * page with `table.corruptItem`; they are listed in the page's `invalid` and passed to `onInvalid`.
   * @default false
   */
  skipInvalid?: boolean;
  /** Called for every item `skipInvalid` skips (the way `iterate` reports them). */
  onInvalid?: (invalid: InvalidItem) => void;
}

export interface QueryOptions<T> extends ListOptions<T> {
  /** Partition key value of the index. */
  pk: string;
  /** Condition on the index's sort key; a string means equality. */
  sk?: SortKeyCondition;
}

/** One page of a listing. */
export interface Page<T> {
  items: T[];
  /** Pass to the next call for the next page; absent on the last page. */
  cursor?: string;
  /** Query requests this page took. */
  requests: number;
  /** With `skipInvalid`: the stored items skipped because they cannot be read (an empty list when none). */
  invalid?: InvalidItem[];
}

/** Collects the actions of a transaction; every method throws on invalid input before any request. */
export interface TransactionBuilder {
  /** Create an item; returns the item as it will be stored. */
  create<R extends AnyResource>(resource: R, input: InputOf<R>, options?: { id?: string }): ItemOf<R>;
  /** Update an item from the version you hold (optimistic); returns the new item. */
  update<R extends AnyResource>(
    resource: R,
    current: ItemOf<R>,
    patch: PatchOf<R>,
    options?: { force?: boolean },
  ): ItemOf<R>;
  /** Delete an item. Versioned: the latest copy in the transaction, its history right after the commit. */
  delete<R extends AnyResource>(resource: R, id: string, options?: { version?: number }): void;
  /** Fail the transaction unless the item exists (and is at `version`, for a versioned resource). */
  check<R extends AnyResource>(resource: R, id: string, options?: { version?: number }): void;
}

/** What `transaction` resolves once committed. */
export interface TransactionResult<T> {
  /** What the callback returned, e.g. the items `tx.create` / `tx.update` returned. */
  result: T;
  /** Every item created or updated, in the order of the actions. */
  items: unknown[];
}

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
  /** Delete an item and all its versions. Resolves `false` when there was nothing to delete. */
  delete<R extends AnyResource>(resource: R, id: string, options?: SignalOptions): Promise<boolean>;
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
  restore<R extends AnyResource>(resource: R, id: string, version: number, options?: SignalOptions): Promise<ItemOf<R>>;
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

interface Action {
  describe: string;
  kind: "create" | "update" | "delete" | "check" | "history";
  resource: AnyResource;
  id: string;
  version?: number;
  request: NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
}

interface PreparedWrite {
  item: Record<string, unknown>;
  actions: Action[];
  /** Runs after a successful commit (pruning, history cleanup). */
  after?: (signal: AbortSignal | undefined) => Promise<void>;
}

/** The two attributes a conflict message needs, from a raw (marshalled) item of a failed condition. */
function unmarshall(raw: Record<string, { S?: string; N?: string } | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (raw.version?.N !== undefined) out.version = Number(raw.version.N);
  // Flat items carry `updated_at`; compressed ones only `gsitypesk` (the same timestamp) outside `data`.
  const updated = raw.updated_at?.S ?? raw.gsitypesk?.S;
  if (updated !== undefined) out.updated_at = updated;
  return out;
}

/**
 * simplesingletable writes flat timestamps and `gsitypesk` as Python's `isoformat()` (`+00:00`) but inside
 * gzip `data` as `Z`: the `gsitypesk` of a Python-written compressed item is its `updatedAt` with `+00:00`.
 */
function pythonIsoFormat(iso: string): string {
  return iso.endsWith("Z") ? `${iso.slice(0, -1)}+00:00` : iso;
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

const BASE_KEYS = new Set(["id", "createdAt", "updatedAt", "version"]);

function ownFields(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!BASE_KEYS.has(k)) out[k] = v;
  return out;
}

/** A timestamp after `previous`: each write of an item gets a strictly larger `updatedAt`. */
function nextTimestamp(previous: unknown): string {
  const prev = typeof previous === "string" ? Date.parse(previous) : Number.NaN;
  const now = Date.now();
  return new Date(Number.isFinite(prev) && prev >= now ? prev + 1 : now).toISOString();
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

let processSecret: string | undefined;
/**
 * The default cursor secret: random, made once per process. A secret derived from anything public (the table
 * name) would let anyone who knows it forge a cursor, i.e. an `ExclusiveStartKey` of their choice.
 */
function processCursorSecret(): string {
  processSecret ??= randomBytes(32).toString("base64url");
  return processSecret;
}

/** Create a table handle. No request is sent until a method is called. */
export function createTable(options: CreateTableOptions): Table {
  const parsed = createTableOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join(".") || "options";
    const value =
      path === "cursorSecret"
        ? "<redacted>"
        : path === "client"
          ? typeof options.client
          : JSON.stringify((options as unknown as Record<string, unknown>)[path]);
    throw new DynamoTableError("table.invalidOptions", `createTable: invalid \`${path}\` (${value}): ${issue.message}`);
  }
  const { tableName, client } = options;
  const logger = options.logger ?? silentLogger;
  const cursorSecret = options.cursorSecret ?? processCursorSecret();
  const defaultConsistent = options.consistentRead ?? false;
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const newId = monotonicFactory();

  async function send<T>(what: string, command: unknown, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return (await doc.send(command as never, signal ? { abortSignal: signal } : undefined)) as T;
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException)
        throw error;
      if (error instanceof ResourceNotFoundException) {
        throw new DynamoTableError(
          "table.request",
          `${what}: table ${tableName} does not exist; create it with ensureTable() (or \`s3kit table init\`)`,
          { cause: error },
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      if (/item size/i.test(message)) {
        throw new DynamoTableError(
          "table.itemTooLarge",
          `${what}: ${message}; enable \`compress\` or keep large fields in S3`,
          {
            cause: error,
          },
        );
      }
      throw new DynamoTableError("table.request", `${what}: ${errorName(error)}: ${message}`, { cause: error });
    }
  }

  function validateInput(resource: AnyResource, input: unknown, what: string): Record<string, unknown> {
    const result = resource.schema.safeParse(input);
    if (!result.success) {
      throw new DynamoTableError("table.validation", formatZodError(resource, result.error, `in ${what}`), {
        cause: result.error,
      });
    }
    return result.data as Record<string, unknown>;
  }

  function assertId(resource: AnyResource, id: unknown, what: string): string {
    if (typeof id !== "string" || id.length === 0 || id.length > 1024) {
      throw new DynamoTableError(
        "table.invalidOptions",
        `${what}: invalid id ${JSON.stringify(id)} for ${resource.type}; an id is a non-empty string`,
      );
    }
    return id;
  }

  function put(
    resource: AnyResource,
    stored: StoredItem,
    condition: string,
    extra?: { names?: Record<string, string>; values?: Record<string, unknown> },
  ) {
    assertItemSize(resource, stored);
    return {
      Put: {
        TableName: tableName,
        Item: stored,
        ConditionExpression: condition,
        ...(extra?.names ? { ExpressionAttributeNames: extra.names } : {}),
        ...(extra?.values ? { ExpressionAttributeValues: extra.values } : {}),
        ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
      },
    };
  }

  // ---- write preparation (shared by single calls and transactions) ----

  function prepareCreate(resource: AnyResource, input: unknown, id: string | undefined): PreparedWrite {
    const fields = validateInput(resource, input, "create");
    const itemId =
      resource.kind === "singleton" ? SINGLETON_ID : id === undefined ? newId() : assertId(resource, id, "create");
    const now = new Date().toISOString();
    const item: Record<string, unknown> = { ...fields, id: itemId, createdAt: now, updatedAt: now };
    const pk = partitionKey(resource, itemId);
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
            request: put(resource, v1, "attribute_not_exists(pk)"),
          },
          {
            describe: `create ${pk} v0`,
            kind: "create",
            resource,
            id: itemId,
            version: 1,
            request: put(resource, v0, "attribute_not_exists(pk)"),
          },
        ],
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
          request: put(resource, stored, "attribute_not_exists(pk)"),
        },
      ],
    };
  }

  /** Write `fields` as the next state of `current` (update and restore). */
  function prepareWrite(
    resource: AnyResource,
    current: Record<string, unknown>,
    fields: Record<string, unknown>,
    force: boolean,
    what: string,
  ): PreparedWrite {
    const id = assertId(resource, current?.id, what);
    const valid = validateInput(resource, fields, what);
    const item: Record<string, unknown> = {
      ...valid,
      id,
      createdAt: current.createdAt,
      updatedAt: nextTimestamp(current.updatedAt),
    };
    const pk = partitionKey(resource, id);
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
            request: put(resource, history, "attribute_not_exists(pk)"),
          },
          {
            describe: `${what} ${pk} v0`,
            kind: "update",
            resource,
            id,
            version: prev,
            request: put(resource, latest, "#version = :prev", {
              names: { "#version": "version" },
              values: { ":prev": prev },
            }),
          },
        ],
        after: (signal) => prune(resource, id, next, signal),
      };
    }
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
        { describe: `${what} ${pk}`, kind: "update", resource, id, request: put(resource, stored, condition, extra) },
      ],
    };
  }

  function conflictError(
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

  async function commit(actions: Action[], what: string, signal?: AbortSignal): Promise<void> {
    await fitToTable(actions, signal);
    if (actions.length === 1 && actions[0]!.request.Put) {
      const action = actions[0]!;
      try {
        await send(what, new PutCommand(action.request.Put as never), signal);
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
      await send(what, new TransactWriteCommand({ TransactItems: actions.map((a) => a.request) }), signal);
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

  // ---- reads ----

  async function getStored(
    resource: AnyResource,
    id: string,
    sk: string,
    consistent: boolean,
    signal: AbortSignal | undefined,
  ): Promise<StoredItem | undefined> {
    const out = await send<{ Item?: StoredItem }>(
      `get ${resource.type} ${id}`,
      new GetCommand({ TableName: tableName, Key: { pk: partitionKey(resource, id), sk }, ConsistentRead: consistent }),
      signal,
    );
    return out.Item;
  }

  /** Every stored key of an item (`v0`, `v1`, … or the one key), following Query pages past 1 MB. */
  async function* itemPages(
    resource: AnyResource,
    id: string,
    projection: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<StoredItem[]> {
    let start: Record<string, unknown> | undefined;
    do {
      const input: QueryCommandInput = {
        TableName: tableName,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": "pk", ...(projection ? { "#sk": "sk" } : {}) },
        ExpressionAttributeValues: { ":pk": partitionKey(resource, id) },
        ConsistentRead: true,
        ...(projection ? { ProjectionExpression: "#pk, #sk" } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      };
      const out = await send<{ Items?: StoredItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
        `list versions of ${resource.type} ${id}`,
        new QueryCommand(input),
        signal,
      );
      yield out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async function batchDelete(keys: { pk: unknown; sk: unknown }[], what: string, signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += MAX_BATCH_WRITE_ITEMS) {
      let requests = keys.slice(i, i + MAX_BATCH_WRITE_ITEMS).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 50 * 2 ** attempt)));
        if (attempt > 8)
          throw new DynamoTableError("table.request", `${what}: ${requests.length} deletes stayed unprocessed; retry`);
        const out = await send<{ UnprocessedItems?: Record<string, typeof requests> }>(
          what,
          new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
          signal,
        );
        requests = out.UnprocessedItems?.[tableName] ?? [];
      }
    }
  }

  /** Delete history beyond `maxVersions`, newest kept, sorted numerically (v10 after v9). */
  async function prune(resource: AnyResource, id: string, latest: number, signal?: AbortSignal): Promise<void> {
    const max = resource.maxVersions;
    if (max === undefined || latest <= max) return;
    try {
      const numbers: number[] = [];
      for await (const page of itemPages(resource, id, true, signal)) {
        for (const stored of page) {
          const n = parseVersionSortKey(stored.sk);
          if (n !== undefined) numbers.push(n);
        }
      }
      numbers.sort((a, b) => b - a);
      const drop = numbers.slice(max);
      if (drop.length === 0) return;
      const pk = partitionKey(resource, id);
      await batchDelete(
        drop.map((n) => ({ pk, sk: versionSortKey(n) })),
        `prune ${resource.type} ${id}`,
        signal,
      );
    } catch (error) {
      // The write has committed; the next write prunes again.
      logger.warn("dynamo-table: pruning old versions failed", { type: resource.type, id, error: String(error) });
    }
  }

  async function deleteHistory(resource: AnyResource, id: string, signal?: AbortSignal): Promise<number> {
    const keys: { pk: unknown; sk: unknown }[] = [];
    for await (const page of itemPages(resource, id, true, signal))
      for (const s of page) keys.push({ pk: s.pk, sk: s.sk });
    await batchDelete(keys, `delete ${resource.type} ${id}`, signal);
    return keys.length;
  }

  // ---- listings ----

  /**
   * Key attributes of an index as DynamoDB expects them in `ExclusiveStartKey` (table keys + index keys, nothing
   * more). Learned from a `LastEvaluatedKey` or, once per index, from DescribeTable: simplesingletable's standard
   * table sorts `gsi1`/`gsi2` by `pk`, so their keys lack the `gsiNsk` this package writes.
   */
  const indexKeys = new Map<string, string[]>();

  /** Index name → its key attributes (hash, range), from one DescribeTable per handle; `undefined` if denied. */
  let tableIndexes: Promise<Map<string, string[]> | undefined> | undefined;

  function describeIndexes(signal: AbortSignal | undefined): Promise<Map<string, string[]> | undefined> {
    tableIndexes ??= send<{
      Table?: { GlobalSecondaryIndexes?: { IndexName?: string; KeySchema?: { AttributeName?: string }[] }[] };
    }>(`describe ${tableName}`, new DescribeTableCommand({ TableName: tableName }), signal).then(
      (out) => {
        const map = new Map<string, string[]>();
        for (const g of out.Table?.GlobalSecondaryIndexes ?? []) {
          const names = (g.KeySchema ?? []).map((k) => k.AttributeName).filter((n): n is string => !!n);
          if (g.IndexName) map.set(g.IndexName, names);
        }
        return map;
      },
      (error: unknown) => {
        tableIndexes = undefined;
        if (signal?.aborted) throw error;
        // No dynamodb:DescribeTable permission, say: assume this package's own layout.
        logger.debug("dynamo-table: DescribeTable failed; assuming the standard index keys", {
          error: String(error),
        });
        return undefined;
      },
    );
    return tableIndexes;
  }

  async function keyAttributesOf(spec: QuerySpec, signal: AbortSignal | undefined): Promise<string[]> {
    if (spec.index === "gsitype") return spec.keyAttributes; // the same in both libraries' tables
    const known = indexKeys.get(spec.index);
    if (known !== undefined) return known;
    const names = (await describeIndexes(signal))?.get(spec.index) ?? [];
    return names.length > 0 ? [...new Set(["pk", "sk", ...names])] : spec.keyAttributes;
  }

  /**
   * Write exactly the attributes simplesingletable writes: `gsi{n}sk` only where index `gsi{n}` sorts by it.
   * On simplesingletable's standard table `gsi1`/`gsi2` sort by `pk`, and its models (extra fields forbidden)
   * fail on a stray `gsi1sk`/`gsi2sk`. Costs one DescribeTable per handle, and only for items with GSI keys.
   */
  async function fitToTable(actions: Action[], signal: AbortSignal | undefined): Promise<void> {
    for (const action of actions) {
      const item = action.request.Put?.Item as StoredItem | undefined;
      if (!item || !hasIndexSortKeys(item)) continue;
      const indexes = await describeIndexes(signal);
      if (indexes === undefined) return; // unknown layout: keep this package's own
      fitIndexAttributes(item, indexes);
    }
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

  interface QuerySpec {
    index: string;
    keyCondition: string;
    names: Record<string, string>;
    values: Record<string, unknown>;
    keyAttributes: string[];
    /** Extra server-side filter that always applies (type of the item). */
    baseFilter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> };
  }

  async function runQuery<T>(
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
      tableName,
      resource.type,
      spec.index,
      spec.keyCondition,
      spec.values,
      order,
      filter ?? null,
    ]);
    let start =
      options.cursor === undefined ? undefined : decodeCursor(cursorSecret, fingerprint, options.cursor, what);

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
        TableName: tableName,
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
      const out = await send<{ Items?: StoredItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
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
            : await keyAttributesOf(spec, options.signal);
          const key: Record<string, unknown> = {};
          for (const attr of attrs) key[attr] = stored[attr];
          return result(encodeCursor(cursorSecret, fingerprint, key));
        }
      }
      start = out.LastEvaluatedKey;
      if (start && spec.index !== "gsitype" && !indexKeys.has(spec.index))
        indexKeys.set(spec.index, Object.keys(start));
      if (!start) return result();
      if (options.maxRequests !== undefined && requests >= options.maxRequests) {
        return result(encodeCursor(cursorSecret, fingerprint, start));
      }
    }
  }

  function typeIndexSpec(resource: AnyResource): QuerySpec {
    return {
      index: "gsitype",
      keyCondition: "#tk = :tv",
      names: { "#tk": "gsitype" },
      values: { ":tv": resource.type },
      keyAttributes: ["pk", "sk", "gsitype", "gsitypesk"],
    };
  }

  function gsiSpec(resource: AnyResource, gsi: string, options: QueryOptions<unknown>, what: string): QuerySpec {
    const slot = resource.gsiSlots[gsi];
    if (slot === undefined) {
      const known = Object.keys(resource.gsiSlots);
      throw new DynamoTableError(
        "table.invalidOptions",
        `${what}: ${resource.type} has no GSI \`${gsi}\`; defined: ${known.length > 0 ? known.join(", ") : "none"}`,
      );
    }
    if (typeof options?.pk !== "string" || options.pk === "") {
      throw new DynamoTableError(
        "table.invalidOptions",
        `${what}: \`pk\` must be a non-empty string, got ${JSON.stringify(options?.pk)}`,
      );
    }
    const names: Record<string, string> = { "#gp": `gsi${slot}pk` };
    const values: Record<string, unknown> = { ":gp": options.pk };
    let keyCondition = "#gp = :gp";
    const sk = options.sk;
    if (sk !== undefined) {
      names["#gs"] = `gsi${slot}sk`;
      const cond = typeof sk === "string" ? { eq: sk } : sk;
      if ("between" in cond) {
        values[":gs0"] = cond.between[0];
        values[":gs1"] = cond.between[1];
        keyCondition += " AND #gs BETWEEN :gs0 AND :gs1";
      } else if ("beginsWith" in cond) {
        values[":gs0"] = cond.beginsWith;
        keyCondition += " AND begins_with(#gs, :gs0)";
      } else {
        const [op, value] = Object.entries(cond)[0] as [keyof typeof OPS, string];
        const OPS = { eq: "=", lt: "<", lte: "<=", gt: ">", gte: ">=" } as const;
        if (!(op in OPS))
          throw new DynamoTableError("table.invalidOptions", `${what}: invalid \`sk\` condition \`${String(op)}\``);
        values[":gs0"] = value;
        keyCondition += ` AND #gs ${OPS[op]} :gs0`;
      }
    }
    return {
      index: `gsi${slot}`,
      keyCondition,
      names,
      values,
      keyAttributes: ["pk", "sk", `gsi${slot}pk`, `gsi${slot}sk`],
      // A user index may hold several types; keep this one's.
      baseFilter: { expression: "#qt = :qt", names: { "#qt": "gsitype" }, values: { ":qt": resource.type } },
    };
  }

  const ctx: TableContext = {
    tableName,
    client,
    doc,
    logger,
    consistentRead: defaultConsistent,
    cursorSecret,
    newId,
    send,
    describeIndexes,
  };

  const members = (m: string | number | Iterable<string> | Iterable<number>) =>
    typeof m === "string" || typeof m === "number" ? [m] : m;

  const self: Table = {
    tableName,
    documentClient: doc,

    async patch(resource, id, changes, opts = {}) {
      const out = await patchItem(
        ctx,
        resource,
        id,
        changes as never,
        opts as never,
        "item",
        `patch ${resource.type} ${id}`,
      );
      return out.item as never;
    },

    async increment(resource, id, path, by = 1, opts = {}) {
      const what = `increment ${resource.type} ${id} ${path}`;
      const out = await patchItem(ctx, resource, id, { add: { [path]: by } } as never, opts as never, "updated", what);
      const [field, key] = String(path).split(".") as [string, string | undefined];
      const top = out.attributes?.[field];
      const value = key === undefined ? top : (top as Record<string, unknown> | undefined)?.[key];
      return Number(value);
    },

    async addToSet(resource, id, field, m, opts = {}) {
      const what = `addToSet ${resource.type} ${id} ${field}`;
      await patchItem(ctx, resource, id, { add: { [field]: members(m) } } as never, opts as never, "none", what);
    },

    async removeFromSet(resource, id, field, m, opts = {}) {
      const what = `removeFromSet ${resource.type} ${id} ${field}`;
      await patchItem(ctx, resource, id, { delete: { [field]: members(m) } } as never, opts as never, "none", what);
    },
    ensureTable: (opts) => ensureTable(client, tableName, logger, opts),

    async create(resource, input, opts = {}) {
      const prepared = prepareCreate(resource, input, opts.id);
      await commit(prepared.actions, `create ${resource.type}`, opts.signal);
      return prepared.item as never;
    },

    async get(resource, id, opts = {}) {
      assertId(resource, id, "get");
      let sk = latestSortKey(resource, id);
      if (opts.version !== undefined) {
        if (!resource.versioned) {
          throw new DynamoTableError(
            "table.invalidOptions",
            `get: \`version\` (${opts.version}) needs a versioned resource; ${resource.type} is not`,
          );
        }
        if (!Number.isInteger(opts.version) || opts.version < 1) {
          throw new DynamoTableError(
            "table.invalidOptions",
            `get: invalid \`version\` (${JSON.stringify(opts.version)}): an integer >= 1`,
          );
        }
        sk = versionSortKey(opts.version);
      }
      const stored = await getStored(resource, id, sk, opts.consistentRead ?? defaultConsistent, opts.signal);
      return stored ? (decodeItem(resource, stored) as never) : undefined;
    },

    async batchGet(resource, ids, opts = {}) {
      return (await batchGetItems(ctx, resource, ids, opts)) as never;
    },

    async getStored(resource, id, opts = {}) {
      assertId(resource, id, "getStored");
      const sk =
        opts.version !== undefined && resource.versioned ? versionSortKey(opts.version) : latestSortKey(resource, id);
      return getStored(resource, id, sk, opts.consistentRead ?? defaultConsistent, opts.signal);
    },

    async getOrThrow(resource, id, opts = {}) {
      const item = await self.get(resource, id, opts);
      if (item === undefined) {
        const which = opts.version !== undefined ? ` version ${opts.version}` : "";
        throw new DynamoTableError("table.notFound", `${resource.type} ${id}${which} not found`);
      }
      return item;
    },

    async update(resource, current, patch, opts = {}) {
      const base = ownFields(current as Record<string, unknown>);
      const prepared = prepareWrite(
        resource,
        current as Record<string, unknown>,
        { ...base, ...(patch as object) },
        opts.force ?? false,
        "update",
      );
      await commit(
        prepared.actions,
        `update ${resource.type} ${String((current as { id?: unknown }).id)}`,
        opts.signal,
      );
      await prepared.after?.(opts.signal);
      return prepared.item as never;
    },

    async delete(resource, id, opts = {}) {
      assertId(resource, id, "delete");
      const pk = partitionKey(resource, id);
      const what = `delete ${resource.type} ${id}`;
      if (!resource.versioned) {
        const out = await send<{ Attributes?: StoredItem }>(
          what,
          new DeleteCommand({ TableName: tableName, Key: { pk, sk: pk }, ReturnValues: "ALL_OLD" }),
          opts.signal,
        );
        return out.Attributes !== undefined;
      }
      // The latest copy first: from then on the item reads as missing and concurrent updates fail.
      const out = await send<{ Attributes?: StoredItem }>(
        what,
        new DeleteCommand({ TableName: tableName, Key: { pk, sk: "v0" }, ReturnValues: "ALL_OLD" }),
        opts.signal,
      );
      const history = await deleteHistory(resource, id, opts.signal);
      return out.Attributes !== undefined || history > 0;
    },

    async list(resource, opts = {}) {
      return runQuery(resource, typeIndexSpec(resource), opts, `list ${resource.type}`);
    },

    async *iterate(resource, opts = {}) {
      let cursor: string | undefined;
      do {
        const page = await runQuery(resource, typeIndexSpec(resource), { ...opts, cursor }, `list ${resource.type}`);
        for (const item of page.items) yield item;
        cursor = page.cursor;
      } while (cursor);
    },

    async query(resource, gsi, opts) {
      const what = `query ${resource.type} ${String(gsi)}`;
      return runQuery(resource, gsiSpec(resource, gsi, opts as QueryOptions<unknown>, what), opts, what);
    },

    async versions(resource, id, opts = {}) {
      assertId(resource, id, "versions");
      if (!resource.versioned) {
        const item = await self.get(resource, id, { consistentRead: true, ...opts });
        return item ? [item] : [];
      }
      const out: { n: number; item: unknown }[] = [];
      const nowMs = Date.now();
      for await (const page of itemPages(resource, id, false, opts.signal)) {
        for (const stored of page) {
          const n = parseVersionSortKey(stored.sk);
          if (n === undefined) continue;
          const item = decodeItem(resource, stored, nowMs);
          if (item !== undefined) out.push({ n, item });
        }
      }
      return out.sort((a, b) => a.n - b.n).map((e) => e.item) as never;
    },

    async restore(resource, id, version, opts = {}) {
      if (!resource.versioned) {
        throw new DynamoTableError(
          "table.invalidOptions",
          `restore: ${resource.type} is not versioned; nothing to restore`,
        );
      }
      const old = await self.getOrThrow(resource, id, { version, consistentRead: true, signal: opts.signal });
      const latest = await self.getOrThrow(resource, id, { consistentRead: true, signal: opts.signal });
      const prepared = prepareWrite(
        resource,
        latest as Record<string, unknown>,
        ownFields(old as Record<string, unknown>),
        false,
        "restore",
      );
      await commit(prepared.actions, `restore ${resource.type} ${id} v${version}`, opts.signal);
      await prepared.after?.(opts.signal);
      return prepared.item as never;
    },

    async transaction(fn, opts = {}) {
      const writes: PreparedWrite[] = [];
      const actions: Action[] = [];
      const deletes: { resource: AnyResource; id: string }[] = [];
      const add = (w: PreparedWrite) => {
        writes.push(w);
        actions.push(...w.actions);
        return w.item as never;
      };
      const tx: TransactionBuilder = {
        create: (resource, input, o) => add(prepareCreate(resource, input, o?.id)),
        update: (resource, current, patch, o) =>
          add(
            prepareWrite(
              resource,
              current as Record<string, unknown>,
              { ...ownFields(current as Record<string, unknown>), ...(patch as object) },
              o?.force ?? false,
              "update",
            ),
          ),
        delete: (resource, id, o) => {
          assertId(resource, id, "transaction delete");
          const pk = partitionKey(resource, id);
          const versionCheck = resource.versioned && o?.version !== undefined;
          actions.push({
            describe: `delete ${pk}`,
            kind: "delete",
            resource,
            id,
            ...(o?.version !== undefined ? { version: o.version } : {}),
            request: {
              Delete: {
                TableName: tableName,
                Key: { pk, sk: latestSortKey(resource, id) },
                ...(versionCheck
                  ? {
                      ConditionExpression: "#version = :v",
                      ExpressionAttributeNames: { "#version": "version" },
                      ExpressionAttributeValues: { ":v": o.version },
                    }
                  : {}),
                ...(versionCheck ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
              },
            },
          });
          if (resource.versioned) deletes.push({ resource, id });
        },
        check: (resource, id, o) => {
          assertId(resource, id, "transaction check");
          const pk = partitionKey(resource, id);
          const withVersion = o?.version !== undefined;
          actions.push({
            describe: `check ${pk}`,
            kind: "check",
            resource,
            id,
            ...(withVersion ? { version: o.version } : {}),
            request: {
              ConditionCheck: {
                TableName: tableName,
                Key: { pk, sk: latestSortKey(resource, id) },
                ConditionExpression: withVersion ? "attribute_exists(pk) AND #version = :v" : "attribute_exists(pk)",
                ...(withVersion
                  ? {
                      ExpressionAttributeNames: { "#version": "version" },
                      ExpressionAttributeValues: { ":v": o.version },
                    }
                  : {}),
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              },
            },
          });
        },
      };
      const result = await fn(tx);
      if (actions.length === 0) return { result, items: [] };
      if (actions.length > MAX_TRANSACTION_ACTIONS) {
        throw new DynamoTableError(
          "table.transactionTooLarge",
          `transaction has ${actions.length} actions (a versioned create or update takes 2); DynamoDB allows at most ${MAX_TRANSACTION_ACTIONS}: split it`,
        );
      }
      await commit(actions, "transaction", opts.signal);
      for (const w of writes) await w.after?.(opts.signal);
      for (const d of deletes) await deleteHistory(d.resource, d.id, opts.signal);
      return { result, items: writes.map((w) => w.item) };
    },

    async getSingleton(resource, opts = {}) {
      return self.get(resource, SINGLETON_ID, opts);
    },

    async putSingleton(resource, value, opts = {}) {
      const current = await self.get(resource, SINGLETON_ID, { consistentRead: true, signal: opts.signal });
      if (!current) {
        const prepared = prepareCreate(resource, value, SINGLETON_ID);
        await commit(prepared.actions, `put singleton ${resource.type}`, opts.signal);
        return prepared.item as never;
      }
      const prepared = prepareWrite(
        resource,
        current as Record<string, unknown>,
        value as Record<string, unknown>,
        opts.force ?? false,
        "put singleton",
      );
      await commit(prepared.actions, `put singleton ${resource.type}`, opts.signal);
      await prepared.after?.(opts.signal);
      return prepared.item as never;
    },
  };
  return self;
}

export type { GsiDefinition };
