export type { ObjectAddress } from "./address.ts";
export { defaultCacheDir, parseObjectUrl } from "./address.ts";
export type { S3ObjectErrorCode } from "./errors.ts";
export { isS3ObjectError, S3ObjectError } from "./errors.ts";
export type { BatchItem, BatchResult, PrefixSyncOptions, PrefixSyncResult } from "./manager.ts";
export { S3FileManager } from "./manager.ts";
export type { ConnectionOptions, S3FileManagerOptions, S3FileOptions, VerifyMode } from "./options.ts";
export type {
  DownloadOptions,
  DownloadResult,
  OpenMode,
  S3FileHandle,
  StatusResult,
  SyncStatus,
  UploadOptions,
  UploadResult,
} from "./s3-file.ts";
export { S3File } from "./s3-file.ts";
export type { Verification } from "./verify.ts";
