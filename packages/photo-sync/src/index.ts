export type { SyncFailure, SyncSummary } from "./apply.ts";
export { applyPlan } from "./apply.ts";
export { contentTypeFor } from "./content-type.ts";
export type { PhotoSyncErrorCode } from "./errors.ts";
export { isPhotoSyncError, PhotoSyncError } from "./errors.ts";
export type { PathFilter } from "./filter.ts";
export { createPathFilter, DEFAULT_EXCLUDES } from "./filter.ts";
export type {
  ApplyPlanOptions,
  CompareMode,
  ConnectionOptions,
  PlanSyncOptions,
  SyncDirectoryOptions,
} from "./options.ts";
export type { PlannedDelete, PlannedSkip, PlannedUpload, PlanTotals, SyncPlan, UploadReason } from "./plan.ts";
export { META_MTIME, META_PART_SIZE, META_SHA256, planSync } from "./plan.ts";
export type { LocalFile, ScanError } from "./scan.ts";
export { defaultStatePath } from "./state.ts";
export type { SyncResult } from "./sync.ts";
export { syncDirectory } from "./sync.ts";
