import type { z } from "zod";
import { STORED_NAMES, ttlSeconds } from "../../codec.ts";
import { DynamoTableError } from "../../errors.ts";
import { compileFilter, type Filter } from "../../filter.ts";
import { type AnyResource, RESERVED_ATTRIBUTES, unwrapSchema } from "../../resource.ts";

/** The schema's own fields of an item (no id, timestamps or version). */
type OwnFields<T> = Omit<T, "id" | "createdAt" | "updatedAt" | "version">;

/**
 * Field-level changes of one item, compiled to one conditional `UpdateItem`. A path is a field name, or
 * `field.key` for one key of a map (`z.record`) or object field. Every change is validated against the
 * resource's schema before any request.
 */
export interface PatchChanges<T = Record<string, unknown>> {
  /** Fields (or `field.key` paths) to set. A `Set` value of a set field replaces the whole set. */
  set?: { [K in keyof OwnFields<T>]?: OwnFields<T>[K] } & { [path: `${string}.${string}`]: unknown };
  /** Optional fields (or `field.key` paths) to remove. */
  remove?: readonly string[];
  /**
   * Atomic additions: a number added to a number field or a `field.key` counter (a missing one counts as 0),
   * or members added to a set field (`z.set(...)`, stored as a DynamoDB string or number set).
   */
  add?: Record<string, number | Iterable<string> | Iterable<number>>;
  /** Elements appended to list fields (a missing list starts empty). */
  append?: Record<string, readonly unknown[]>;
  /** Members removed from set fields (the attribute disappears with its last member, as DynamoDB sets do). */
  delete?: Record<string, Iterable<string> | Iterable<number>>;
}

/** A compiled patch: the UpdateItem expressions and their placeholders. */
export interface CompiledPatch {
  updateExpression: string;
  conditionExpression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
  /** Top-level fields the patch changes. */
  fields: string[];
}

const PATH = /^([^.]+)(?:\.([^.]+))?$/;

function invalid(what: string, message: string): DynamoTableError {
  return new DynamoTableError("table.invalidOptions", `${what}: ${message}`);
}

function validation(resource: AnyResource, what: string, path: string, message: string): DynamoTableError {
  return new DynamoTableError("table.validation", `${what}: ${resource.type}: invalid field \`${path}\`: ${message}`);
}

/** The schema of `field` (or of `field.key`), `undefined` for an untyped resource's unknown field. */
function fieldSchema(resource: AnyResource, what: string, path: string): { field: string; schema?: z.ZodType } {
  const m = PATH.exec(path);
  if (!m) throw invalid(what, `invalid path \`${path}\`: a field name, or \`field.key\``);
  const field = m[1]!;
  const key = m[2];
  if (RESERVED_ATTRIBUTES.has(field) || STORED_NAMES[field] !== undefined || field === resource.ttl?.attribute) {
    throw invalid(what, `\`${field}\` is not a field of ${resource.type} the patch may change (a layout attribute)`);
  }
  if (Object.hasOwn(resource.blobFields, field)) {
    throw invalid(
      what,
      `\`${field}\` is a blob field of ${resource.type} (kept in the blob store, not the item); use update()`,
    );
  }
  const shape = resource.schema.shape as Record<string, z.ZodType>;
  const top = shape[field];
  if (top === undefined) {
    // Untyped resources (z.looseObject) accept any field; a typed one only its own.
    if ((resource.schema.def as { catchall?: unknown }).catchall !== undefined) return { field };
    throw invalid(what, `${resource.type} has no field \`${field}\``);
  }
  if (key === undefined) return { field, schema: top };
  const inner = unwrapSchema(top) as z.ZodType & {
    def: { type: string; valueType?: z.ZodType; shape?: Record<string, z.ZodType> };
  };
  if (inner.def.type === "record" && inner.def.valueType) return { field, schema: inner.def.valueType };
  if (inner.def.type === "object" && inner.def.shape) {
    const sub = inner.def.shape[key];
    if (sub === undefined) throw invalid(what, `field \`${field}\` of ${resource.type} has no key \`${key}\``);
    return { field, schema: sub };
  }
  throw invalid(what, `\`${path}\`: field \`${field}\` is not a map (z.record) or an object`);
}

/** `value` parsed by `schema` (its output, dates as ISO strings), or a `table.validation` error. */
function parseValue(
  resource: AnyResource,
  what: string,
  path: string,
  schema: z.ZodType | undefined,
  value: unknown,
): unknown {
  if (schema === undefined) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validation(resource, what, path, parsed.error.issues[0]?.message ?? "invalid");
  return parsed.data instanceof Date ? parsed.data.toISOString() : parsed.data;
}

/** A non-empty set of strings or of numbers, as DynamoDB's SS/NS. */
function memberSet(resource: AnyResource, what: string, path: string, members: unknown): Set<string> | Set<number> {
  if (typeof members === "string" || members === null || typeof members !== "object" || !(Symbol.iterator in members)) {
    throw invalid(what, `\`${path}\`: pass the members as an array or a Set`);
  }
  const list = [...(members as Iterable<unknown>)];
  if (list.length === 0) throw invalid(what, `\`${path}\`: no members given`);
  const strings = list.every((m) => typeof m === "string");
  const numbers = list.every((m) => typeof m === "number" && Number.isFinite(m));
  if (!strings && !numbers) throw validation(resource, what, path, "set members are all strings or all numbers");
  return new Set(list as never[]);
}

/**
 * Compile field-level changes to one UpdateExpression, conditional on the item existing (and on `expected`).
 * Every write also sets `updated_at` and `gsitypesk` (as simplesingletable's counters do) to `updatedAt`, so
 * a holder of an older copy sees the change and its optimistic `update` fails.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
 */
export function compilePatch(
  resource: AnyResource,
  changes: PatchChanges<never>,
  updatedAt: string,
  expected: Filter | undefined,
  what: string,
): CompiledPatch {
  if (resource.versioned) {
    throw invalid(
      what,
      `${resource.type} is versioned: every version is a whole item (v1, v2, … and the latest copy v0), so a field-level change would leave no history item; use update()`,
    );
  }
  if (resource.compress) {
    throw invalid(
      what,
      `${resource.type} is compressed: its fields live inside gzip \`data\`, where DynamoDB cannot change one; use update()`,
    );
  }
  if (typeof changes !== "object" || changes === null)
    throw invalid(what, "pass the changes as { set, remove, add, append, delete }");
  const known = new Set(["set", "remove", "add", "append", "delete"]);
  for (const key of Object.keys(changes)) {
    if (!known.has(key)) throw invalid(what, `unknown change \`${key}\`; use set, remove, add, append or delete`);
  }
  const names: Record<string, string> = { "#pk": "pk", "#updated": "updated_at", "#gsitypesk": "gsitypesk" };
  const values: Record<string, unknown> = { ":updated": updatedAt };
  const nameIds = new Map<string, string>();
  const name = (attr: string): string => {
    let id = nameIds.get(attr);
    if (id === undefined) {
      id = `#n${nameIds.size}`;
      nameIds.set(attr, id);
      names[id] = attr;
    }
    return id;
  };
  let valueCount = 0;
  const value = (v: unknown): string => {
    const id = `:v${valueCount++}`;
    values[id] = v;
    return id;
  };
  const pathExpr = (path: string): string => path.split(".").map(name).join(".");
  const sets: string[] = ["#updated = :updated", "#gsitypesk = :updated"];
  const removes: string[] = [];
  const adds: string[] = [];
  const deletes: string[] = [];
  const touched = new Set<string>();
  const seen = new Set<string>();
  const once = (path: string) => {
    // DynamoDB refuses two actions on one path (or a path and its parent) in one expression.
    const top = path.split(".")[0]!;
    if (seen.has(path) || seen.has(top) || (path === top && [...seen].some((p) => p.startsWith(`${top}.`)))) {
      throw invalid(what, `\`${path}\` is changed twice (or with its parent field) in one patch`);
    }
    seen.add(path);
  };
  const ttl = resource.ttl;
  const setTtl = (field: string, v: unknown) => {
    if (!ttl || field !== ttl.field) return;
    const seconds = ttlSeconds(v);
    if (seconds === undefined) removes.push(name(ttl.attribute));
    else sets.push(`${name(ttl.attribute)} = ${value(seconds)}`);
  };

  for (const [path, raw] of Object.entries(changes.set ?? {})) {
    const { field, schema } = fieldSchema(resource, what, path);
    once(path);
    touched.add(field);
    if (raw === undefined) throw invalid(what, `\`set.${path}\` is undefined; list the field in \`remove\` instead`);
    let v = parseValue(resource, what, path, schema, raw);
    if (v instanceof Set && v.size === 0) {
      removes.push(pathExpr(path)); // DynamoDB has no empty sets
      continue;
    }
    if (v instanceof Set && !resource.setFields.has(field)) v = [...v];
    sets.push(`${pathExpr(path)} = ${value(v)}`);
    if (path === field) setTtl(field, v);
  }
  for (const path of changes.remove ?? []) {
    const { field, schema } = fieldSchema(resource, what, path);
    once(path);
    touched.add(field);
    if (schema !== undefined && !schema.safeParse(undefined).success) {
      throw validation(resource, what, path, "a required field cannot be removed");
    }
    removes.push(pathExpr(path));
    if (path === field) setTtl(field, undefined);
  }
  for (const [path, amount] of Object.entries(changes.add ?? {})) {
    const { field, schema } = fieldSchema(resource, what, path);
    once(path);
    touched.add(field);
    if (typeof amount === "number") {
      if (!Number.isFinite(amount)) throw invalid(what, `\`add.${path}\` must be a finite number, got ${amount}`);
      if (schema !== undefined && !schema.safeParse(0).success) {
        throw validation(resource, what, path, "a number can only be added to a number field");
      }
      if (path === field) adds.push(`${name(field)} ${value(amount)}`);
      // ADD works on top-level attributes only; a map key counts with SET and if_not_exists.
      else sets.push(`${pathExpr(path)} = if_not_exists(${pathExpr(path)}, ${value(0)}) + ${value(amount)}`);
      continue;
    }
    if (path !== field || (schema !== undefined && !resource.setFields.has(field))) {
      throw validation(resource, what, path, "members can only be added to a set field (z.set(...))");
    }
    const members = memberSet(resource, what, path, amount);
    parseValue(resource, what, path, schema, members);
    adds.push(`${name(field)} ${value(members)}`);
  }
  for (const [path, elements] of Object.entries(changes.append ?? {})) {
    const { field, schema } = fieldSchema(resource, what, path);
    once(path);
    touched.add(field);
    if (!Array.isArray(elements) || elements.length === 0) {
      throw invalid(what, `\`append.${path}\` must be a non-empty array`);
    }
    if (schema !== undefined && unwrapSchema(schema).def.type !== "array") {
      throw validation(resource, what, path, "elements can only be appended to a list field (z.array(...))");
    }
    const list = parseValue(resource, what, path, schema, elements);
    sets.push(`${pathExpr(path)} = list_append(if_not_exists(${pathExpr(path)}, ${value([])}), ${value(list)})`);
  }
  for (const [path, members] of Object.entries(changes.delete ?? {})) {
    const { field, schema } = fieldSchema(resource, what, path);
    once(path);
    touched.add(field);
    if (path !== field || (schema !== undefined && !resource.setFields.has(field))) {
      throw validation(resource, what, path, "members can only be removed from a set field (z.set(...))");
    }
    deletes.push(`${name(field)} ${value(memberSet(resource, what, path, members))}`);
  }
  if (touched.size === 0) throw invalid(what, "the patch changes nothing");

  const parts = [`SET ${sets.join(", ")}`];
  if (removes.length > 0) parts.push(`REMOVE ${removes.join(", ")}`);
  if (adds.length > 0) parts.push(`ADD ${adds.join(", ")}`);
  if (deletes.length > 0) parts.push(`DELETE ${deletes.join(", ")}`);
  let conditionExpression = "attribute_exists(#pk)";
  if (expected) {
    const compiled = compileFilter(expected, (f) => STORED_NAMES[f] ?? f, "e");
    conditionExpression += ` AND (${compiled.expression})`;
    Object.assign(names, compiled.names);
    Object.assign(values, compiled.values);
  }
  return { updateExpression: parts.join(" "), conditionExpression, names, values, fields: [...touched] };
}
