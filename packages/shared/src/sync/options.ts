import { z } from "zod";
import type { Logger } from "../logger.ts";
import type { DeleteManyResult, ObjectStore } from "../object-store.ts";
import { parseOptions } from "../parse-options.ts";
import type { ProgressCallback } from "../progress.ts";
import type { RemoteFileInfo } from "./compare.ts";
import { SyncError } from "./errors.ts";
import type { PlannedTransfer } from "./plan-types.ts";

/** Which way a sync goes: a local folder to a store location, or a store location to a local folder. */
export type SyncDirection = "upload" | "download";

/** How a source item is compared with the destination item at the same key. */
export type CompareMode = "size-mtime" | "size" | "checksum";

/** Options of {@link planSync}. */
export interface PlanSyncOptions {
  direction: SyncDirection;
  /** The local folder: the source of an upload, the destination of a download. */
  local: string;
  /** The store, rooted at the prefix (every key is relative to it; nothing outside it is listed or deleted). */
  store: ObjectStore;
  /** Globs of relative paths to leave out (rclone-like rules, see the README). @default [] */
  exclude?: string[];
  /** Globs of relative paths to take part; when given, every other path is left out. @default [] (all) */
  include?: string[];
  /** How to tell a changed item. @default "size-mtime" */
  compare?: CompareMode;
  /** Delete destination items that have no source item (never excluded ones). @default false */
  delete?: boolean;
  /**
   * Delete rail 3, count: refuse a plan that deletes more items than this. When given (and
   * `maxDeletePercent` is not), it replaces the share limit: the caller stated how many deletes it accepts.
   * @default no count limit (the share limit applies)
   */
  maxDelete?: number;
  /** Delete rail 3, share: refuse a plan that deletes more than this percentage of the destination's items. @default 50 */
  maxDeletePercent?: number;
  /** Delete rail 2: allow an empty source to delete every destination item. @default false */
  allowEmptySource?: boolean;
  /** Follow symbolic links in the local folder. @default false (links are counted and skipped) */
  followSymlinks?: boolean;
  /** Absolute local folders never to enter (a `file://` destination inside the source). */
  skipDirectories?: string[];
  /**
   * The state file that makes a no-change re-run cheap; `false` for none.
   * @default `<cache directory>/sync-state/<hash>.ndjson` (see `cacheDirectory`)
   */
  statePath?: string | false;
  /** The endpoint, only to tell apart the default state files of two servers. */
  endpoint?: string;
  /** Part size the caller uploads with (the local multipart ETag in `checksum` mode). @default 8 MiB */
  partSizeBytes?: number;
  /** Files hashed, or objects asked for their metadata, at once while comparing. @default 8 */
  compareConcurrency?: number;
  /**
   * The store's side as items of the sync, when they are not its objects one to one (delta-store lists
   * `x.zip.delta` as the item `x.zip` with the original size). Keys are relative to the store's location.
   * @default every object of `store.list()`, folder markers left out
   */
  list?: (options: { signal?: AbortSignal }) => AsyncIterable<RemoteFileInfo>;
  signal?: AbortSignal;
  logger?: Logger;
}

/** The outcome of a custom transfer (see {@link ApplySyncPlanOptions.transfer}). */
export interface TransferResult {
  /** The ETag of the object written (upload) or read (download). */
  etag: string;
  /** Bytes written. */
  size: number;
  /** Part size of a multipart upload. */
  partSizeBytes?: number;
}

/** What a custom transfer gets besides the item. */
export interface TransferContext {
  store: ObjectStore;
  signal?: AbortSignal;
  /** Report bytes of this item done so far. */
  onBytes: (loadedBytes: number) => void;
}

/** Options of {@link applySyncPlan}. */
export interface ApplySyncPlanOptions {
  /** The store the plan was made against. */
  store: ObjectStore;
  /** Items transferred at once. @default 16 */
  concurrency?: number;
  /** Attempts per item or delete batch (full-jitter backoff), on top of the SDK's request retries. @default 5 */
  attempts?: number;
  /** Uploads larger than this go up in parts; smaller files above 1 MiB go in one PUT streamed from the file. @default 64 MiB ({@link SYNC_MULTIPART_THRESHOLD_BYTES}) */
  multipartThresholdBytes?: number;
  /** Bytes per multipart part (raised for very large files to stay within 10,000 parts). @default 8 MiB */
  partSizeBytes?: number;
  /** Parts of one large upload in flight. @default `concurrency` shared among the large files in flight, 2–8 */
  partConcurrency?: number;
  /** S3 storage class of uploaded objects. Ignored by `file://`. @default the bucket's default */
  storageClass?: string;
  /** Content type of an uploaded key. @default `application/octet-stream` */
  contentType?: (key: string) => string;
  /**
   * Transfer one item your own way (delta-store encodes and decodes): upload reads `item.path` and writes
   * `item.key`; download reads `item.key` and must write `item.path` atomically. @default the engine's
   * verified upload or download
   */
  transfer?: (item: PlannedTransfer, context: TransferContext) => Promise<TransferResult>;
  /**
   * Uploads: delete these items of the store your own way (with `list` and `transfer`); per-key failures are
   * returned, not thrown. @default `store.deleteMany`
   */
  deleteItems?: (keys: string[], context: { store: ObjectStore; signal?: AbortSignal }) => Promise<DeleteManyResult>;
  /**
   * Uploads: incomplete multipart uploads under the prefix, for keys the filters select, that are older than
   * this are aborted before the run (leftovers of a killed run; younger ones may be another run's, in flight).
   * @default 86400000 (a day)
   */
  staleUploadAgeMs?: number;
  /** Bytes and items done so far; called often, must be cheap. */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  logger?: Logger;
}

const MiB = 1024 * 1024;

/**
 * A synced file up to this size goes up in one PUT, streamed from the file; a larger one in parts. Chosen from the
 * same-run comparison of issue 15 (c) (shared README, "One PUT per file up to 64 MiB"): 24 × 24 MiB in one PUT each
 * was 0.55× the wall time, 0.79× the client CPU and a fifth of the requests of 3 × 8 MiB parts. A sync sends many
 * files at once, so parts' parallelism matters only for a file that goes alone: the large ones (catalogs, video).
 * rclone's cutoff is 200 MiB; a failed PUT resends at most this much.
 */
export const SYNC_MULTIPART_THRESHOLD_BYTES = 64 * MiB;
const DAY_MS = 24 * 60 * 60 * 1000;
const MIN_PART = 5 * MiB;
const fn = <T>() => z.custom<T>((v) => typeof v === "function", { message: "expected a function" });
const store = z.custom<ObjectStore>(
  (v) => typeof v === "object" && v !== null && "list" in v && "put" in v && "get" in v,
  { message: "expected an ObjectStore" },
);
const common = {
  store,
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "expected an AbortSignal" }).optional(),
  logger: z
    .custom<Logger>((v) => typeof v === "object" && v !== null && "warn" in v, { message: "expected a Logger" })
    .optional(),
};
const glob = z.string().min(1, "a glob cannot be empty");

export const planOptionsSchema = z.strictObject({
  ...common,
  direction: z.enum(["upload", "download"]),
  local: z.string().min(1, "give the local folder"),
  exclude: z.array(glob).default([]),
  include: z.array(glob).default([]),
  compare: z.enum(["size-mtime", "size", "checksum"]).default("size-mtime"),
  delete: z.boolean().default(false),
  maxDelete: z.number().int().min(0).optional(),
  maxDeletePercent: z.number().min(0).max(100).optional(),
  allowEmptySource: z.boolean().default(false),
  followSymlinks: z.boolean().default(false),
  skipDirectories: z.array(z.string()).default([]),
  statePath: z.union([z.string().min(1), z.literal(false)]).optional(),
  endpoint: z.string().optional(),
  partSizeBytes: z
    .number()
    .int()
    .min(MIN_PART, "must be at least 5 MiB (S3's smallest part)")
    .default(8 * MiB),
  compareConcurrency: z.number().int().min(1).max(64).default(8),
  list: fn<NonNullable<PlanSyncOptions["list"]>>().optional(),
});

export const applyOptionsSchema = z.strictObject({
  ...common,
  concurrency: z.number().int().min(1).max(256).default(16),
  attempts: z.number().int().min(1).max(20).default(5),
  multipartThresholdBytes: z
    .number()
    .int()
    .min(MIN_PART, "must be at least 5 MiB (S3's smallest part)")
    .default(SYNC_MULTIPART_THRESHOLD_BYTES),
  partSizeBytes: z
    .number()
    .int()
    .min(MIN_PART, "must be at least 5 MiB (S3's smallest part)")
    .max(5 * 1024 * MiB)
    .default(8 * MiB),
  partConcurrency: z.number().int().min(1).max(16).optional(),
  storageClass: z
    .string()
    .regex(/^[A-Z_]+$/, "a storage class looks like STANDARD or STANDARD_IA")
    .optional(),
  contentType: fn<(key: string) => string>().optional(),
  transfer: fn<NonNullable<ApplySyncPlanOptions["transfer"]>>().optional(),
  deleteItems: fn<NonNullable<ApplySyncPlanOptions["deleteItems"]>>().optional(),
  staleUploadAgeMs: z.number().int().min(0).default(DAY_MS),
  onProgress: fn<ProgressCallback>().optional(),
});

export type ResolvedPlanOptions = z.output<typeof planOptionsSchema>;
export type ResolvedApplyOptions = z.output<typeof applyOptionsSchema>;

/** Parse options at the public boundary; one-line `sync.invalidOptions` naming the option, the value and what to do. */
export function parseSyncOptions<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  return parseOptions(schema, input, { where, error: (message) => new SyncError("sync.invalidOptions", message) });
}
