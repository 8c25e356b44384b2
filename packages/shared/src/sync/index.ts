export { applySyncPlan, summaryOf } from "./apply.ts";
export type { CacheDirectoryOptions } from "./cache-dir.ts";
export { cacheDirectory } from "./cache-dir.ts";
export type { LocalFileInfo, RemoteFileInfo } from "./compare.ts";
export type { DownloadFileOptions, DownloadResult, Verification } from "./download-file.ts";
export { downloadFile } from "./download-file.ts";
export type { SyncErrorCode } from "./errors.ts";
export { isSyncError, SyncError } from "./errors.ts";
export type { PathFilter } from "./filter.ts";
export { createPathFilter } from "./filter.ts";
export type { LocalHashes } from "./local-hash.ts";
export { hashLocalFile, partSizeFor } from "./local-hash.ts";
export type { PathRules } from "./local-paths.ts";
export { isInsideFolder, localPathOf } from "./local-paths.ts";
export type { LocalFile, ScanError, ScanOptions, ScanResult } from "./local-scan.ts";
export { scanLocalTree } from "./local-scan.ts";
export type { ParsedSyncMetadata } from "./metadata.ts";
export { META_MTIME, META_PART_SIZE, META_SHA256, parseSyncMetadata, syncMetadata } from "./metadata.ts";
export type {
  ApplySyncPlanOptions,
  CompareMode,
  PlanSyncOptions,
  SyncDirection,
  TransferContext,
  TransferResult,
} from "./options.ts";
export { SYNC_MULTIPART_THRESHOLD_BYTES } from "./options.ts";
export { isPartialDownload, partialPathFor, removeLeftoverPartials } from "./partial-files.ts";
export { planSync } from "./plan.ts";
export type {
  DeleteBlock,
  PlannedDelete,
  PlannedSkip,
  PlannedTransfer,
  PlanTotals,
  SyncPlan,
  TransferReason,
} from "./plan-types.ts";
export type { DeleteRailsInput } from "./rails.ts";
export { checkDeleteRails, checkPlanRails, DEFAULT_MAX_DELETE_PERCENT } from "./rails.ts";
export type { StateEntry, StateMeta } from "./state.ts";
export { defaultStatePath, SyncState } from "./state.ts";
export type { SyncFailure, SyncSummary } from "./summary.ts";
export type { UploadFileOptions, UploadFileResult } from "./upload-file.ts";
export { uploadFile } from "./upload-file.ts";
