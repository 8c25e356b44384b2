export type {
  DeletePrefixOptions,
  DeletePrefixResult,
  DeleteResult,
  DeltaListEntry,
  DeltaStore,
  EngineStatus,
  GetOptions,
  GetResult,
  ListedFile,
  ListedFolder,
  ListOptions,
  PutOptions,
  PutResult,
  StatsResult,
  VerifyResult,
} from "./delta-store.ts";
export { createDeltaStore, DELTA_SUFFIX, REFERENCE_NAME } from "./delta-store.ts";
export type { AutoEngines, EngineDescription } from "./engines/describe.ts";
export { describeEngines } from "./engines/describe.ts";
export type { DeltaErrorCode } from "./errors.ts";
export { DeltaError, isDeltaError } from "./errors.ts";
export type { EngineName } from "./metadata.ts";
export { readMeta } from "./metadata.ts";
export type { DeltaStoreOptions, EngineChoice } from "./options.ts";
export { DEFAULT_DELTA_EXTENSIONS } from "./options.ts";
export type { SyncFilter } from "./path-filter.ts";
export { createPathFilter } from "./path-filter.ts";
export type { ReferenceCacheOptions } from "./reference-cache.ts";
export { defaultCacheDir } from "./reference-cache.ts";
export type { SyncOptions, SyncResult } from "./sync.ts";
