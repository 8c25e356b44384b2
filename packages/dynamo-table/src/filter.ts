/** A compiled-to-be filter; build one with the {@link FilterBuilder} a `where` callback receives. */
export type Filter =
  | { op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "beginsWith" | "contains"; field: string; value: unknown }
  | { op: "between"; field: string; low: unknown; high: unknown }
  | { op: "in"; field: string; values: unknown[] }
  | { op: "exists" | "notExists"; field: string }
  | { op: "and" | "or"; filters: Filter[] }
  | { op: "not"; filter: Filter };

type Field<T> = Extract<keyof T, string>;
type Scalar<V> = NonNullable<V> extends readonly (infer E)[] ? E : NonNullable<V>;

/** Typed filter builder: field names are the item's fields, values their types. */
export interface FilterBuilder<T> {
  eq<K extends Field<T>>(field: K, value: T[K]): Filter;
  ne<K extends Field<T>>(field: K, value: T[K]): Filter;
  lt<K extends Field<T>>(field: K, value: NonNullable<T[K]>): Filter;
  lte<K extends Field<T>>(field: K, value: NonNullable<T[K]>): Filter;
  gt<K extends Field<T>>(field: K, value: NonNullable<T[K]>): Filter;
  gte<K extends Field<T>>(field: K, value: NonNullable<T[K]>): Filter;
  between<K extends Field<T>>(field: K, low: NonNullable<T[K]>, high: NonNullable<T[K]>): Filter;
  beginsWith<K extends Field<T>>(field: K, prefix: string): Filter;
  /** A string field contains a substring, or a list field contains an element. */
  contains<K extends Field<T>>(field: K, value: Scalar<T[K]> | string): Filter;
  in<K extends Field<T>>(field: K, values: readonly T[K][]): Filter;
  exists<K extends Field<T>>(field: K): Filter;
  notExists<K extends Field<T>>(field: K): Filter;
  and(...filters: Filter[]): Filter;
  or(...filters: Filter[]): Filter;
  not(filter: Filter): Filter;
}

/** A `where` option: a callback that builds a filter from the typed builder. */
export type Where<T> = (f: FilterBuilder<T>) => Filter;

export function filterBuilder<T>(): FilterBuilder<T> {
  const cmp =
    (op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "beginsWith" | "contains") => (field: string, value: unknown) =>
      ({ op, field, value }) as Filter;
  return {
    eq: cmp("eq"),
    ne: cmp("ne"),
    lt: cmp("lt"),
    lte: cmp("lte"),
    gt: cmp("gt"),
    gte: cmp("gte"),
    beginsWith: cmp("beginsWith"),
    contains: cmp("contains"),
    between: (field: string, low: unknown, high: unknown) => ({ op: "between", field, low, high }),
    in: (field: string, values: readonly unknown[]) => ({ op: "in", field, values: [...values] }),
    exists: (field: string) => ({ op: "exists", field }),
    notExists: (field: string) => ({ op: "notExists", field }),
    and: (...filters: Filter[]) => ({ op: "and", filters }),
    or: (...filters: Filter[]) => ({ op: "or", filters }),
    not: (filter: Filter) => ({ op: "not", filter }),
  } as unknown as FilterBuilder<T>;
}

/** A filter compiled to a DynamoDB FilterExpression with placeholder names and values (reserved words are safe). */
export interface CompiledFilter {
  expression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
}

const COMPARATORS = { eq: "=", ne: "<>", lt: "<", lte: "<=", gt: ">", gte: ">=" } as const;

/**
 * Compile a filter. `attributeName` maps a field to its stored attribute; `prefix` keeps the placeholders
 * apart from the key condition's.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeNames.html
 */
export function compileFilter(
  filter: Filter,
  attributeName: (field: string) => string = (f) => f,
  prefix = "f",
): CompiledFilter {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const nameIds = new Map<string, string>();
  let v = 0;
  const name = (field: string) => {
    const attr = attributeName(field);
    let id = nameIds.get(attr);
    if (!id) {
      id = `#${prefix}${nameIds.size}`;
      nameIds.set(attr, id);
      names[id] = attr;
    }
    return id;
  };
  const value = (x: unknown) => {
    const id = `:${prefix}${v++}`;
    values[id] = x;
    return id;
  };
  const walk = (f: Filter): string => {
    switch (f.op) {
      case "eq":
      case "ne":
      case "lt":
      case "lte":
      case "gt":
      case "gte":
        return `${name(f.field)} ${COMPARATORS[f.op]} ${value(f.value)}`;
      case "beginsWith":
        return `begins_with(${name(f.field)}, ${value(f.value)})`;
      case "contains":
        return `contains(${name(f.field)}, ${value(f.value)})`;
      case "between":
        return `${name(f.field)} BETWEEN ${value(f.low)} AND ${value(f.high)}`;
      case "in":
        if (f.values.length === 0)
          return `attribute_not_exists(${name(f.field)}) AND attribute_exists(${name(f.field)})`;
        return `${name(f.field)} IN (${f.values.map(value).join(", ")})`;
      case "exists":
        return `attribute_exists(${name(f.field)})`;
      case "notExists":
        return `attribute_not_exists(${name(f.field)})`;
      case "and":
      case "or":
        if (f.filters.length === 0) throw new TypeError(`Expected \`${f.op}()\` to get at least one filter, got none`);
        return `(${f.filters.map(walk).join(f.op === "and" ? " AND " : " OR ")})`;
      case "not":
        return `(NOT ${walk(f.filter)})`;
    }
  };
  return { expression: walk(filter), names, values };
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function order(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined; // DynamoDB: comparing different types is false
}

/** Evaluate a filter on a decoded item, with DynamoDB's semantics (used where DynamoDB cannot see the fields). */
export function matchesFilter(filter: Filter, item: Record<string, unknown>): boolean {
  switch (filter.op) {
    case "eq":
      return equal(item[filter.field], filter.value);
    case "ne":
      return !equal(item[filter.field], filter.value);
    case "lt":
    case "lte":
    case "gt":
    case "gte": {
      const c = order(item[filter.field], filter.value);
      if (c === undefined) return false;
      return filter.op === "lt" ? c < 0 : filter.op === "lte" ? c <= 0 : filter.op === "gt" ? c > 0 : c >= 0;
    }
    case "between": {
      const lo = order(item[filter.field], filter.low);
      const hi = order(item[filter.field], filter.high);
      return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
    }
    case "beginsWith": {
      const x = item[filter.field];
      return typeof x === "string" && typeof filter.value === "string" && x.startsWith(filter.value);
    }
    case "contains": {
      const x = item[filter.field];
      if (typeof x === "string") return typeof filter.value === "string" && x.includes(filter.value);
      if (Array.isArray(x)) return x.some((e) => equal(e, filter.value));
      return false;
    }
    case "in":
      return filter.values.some((v) => equal(item[filter.field], v));
    case "exists":
      return item[filter.field] !== undefined;
    case "notExists":
      return item[filter.field] === undefined;
    case "and":
      return filter.filters.every((f) => matchesFilter(f, item));
    case "or":
      return filter.filters.some((f) => matchesFilter(f, item));
    case "not":
      return !matchesFilter(filter.filter, item);
  }
}
