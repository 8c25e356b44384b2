export type { BatchGetOptions } from "./actions/batch-get/batch-get.ts";
export { MAX_BATCH_GET_KEYS } from "./actions/batch-get/batch-get.ts";
export type { Expected, PatchChanges, PatchOptions } from "./actions/patch/patch.ts";
export type { InvalidItem } from "./codec.ts";
export { MAX_ITEM_SIZE_BYTES } from "./codec.ts";
export type { EnsureTableOptions, EnsureTableResult } from "./ensure-table.ts";
export type { DynamoTableErrorCode } from "./errors.ts";
export { DynamoTableError, isDynamoTableError } from "./errors.ts";
export type { Filter, FilterBuilder, Where } from "./filter.ts";
export type { Repository } from "./repository.ts";
export { createRepository } from "./repository.ts";
export type {
  BaseFields,
  GsiDefinition,
  Item,
  ItemInput,
  Resource,
  ResourceOptions,
  SingletonOptions,
  TtlDefinition,
  UntypedSchema,
} from "./resource.ts";
export { defineResource, defineSingleton, defineUntypedResource } from "./resource.ts";
export type {
  CreateOptions,
  CreateTableOptions,
  FieldPath,
  GetOptions,
  GsiNameOf,
  InputOf,
  ItemOf,
  ListOptions,
  Page,
  PatchOf,
  QueryOptions,
  SignalOptions,
  SortKeyCondition,
  Table,
  TransactionBuilder,
  TransactionResult,
  UpdateOptions,
} from "./table.ts";
export { createTable, MAX_BATCH_WRITE_ITEMS, MAX_PAGE_LIMIT, MAX_TRANSACTION_ACTIONS } from "./table.ts";
