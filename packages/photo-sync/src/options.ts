import {
  type CompareMode,
  type Logger,
  type ObjectStore,
  type ProgressCallback,
  parseOptions as parseOptionsWith,
  SYNC_MULTIPART_THRESHOLD_BYTES,
} from "@toolkit/shared";
import { z } from "zod";
import { PhotoSyncError } from "./errors.ts";

export type { CompareMode };

/** Connection options, used when the remote side is `s3://` (ignored for `file://`). */
export interface ConnectionOptions {
  /** An object store to use instead of opening one for the location (it is not closed for you). */
  store?: ObjectStore;
  /** S3 endpoint URL (MinIO, LocalStack, a test server). @default `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` */
  endpoint?: string;
  /** AWS region. @default from the environment or profile */
  region?: string;
  /** Named profile from `~/.aws/config`. @default `AWS_PROFILE` or `default` */
  profile?: string;
  /** Static credentials. @default the SDK's default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Where diagnostics go. @default silent */
  logger?: Logger;
}

/** The filter, compare and delete options a backup and a restore share. */
export interface CommonSyncOptions extends ConnectionOptions {
  /** Globs of relative paths to leave out, added to the default excludes (see the shared README for the rules). @default [] */
  exclude?: string[];
  /** Globs of relative paths to take part; when given, every other file is left out. @default [] (all) */
  include?: string[];
  /** Apply the Lightroom-friendly default excludes (`*.lrdata/**`, `*.lrcat-wal`, …). @default true */
  defaultExcludes?: boolean;
  /** How to tell a changed file. @default "size-mtime" */
  compare?: CompareMode;
  /** Refuse a plan that deletes more than this many items (when given alone, it replaces the share limit). @default none */
  maxDelete?: number;
  /** Refuse a plan that deletes more than this percentage of the destination's items. @default 50 */
  maxDeletePercent?: number;
  /** Let an empty source delete every destination item. @default false */
  allowEmptySource?: boolean;
  /**
   * The local state file that makes a no-change re-run cheap; `false` for none.
   * @default a file under the platform's cache folder (`~/.cache/s3kit/sync-state`, `~/Library/Caches/s3kit/…`, `%LOCALAPPDATA%\s3kit\Cache\…`)
   */
  statePath?: string | false;
  /** Files hashed, or objects asked for their metadata, at once while comparing. @default 8 */
  hashConcurrency?: number;
  signal?: AbortSignal;
}

/** Options of {@link planSync}. */
export interface PlanSyncOptions extends CommonSyncOptions {
  /** The local directory to back up. */
  source: string;
  /** Where to: `s3://bucket/prefix`, `file:///abs/dir`, or a plain local path. The prefix is a folder. */
  destination: string;
  /** Delete objects under the prefix that have no local file (never excluded paths). @default false */
  deleteOrphans?: boolean;
  /** Follow symbolic links to files and folders. @default false (links are counted and skipped) */
  followSymlinks?: boolean;
  /**
   * Files larger than this go up as a multipart upload; smaller ones above 1 MiB in one PUT streamed from the file.
   * @default 64 MiB (`SYNC_MULTIPART_THRESHOLD_BYTES`)
   */
  multipartThresholdBytes?: number;
  /** Bytes per multipart part (raised for very large files to stay within 10,000 parts). @default 8 MiB */
  partSizeBytes?: number;
}

/** Options of {@link applyPlan}. */
export interface ApplyPlanOptions extends ConnectionOptions {
  /** Files transferred at once. Memory is about `concurrency × 1 MiB` for uploads (larger files are streamed). @default 16 */
  concurrency?: number;
  /** S3 storage class of new objects, e.g. `STANDARD_IA`, `GLACIER_IR`. Ignored by `file://`. @default the bucket's default */
  storageClass?: string;
  /**
   * Parts of one large (multipart) file uploaded at once (each streamed from the file, about 1.5 MiB of buffers);
   * at most `concurrency / 4` (1–4) large files go at once.
   * @default `concurrency` shared among the large files in flight, between 2 and 8
   */
  partConcurrency?: number;
  /** Attempts per file or delete batch (full-jitter backoff), on top of the SDK's own request retries. @default 5 */
  attempts?: number;
  /** Files larger than this go up as a multipart upload. @default the plan's, else 64 MiB */
  multipartThresholdBytes?: number;
  /** Bytes per multipart part. @default the plan's, else 8 MiB */
  partSizeBytes?: number;
  /**
   * Incomplete multipart uploads under the prefix older than this (leftovers of a killed run) are aborted
   * before the uploads start; younger ones may be another run's, still in flight. @default a day
   */
  staleUploadAgeMs?: number;
  /** Bytes and files done so far; called often, must be cheap. */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Options of {@link syncDirectory}: plan and apply in one call. */
export interface SyncDirectoryOptions
  extends PlanSyncOptions,
    Omit<ApplyPlanOptions, keyof ConnectionOptions | "multipartThresholdBytes" | "partSizeBytes"> {
  /** Only plan: change nothing, return the plan with the summary. @default false */
  dryRun?: boolean;
}

/** Options of {@link restoreDirectory}. */
export interface RestoreDirectoryOptions extends CommonSyncOptions {
  /** The backup: `s3://bucket/prefix` or `file:///abs/dir`. */
  source: string;
  /** The local folder to restore into (created when missing). */
  destination: string;
  /** Delete local files that are not in the backup (never excluded paths). @default false */
  deleteExtraneous?: boolean;
  /** Files downloaded at once. @default 16 */
  concurrency?: number;
  /** Attempts per file (full-jitter backoff), on top of the SDK's own request retries. @default 5 */
  attempts?: number;
  /** Only plan: change nothing, return the plan with the summary. @default false */
  dryRun?: boolean;
  /** Bytes and files done so far; called often, must be cheap. */
  onProgress?: ProgressCallback;
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;

const fn = <T>() => z.custom<T>((v) => typeof v === "function", { message: "expected a function" });
const connection = {
  store: z
    .custom<ObjectStore>((v) => typeof v === "object" && v !== null && "list" in v && "put" in v, {
      message: "expected an ObjectStore",
    })
    .optional(),
  endpoint: z.string().optional(),
  region: z.string().optional(),
  profile: z.string().optional(),
  credentials: z
    .object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional() })
    .optional(),
  logger: z
    .custom<Logger>((v) => typeof v === "object" && v !== null && "warn" in v, { message: "expected a Logger" })
    .optional(),
};
const signal = z
  .custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "expected an AbortSignal" })
  .optional();
const glob = z.string().min(1, "a glob cannot be empty");
const common = {
  ...connection,
  exclude: z.array(glob).default([]),
  include: z.array(glob).default([]),
  defaultExcludes: z.boolean().default(true),
  compare: z.enum(["size-mtime", "size", "checksum"]).default("size-mtime"),
  maxDelete: z.number().int().min(0).optional(),
  maxDeletePercent: z.number().min(0).max(100).optional(),
  allowEmptySource: z.boolean().default(false),
  statePath: z.union([z.string().min(1), z.literal(false)]).optional(),
  hashConcurrency: z.number().int().min(1).max(64).default(8),
  signal,
};
const partSize = z.number().int().min(MIN_PART, "must be at least 5 MiB (S3's smallest part)");

export const planOptionsSchema = z.strictObject({
  ...common,
  source: z.string().min(1, "give the local directory to back up"),
  destination: z.string().min(1, "give s3://bucket/prefix or file:///dir"),
  deleteOrphans: z.boolean().default(false),
  followSymlinks: z.boolean().default(false),
  multipartThresholdBytes: partSize.default(SYNC_MULTIPART_THRESHOLD_BYTES),
  partSizeBytes: partSize.max(5 * 1024 * MiB).default(8 * MiB),
});

export const applyOptionsSchema = z.strictObject({
  ...connection,
  concurrency: z.number().int().min(1).max(256).default(16),
  storageClass: z
    .string()
    .regex(/^[A-Z_]+$/, "a storage class looks like STANDARD or STANDARD_IA")
    .optional(),
  partConcurrency: z.number().int().min(1).max(16).optional(),
  attempts: z.number().int().min(1).max(20).default(5),
  multipartThresholdBytes: partSize.optional(),
  partSizeBytes: partSize.max(5 * 1024 * MiB).optional(),
  staleUploadAgeMs: z.number().int().min(0).optional(),
  onProgress: fn<ProgressCallback>().optional(),
  signal,
});

export const restoreOptionsSchema = z.strictObject({
  ...common,
  source: z.string().min(1, "give the backup: s3://bucket/prefix or file:///dir"),
  destination: z.string().min(1, "give the local folder to restore into"),
  deleteExtraneous: z.boolean().default(false),
  concurrency: z.number().int().min(1).max(256).default(16),
  attempts: z.number().int().min(1).max(20).default(5),
  dryRun: z.boolean().default(false),
  onProgress: fn<ProgressCallback>().optional(),
});

export type ResolvedPlanOptions = z.output<typeof planOptionsSchema>;
export type ResolvedApplyOptions = z.output<typeof applyOptionsSchema>;
export type ResolvedRestoreOptions = z.output<typeof restoreOptionsSchema>;

/** Parse options at the public boundary; one-line `photoSync.invalidOptions` naming the option, the value and what to do. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  return parseOptionsWith(schema, input, {
    where,
    error: (message) => new PhotoSyncError("photoSync.invalidOptions", message),
  });
}
