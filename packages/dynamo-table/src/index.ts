export type { AuditEntry, AuditLogOptions, AuditOptions } from "./actions/audit/audit.ts";
export type { BatchGetOptions } from "./actions/batch-get/batch-get.ts";
export { MAX_BATCH_GET_KEYS } from "./actions/batch-get/batch-get.ts";
export type { ReadBlobOptions } from "./actions/blobs/blobs.ts";
export type { CreateOptions } from "./actions/create/create.ts";
export type { GetOptions } from "./actions/get/get.ts";
export { MAX_BATCH_WRITE_ITEMS } from "./actions/history/history.ts";
export type { Expected, PatchChanges, PatchOptions } from "./actions/patch/patch.ts";
export type { ListOptions, Page, QueryOptions, SortKeyCondition } from "./actions/query/options.ts";
export { MAX_PAGE_LIMIT } from "./actions/query/run-query.ts";
export type { TransactionBuilder, TransactionResult } from "./actions/transaction/transaction.ts";
export { MAX_TRANSACTION_ACTIONS } from "./actions/transaction/transaction.ts";
export type { UpdateOptions } from "./actions/update/update.ts";
export type { InvalidItem } from "./codec.ts";
export { MAX_ITEM_SIZE_BYTES } from "./codec.ts";
export type { EnsureTableOptions, EnsureTableResult } from "./ensure-table.ts";
export type { DynamoTableErrorCode } from "./errors.ts";
export { DynamoTableError, isDynamoTableError } from "./errors.ts";
export type { Filter, FilterBuilder, Where } from "./filter.ts";
export type { Repository } from "./repository.ts";
export { createRepository } from "./repository.ts";
export type {
  AuditConfig,
  BaseFields,
  BlobFieldOptions,
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
export type { CreateTableOptions, Table } from "./table.ts";
export { createTable } from "./table.ts";
export type { FieldPath, GsiNameOf, InputOf, ItemOf, PatchOf, SignalOptions } from "./types.ts";
