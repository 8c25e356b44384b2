export type { ClientOptions } from "./clients.ts";
export {
  createDynamoDbClient,
  createS3Client,
  redactUrlUserInfo,
  resolveEndpoint,
  stripEndpointUserInfo,
} from "./clients.ts";
export type { Limit } from "./concurrency.ts";
export { createLimit, forEachConcurrent } from "./concurrency.ts";
export type {
  ConditionalWritesMode,
  ConditionalWritesOptions,
  ConditionalWritesProbeOptions,
} from "./conditional-writes.ts";
export { checkConditionWithHead, conditionalWritesWarning, withConditionalWrites } from "./conditional-writes.ts";
export type { ObjectStoreErrorCode } from "./errors.ts";
export { abortReason, isAbortError, isObjectStoreError, ObjectStoreError } from "./errors.ts";
export { BODY_CHUNK_BYTES, releaseBodyChunk } from "./fast-get.ts";
export {
  combinePartMd5s,
  etagPartCount,
  hashBytes,
  MAX_PARTS,
  MIN_PART_SIZE_BYTES,
  MultipartEtagHasher,
  md5File,
  multipartEtag,
  sha256File,
  unquoteEtag,
} from "./hashing.ts";
export type { Location } from "./location.ts";
export { formatLocation, parseLocation, parseLocationOrPath } from "./location.ts";
export type { Logger } from "./logger.ts";
export { silentLogger } from "./logger.ts";
export type {
  ByteRange,
  CopyOptions,
  DeleteManyResult,
  DeleteOptions,
  GetOptions,
  GetResult,
  ListEntry,
  ListOptions,
  MultipartUploadInfo,
  ObjectInfo,
  ObjectStore,
  OpenObjectStoreOptions,
  PutBody,
  PutOptions,
  PutResult,
  SkippedEntry,
} from "./object-store.ts";
export { openObjectStore, validateKey } from "./open-object-store.ts";
export type { ParseOptionsOptions } from "./parse-options.ts";
export { parseOptions } from "./parse-options.ts";
export type {
  ChecksumName,
  ChecksumProbe,
  ConditionalProbe,
  ConditionalPutProbe,
  ConditionalResult,
  ProbeStoreOptions,
  StoreProbe,
} from "./probe.ts";
export { PROBED_CHECKSUMS, probeConditionalPut, probeStore } from "./probe.ts";
export type { Progress, ProgressCallback } from "./progress.ts";
export type { RetryOptions } from "./retry.ts";
export { isRetryableError, retry } from "./retry.ts";
export type {
  ApplySyncPlanOptions,
  CacheDirectoryOptions,
  CompareMode,
  DeleteBlock,
  DeleteRailsInput,
  DownloadFileOptions,
  DownloadResult,
  LocalFile,
  LocalFileInfo,
  LocalHashes,
  ParsedSyncMetadata,
  PathFilter,
  PathRules,
  PlannedDelete,
  PlannedSkip,
  PlannedTransfer,
  PlanSyncOptions,
  PlanTotals,
  RemoteFileInfo,
  ScanError,
  ScanOptions,
  ScanResult,
  StateEntry,
  StateMeta,
  SyncDirection,
  SyncErrorCode,
  SyncFailure,
  SyncPlan,
  SyncSummary,
  TransferContext,
  TransferReason,
  TransferResult,
  UploadFileOptions,
  UploadFileResult,
  Verification,
} from "./sync/index.ts";
export {
  applySyncPlan,
  cacheDirectory,
  checkDeleteRails,
  checkPlanRails,
  createPathFilter,
  DEFAULT_MAX_DELETE_PERCENT,
  defaultStatePath,
  downloadFile,
  hashLocalFile,
  isInsideFolder,
  isPartialDownload,
  isSyncError,
  localPathOf,
  META_MTIME,
  META_PART_SIZE,
  META_SHA256,
  parseSyncMetadata,
  partialPathFor,
  partSizeFor,
  planSync,
  removeLeftoverPartials,
  SYNC_MULTIPART_THRESHOLD_BYTES,
  SyncError,
  SyncState,
  scanLocalTree,
  summaryOf,
  syncMetadata,
  uploadFile,
} from "./sync/index.ts";
export type { KeyToLocalPathOptions, SafeRelativePath, Sha256Hex } from "./trust/remote-input.ts";
export {
  createSizeCounter,
  createSizeLimit,
  isSha256Hex,
  keyToLocalPath,
  parseRemote,
  parseSha256Hex,
  parseSize,
} from "./trust/remote-input.ts";
