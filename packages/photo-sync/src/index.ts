// The plan and summary types, and the metadata keys, are the shared sync engine's.
export type { PlannedDelete, PlannedSkip, PlannedTransfer, SyncFailure, SyncPlan, SyncSummary } from "@toolkit/shared";
export { META_MTIME, META_PART_SIZE, META_SHA256 } from "@toolkit/shared";
export type { BackupPlan, SyncResult } from "./backup.ts";
export { applyPlan, planSync, syncDirectory } from "./backup.ts";
export { contentTypeFor } from "./content-type.ts";
export { DEFAULT_EXCLUDES } from "./defaults.ts";
export type { PhotoSyncErrorCode } from "./errors.ts";
export { isPhotoSyncError, PhotoSyncError } from "./errors.ts";
export type {
  ApplyPlanOptions,
  CommonSyncOptions,
  CompareMode,
  ConnectionOptions,
  PlanSyncOptions,
  RestoreDirectoryOptions,
  SyncDirectoryOptions,
} from "./options.ts";
export type { RestoreResult } from "./restore.ts";
export { restoreDirectory } from "./restore.ts";
