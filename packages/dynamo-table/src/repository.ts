import type { z } from "zod";
import type { AuditOptions } from "./actions/audit/audit.ts";
import type { BatchGetOptions } from "./actions/batch-get/batch-get.ts";
import type { CreateOptions } from "./actions/create/create.ts";
import type { GetOptions } from "./actions/get/get.ts";
import type { PatchChanges, PatchOptions } from "./actions/patch/patch.ts";
import type { ListOptions, Page, QueryOptions } from "./actions/query/options.ts";
import type { UpdateOptions } from "./actions/update/update.ts";
import type { GsiDefinition, Item, Resource } from "./resource.ts";
import type { Table } from "./table.ts";
import type { FieldPath, GsiNameOf, InputOf, ItemOf, PatchOf, SignalOptions } from "./types.ts";

/** The table's methods bound to one resource type. */
export interface Repository<
  R extends Resource<string, z.ZodObject, boolean, Record<string, GsiDefinition<Item<z.ZodObject, boolean>>>>,
> {
  readonly resource: R;
  create(input: InputOf<R>, options?: CreateOptions): Promise<ItemOf<R>>;
  get(id: string, options?: GetOptions): Promise<ItemOf<R> | undefined>;
  getOrThrow(id: string, options?: GetOptions): Promise<ItemOf<R>>;
  update(current: ItemOf<R>, patch: PatchOf<R>, options?: UpdateOptions): Promise<ItemOf<R>>;
  /** Read the latest copy, apply `patch`, write (one conditional write; conflicts still throw). */
  updateById(id: string, patch: PatchOf<R>, options?: UpdateOptions): Promise<ItemOf<R>>;
  batchGet(ids: Iterable<string>, options?: BatchGetOptions): Promise<Map<string, ItemOf<R>>>;
  patch(id: string, changes: PatchChanges<ItemOf<R>>, options?: PatchOptions<ItemOf<R>>): Promise<ItemOf<R>>;
  increment(id: string, path: FieldPath<ItemOf<R>>, by?: number, options?: PatchOptions<ItemOf<R>>): Promise<number>;
  delete(id: string, options?: SignalOptions & AuditOptions): Promise<boolean>;
  list(options?: ListOptions<ItemOf<R>>): Promise<Page<ItemOf<R>>>;
  iterate(options?: Omit<ListOptions<ItemOf<R>>, "cursor">): AsyncIterable<ItemOf<R>>;
  query(gsi: GsiNameOf<R>, options: QueryOptions<ItemOf<R>>): Promise<Page<ItemOf<R>>>;
  versions(id: string, options?: SignalOptions): Promise<ItemOf<R>[]>;
  restore(id: string, version: number, options?: SignalOptions & AuditOptions): Promise<ItemOf<R>>;
}

/** Bind a table and a resource: `createRepository(table, Note).get(id)`. */
// biome-ignore lint/suspicious/noExplicitAny: any resource definition
export function createRepository<R extends Resource<string, z.ZodObject, boolean, any>>(
  table: Table,
  resource: R,
): Repository<R> {
  return {
    resource,
    create: (input, options) => table.create(resource, input, options),
    get: (id, options) => table.get(resource, id, options),
    getOrThrow: (id, options) => table.getOrThrow(resource, id, options),
    update: (current, patch, options) => table.update(resource, current, patch, options),
    async updateById(id, patch, options = {}) {
      const current = await table.getOrThrow(resource, id, { consistentRead: true, signal: options.signal });
      return table.update(resource, current, patch, options);
    },
    batchGet: (ids, options) => table.batchGet(resource, ids, options),
    patch: (id, changes, options) => table.patch(resource, id, changes, options),
    increment: (id, path, by, options) => table.increment(resource, id, path, by, options),
    delete: (id, options) => table.delete(resource, id, options),
    list: (options) => table.list(resource, options),
    iterate: (options) => table.iterate(resource, options),
    query: (gsi, options) => table.query(resource, gsi as never, options),
    versions: (id, options) => table.versions(resource, id, options),
    restore: (id, version, options) => table.restore(resource, id, version, options),
  };
}
