import { z } from "zod";
import { DynamoTableError } from "./errors.ts";

/** The fields every stored item carries besides its schema's fields. */
export interface BaseFields {
  /** A ULID (monotonic within this process), or the id given to `create`. */
  id: string;
  /** ISO 8601 timestamp of the first version. */
  createdAt: string;
  /** ISO 8601 timestamp of this version; strictly increases with every write of the item. */
  updatedAt: string;
}

/** The object a resource's items are: schema output plus id and timestamps, plus `version` when versioned. */
export type Item<S extends z.ZodObject, V extends boolean> = z.output<S> &
  BaseFields &
  (V extends true ? { version: number } : unknown);

/** The input of `create`: the schema's input (no id, timestamps or version). */
export type ItemInput<S extends z.ZodObject> = z.input<S>;

/** One user GSI: key functions of the item; a function that returns `undefined` leaves the item out (sparse). */
export interface GsiDefinition<T> {
  /** Partition key of the index for an item, or `undefined` to leave the item out of the index. */
  pk: (item: T) => string | undefined;
  /** Sort key of the index for an item. @default the item's partition key (`{type}#{id}`), so ids order it */
  sk?: (item: T) => string | undefined;
  /** Which of the table's five user indexes (`gsi1`…`gsi5`) it uses. @default its position in `gsis`, from 1 */
  index?: 1 | 2 | 3 | 4 | 5;
}

export interface TtlDefinition {
  /** Schema field holding the expiry: an ISO string, a `Date`, or epoch seconds. */
  field: string;
  /** DynamoDB attribute written with the expiry in epoch seconds (the table's TTL attribute). @default "ttl" */
  attribute?: string;
}

/** A field kept in the blob store (S3 or `file://`) instead of the item, in simplesingletable's layout. */
export interface BlobFieldOptions {
  /** gzip the body (metadata `compressed: "True"`). @default false */
  compress?: boolean;
  /** Content-Type of the object. @default none (the store's default) */
  contentType?: string;
  /** Largest body accepted on write (after compression) and read, in bytes. @default unlimited */
  maxSizeBytes?: number;
}

/** An audit log of a resource's writes, in simplesingletable's `_INTERNAL#AuditLog#<ULID>` items. */
export interface AuditConfig {
  /** Record `{ field: { old, new } }` on updates and restores. @default true */
  trackFieldChanges?: boolean;
  /** Fields never recorded (secrets). @default none */
  excludeFields?: string[];
  /** Record the whole item after each write. @default false */
  includeSnapshot?: boolean;
  /** Every write must name `changedBy`. @default false */
  changedByRequired?: boolean;
}

export interface ResourceOptions<
  T extends string,
  S extends z.ZodObject,
  V extends boolean,
  G extends Record<string, GsiDefinition<Item<S, V>>>,
> {
  /** The type name: the prefix of the partition key (`{type}#{id}`) and the `gsitype` value. */
  type: T;
  /** zod object schema of the item's own fields. Validates on every write and read. */
  schema: S;
  /** Keep every version as its own item (`v1`, `v2`, …) with optimistic locking on `version`. @default false */
  versioned?: V;
  /** Versions kept per item; older ones are deleted after each write. @default unlimited */
  maxVersions?: number;
  /** Store the item as gzip JSON in `data` instead of flat attributes. @default `versioned` */
  compress?: boolean;
  /** Up to five GSIs on `gsi1pk/gsi1sk` … `gsi5pk/gsi5sk`. Only the latest copy carries them. */
  gsis?: G;
  /** Expiry of items; expired items are never returned, even before DynamoDB deletes them. */
  ttl?: TtlDefinition | undefined;
  /**
   * Optional fields stored as objects in the table's `blobStore` (`{Type}/{id}[/v{n}]/{field}`), not in the
   * item: reads leave them out unless `loadBlobs`. @default none
   */
  blobFields?: Record<string, BlobFieldOptions> | undefined;
  /** Keep an audit log of creates, updates, restores and deletes (in the same transaction as the write). @default off */
  audit?: AuditConfig | boolean | undefined;
  /** Count the type's items in simplesingletable's `_INTERNAL#MemoryStats` item (after each create/delete). @default false */
  stats?: boolean | undefined;
}

/** A resource definition made by {@link defineResource}. Pass it to every table method. */
export interface Resource<
  T extends string = string,
  S extends z.ZodObject = z.ZodObject,
  V extends boolean = boolean,
  G extends Record<string, GsiDefinition<Item<S, V>>> = Record<string, GsiDefinition<Item<S, V>>>,
> {
  readonly kind: "resource" | "singleton";
  readonly type: T;
  readonly schema: S;
  readonly versioned: V;
  readonly maxVersions: number | undefined;
  readonly compress: boolean;
  readonly gsis: G;
  /** Resolved GSI slots: name → index number 1..5. */
  readonly gsiSlots: Readonly<Record<string, number>>;
  readonly ttl: Required<TtlDefinition> | undefined;
  /** @internal schema of the whole item (own fields + id, timestamps, version). */
  readonly itemSchema: z.ZodObject;
  /** @internal fields whose schema is a `z.set(...)`: stored as a DynamoDB set (SS/NS) on flat items. */
  readonly setFields: ReadonlySet<string>;
  /** Fields kept in the blob store, with their options (`{}` when none). */
  readonly blobFields: Readonly<Record<string, Readonly<BlobFieldOptions>>>;
  /** The audit-log settings, `undefined` when the resource keeps none. */
  readonly audit: Readonly<Required<AuditConfig>> | undefined;
  /** Counted in the stats item. */
  readonly stats: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest resource definition, for parameters that accept any
export type AnyResource = Resource<string, z.ZodObject, boolean, any>;

/** Attribute names the table layout uses; a schema may not use them as field names. */
export const RESERVED_ATTRIBUTES = new Set([
  "pk",
  "sk",
  "data",
  "version",
  "resource_id",
  "created_at",
  "updated_at",
  "gsitype",
  "gsitypesk",
  "id",
  "createdAt",
  "updatedAt",
  ...[1, 2, 3, 4, 5].flatMap((n) => [`gsi${n}pk`, `gsi${n}sk`]),
]);

const TYPE_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/;

const optionsSchema = z.object({
  type: z.string().regex(TYPE_PATTERN, "a type is a name such as `Note` (letters, digits, `_ . -`, no `#`)"),
  schema: z.custom<z.ZodObject>((s) => s instanceof z.ZodObject, "`schema` must be a z.object(...)"),
  versioned: z.boolean().optional(),
  maxVersions: z.number().int().min(1).optional(),
  compress: z.boolean().optional(),
  gsis: z
    .record(
      z.string(),
      z.object({
        pk: z.function(),
        sk: z.function().optional(),
        index: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]).optional(),
      }),
    )
    .optional(),
  ttl: z.object({ field: z.string().min(1), attribute: z.string().min(1).optional() }).optional(),
  blobFields: z
    .record(
      z.string(),
      z.strictObject({
        compress: z.boolean().optional(),
        contentType: z.string().min(1).optional(),
        maxSizeBytes: z.number().int().min(1).optional(),
      }),
    )
    .optional(),
  audit: z
    .union([
      z.boolean(),
      z.strictObject({
        trackFieldChanges: z.boolean().optional(),
        excludeFields: z.array(z.string()).optional(),
        includeSnapshot: z.boolean().optional(),
        changedByRequired: z.boolean().optional(),
      }),
    ])
    .optional(),
  stats: z.boolean().optional(),
});

function invalid(fn: string, input: unknown, error: z.ZodError): never {
  const issue = error.issues[0]!;
  const path = issue.path.join(".") || "options";
  const value = issue.path.length > 0 ? (input as Record<string, unknown>)[String(issue.path[0])] : input;
  const shown = typeof value === "function" ? "function" : typeof value === "object" ? "object" : JSON.stringify(value);
  throw new DynamoTableError("table.invalidResource", `${fn}: invalid \`${path}\` (${shown}): ${issue.message}`);
}

function build<T extends string, S extends z.ZodObject, V extends boolean, G>(
  fn: string,
  kind: "resource" | "singleton",
  options: ResourceOptions<T, S, V, G & Record<string, GsiDefinition<Item<S, V>>>>,
): Resource<T, S, V, G & Record<string, GsiDefinition<Item<S, V>>>> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) invalid(fn, options, parsed.error);
  const versioned = (options.versioned ?? false) as V;
  if (options.maxVersions !== undefined && !versioned) {
    throw new DynamoTableError(
      "table.invalidResource",
      `${fn}: \`maxVersions\` (${options.maxVersions}) needs \`versioned: true\` on resource ${options.type}`,
    );
  }
  const ttl = options.ttl ? { field: options.ttl.field, attribute: options.ttl.attribute ?? "ttl" } : undefined;
  for (const key of Object.keys(options.schema.shape)) {
    if (RESERVED_ATTRIBUTES.has(key) || key === ttl?.attribute) {
      throw new DynamoTableError(
        "table.invalidResource",
        `${fn}: schema field \`${key}\` of resource ${options.type} is a name the table layout uses; rename the field`,
      );
    }
  }
  if (ttl && !(ttl.field in options.schema.shape)) {
    throw new DynamoTableError(
      "table.invalidResource",
      `${fn}: \`ttl.field\` (${JSON.stringify(ttl.field)}) is not a field of the schema of resource ${options.type}`,
    );
  }
  const gsis = (options.gsis ?? {}) as G & Record<string, GsiDefinition<Item<S, V>>>;
  const names = Object.keys(gsis);
  if (names.length > 5) {
    throw new DynamoTableError(
      "table.invalidResource",
      `${fn}: resource ${options.type} has ${names.length} GSIs; at most 5`,
    );
  }
  const gsiSlots: Record<string, number> = {};
  const used = new Set<number>();
  names.forEach((name, i) => {
    const slot = gsis[name]!.index ?? i + 1;
    if (used.has(slot)) {
      throw new DynamoTableError(
        "table.invalidResource",
        `${fn}: GSI \`${name}\` of resource ${options.type} uses gsi${slot}, which another GSI already uses; set \`index\``,
      );
    }
    used.add(slot);
    gsiSlots[name] = slot;
  });
  const itemSchema = options.schema.extend({
    id: z.string().min(1),
    createdAt: z.string(),
    updatedAt: z.string(),
    ...(versioned ? { version: z.number().int().min(1) } : {}),
  });
  const blobFields = { ...(options.blobFields ?? {}) };
  for (const field of Object.keys(blobFields)) {
    const schema = (options.schema.shape as Record<string, z.ZodType>)[field];
    if (schema === undefined) {
      throw new DynamoTableError(
        "table.invalidResource",
        `${fn}: blob field \`${field}\` is not a field of the schema of resource ${options.type}`,
      );
    }
    if (!schema.safeParse(undefined).success) {
      throw new DynamoTableError(
        "table.invalidResource",
        `${fn}: blob field \`${field}\` of resource ${options.type} must be optional (reads leave it out unless \`loadBlobs\`)`,
      );
    }
    if (ttl?.field === field) {
      throw new DynamoTableError("table.invalidResource", `${fn}: the TTL field \`${field}\` cannot be a blob field`);
    }
  }
  const setFields = new Set<string>();
  for (const [key, field] of Object.entries(options.schema.shape as Record<string, z.ZodType>)) {
    if (unwrapSchema(field).def.type === "set") setFields.add(key);
  }
  return Object.freeze({
    kind,
    type: options.type,
    schema: options.schema,
    versioned,
    maxVersions: options.maxVersions,
    compress: options.compress ?? versioned,
    gsis,
    gsiSlots,
    ttl,
    itemSchema,
    setFields,
    blobFields,
    audit:
      options.audit === undefined || options.audit === false
        ? undefined
        : {
            trackFieldChanges: true,
            excludeFields: [],
            includeSnapshot: false,
            changedByRequired: false,
            ...(options.audit === true ? {} : options.audit),
          },
    stats: options.stats ?? false,
  });
}

/**
 * Define a resource type stored on a single table. The zod schema is the single source of truth: it
 * types the items, and validates them on every write and read.
 */
export function defineResource<
  const T extends string,
  S extends z.ZodObject,
  V extends boolean = false,
  N extends string = never,
>(
  options: Omit<ResourceOptions<T, S, V, Record<N, GsiDefinition<Item<S, V>>>>, "gsis"> & {
    gsis?: Record<N, GsiDefinition<Item<S, V>>>;
  },
): Resource<T, S, V, Record<N, GsiDefinition<Item<S, V>>>> {
  return build("defineResource", "resource", options as never) as unknown as Resource<
    T,
    S,
    V,
    Record<N, GsiDefinition<Item<S, V>>>
  >;
}

/** The item type of {@link defineUntypedResource}: any JSON object. */
export type UntypedSchema = ReturnType<typeof untypedSchema>;
const untypedSchema = () => z.looseObject({});

/**
 * A resource whose fields are not known (any JSON object passes): for tools such as the `s3kit table` CLI that
 * read and write items of any type. Prefer {@link defineResource} with a real schema in applications.
 */
export function defineUntypedResource<const T extends string, V extends boolean = false>(
  options: Omit<ResourceOptions<T, UntypedSchema, V, Record<string, GsiDefinition<Item<UntypedSchema, V>>>>, "schema">,
): Resource<T, UntypedSchema, V, Record<string, GsiDefinition<Item<UntypedSchema, V>>>> {
  return build("defineUntypedResource", "resource", { ...options, schema: untypedSchema() }) as Resource<
    T,
    UntypedSchema,
    V,
    Record<string, GsiDefinition<Item<UntypedSchema, V>>>
  >;
}

export interface SingletonOptions<T extends string, S extends z.ZodObject, V extends boolean> {
  /** The type name; the one item lives at `pk = "SINGLETON#{type}"`. */
  type: T;
  schema: S;
  /** @default false */
  versioned?: V;
  /** @default unlimited */
  maxVersions?: number;
  /** @default `versioned` */
  compress?: boolean;
}

/** A resource type with exactly one item (settings, counters): read with `getSingleton`, write with `putSingleton`. */
export function defineSingleton<const T extends string, S extends z.ZodObject, V extends boolean = false>(
  options: SingletonOptions<T, S, V>,
): Resource<T, S, V, Record<never, GsiDefinition<Item<S, V>>>> {
  return build("defineSingleton", "singleton", options) as Resource<T, S, V, Record<never, GsiDefinition<Item<S, V>>>>;
}

/** A field schema without its `optional` / `nullable` / `default` wrappers. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType } };
  while ((s.def.type === "optional" || s.def.type === "nullable" || s.def.type === "default") && s.def.innerType) {
    s = s.def.innerType as typeof s;
  }
  return s;
}

/** Id of a singleton's one item. */
export const SINGLETON_ID = "SINGLETON";

/** Partition key of an item: `{type}#{id}`, or `SINGLETON#{type}` for a singleton. */
export function partitionKey(resource: AnyResource, id: string): string {
  return resource.kind === "singleton" ? `SINGLETON#${resource.type}` : `${resource.type}#${id}`;
}

/** Name of the schema field for an error message. */
export function formatZodError(resource: AnyResource, error: z.ZodError, what: string): string {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join(".") : "(item)";
  return `${resource.type}: invalid field \`${field}\` ${what}: ${issue.message}`;
}
