import type { Readable } from "node:stream";
import type { Location } from "./location.ts";
import type { Logger } from "./logger.ts";
import type { ProgressCallback } from "./progress.ts";

/**
 * What is known about a stored object. Keys are relative to the store's location
 * (for `s3://bucket/photos/` the object `photos/a.jpg` has key `a.jpg`).
 */
export interface ObjectInfo {
  key: string;
  /** Size in bytes. */
  size: number;
  /** The ETag, with its quotes, exactly as S3 returns it (`"<md5>"` or `"<md5>-<parts>"`). */
  etag: string;
  lastModified: Date;
  /** User metadata, lower-case keys without the `x-amz-meta-` prefix. */
  metadata: Record<string, string>;
  contentType?: string;
  storageClass?: string;
  /** `AES256`, `aws:kms`, … when S3 reports server-side encryption (with SSE-KMS/SSE-C the ETag is not an MD5). */
  serverSideEncryption?: string;
}

/** One entry of a listing: an object, or (with a delimiter) a common prefix ending in the delimiter. */
export type ListEntry =
  | { kind: "object"; key: string; size: number; etag: string; lastModified: Date; storageClass?: string }
  | { kind: "prefix"; prefix: string };

/** A byte range: `{ start, end }` (inclusive, as HTTP), `{ start }` to the end, or `{ suffix }` last bytes. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface GetOptions {
  range?: ByteRange;
  /** Only return the body when the ETag differs; otherwise reject with code `notModified` (HTTP 304). */
  ifNoneMatch?: string;
  /** Only return the body when the ETag matches; otherwise reject with code `preconditionFailed`. */
  ifMatch?: string;
  signal?: AbortSignal;
}

export interface GetResult extends ObjectInfo {
  /** The body (or the requested range) as a Node stream. Consume or destroy it. */
  body: Readable;
  /** For ranged reads: the bytes returned and the full object size. */
  range?: { start: number; end: number; total: number };
}

/** A body to store: bytes, a string (UTF-8), or a Node readable stream. */
export type PutBody = Uint8Array | string | Readable;

/**
 * A local file's unread stream (`fs.createReadStream(path)`, with `contentLength`) larger than this is read from the
 * file as the S3 store sends it, never collected into memory; a smaller one is collected, so a caller with a small
 * file may as well send its bytes (the sync engine's `uploadFile` does).
 */
export const FILE_STREAM_MIN_BYTES = 1024 * 1024;

export interface PutOptions {
  metadata?: Record<string, string>;
  contentType?: string;
  /** S3 storage class, e.g. `STANDARD`, `STANDARD_IA`. Ignored by `file://`. */
  storageClass?: string;
  /** Write only if the current ETag equals this one; else code `preconditionFailed`. */
  ifMatch?: string;
  /** `"*"`: write only if no object exists at the key; else code `preconditionFailed`. */
  ifNoneMatch?: "*";
  /** Body size in bytes, when known for a stream: a large stream then skips buffering and goes up in parts. */
  contentLength?: number;
  /** Bodies larger than this go up as a multipart upload. @default 16 MiB */
  multipartThresholdBytes?: number;
  /** Bytes per multipart part. Memory use is at most `partSizeBytes * partConcurrency`. @default 8 MiB */
  partSizeBytes?: number;
  /** Parts uploaded at once for one object. @default 4 */
  partConcurrency?: number;
  /**
   * S3, a local file's stream (`fs.createReadStream(path)`) going up in parts: called with each part's MD5 once that
   * part is stored (1-based part number), computed on the read that hashes the part for its signature (no second
   * pass), so the caller can know the multipart ETag of what it sent. Not called for other bodies or stores.
   */
  onPartMd5?: (partNumber: number, md5: Buffer) => void;
  /**
   * Record the body's hex SHA-256 as the `s3kit-sha256` user metadata (replacing one in `metadata`), computed on the
   * store's own read of the body: the read that signs the request (S3) or the write (`file://`). S3 stores it for a
   * body sent in one PUT; a multipart upload sends its metadata before the body is read and goes without it.
   */
  sha256Metadata?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface PutResult {
  etag: string;
  /** Bytes stored. */
  size: number;
  /** Part size used when the body went up in parts (needed to recompute a multipart ETag). */
  partSizeBytes?: number;
}

export interface DeleteOptions {
  /** Delete only if the current ETag equals this one; else code `preconditionFailed`. */
  ifMatch?: string;
  signal?: AbortSignal;
}

export interface DeleteManyResult {
  deleted: string[];
  errors: { key: string; code: string; message: string }[];
}

export interface ListOptions {
  /** Only keys starting with this (relative to the store's location). */
  prefix?: string;
  /** Group keys by this character into `prefix` entries (`/` for folders). */
  delimiter?: string;
  /** Start listing after this key. */
  startAfter?: string;
  signal?: AbortSignal;
}

export interface CopyOptions {
  /** Replace the user metadata of the copy (otherwise it is copied from the source). */
  metadata?: Record<string, string>;
  contentType?: string;
  signal?: AbortSignal;
}

/** An incomplete multipart upload (S3 only): parts stored and billed, but no object yet. */
export interface MultipartUploadInfo {
  /** The key it would create, relative to the store's location. */
  key: string;
  uploadId: string;
  initiated: Date;
}

/**
 * The object-store port: the operations every s3kit library needs, with one meaning on S3 and on a local directory.
 * All keys are relative to the store's location; a key never escapes it.
 */
export interface ObjectStore {
  readonly location: Location;
  /** `s3://bucket/prefix/` or `file:///dir`: for messages. */
  readonly url: string;
  /** Metadata of an object, or `undefined` when there is none. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo | undefined>;
  /** The body of an object. Rejects with `notFound` when missing. */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Convenience: the whole body (or range) as bytes. */
  getBytes(key: string, options?: GetOptions): Promise<Uint8Array>;
  put(key: string, body: PutBody, options?: PutOptions): Promise<PutResult>;
  /** Delete one object. Deleting a missing key succeeds (as on S3) unless `ifMatch` is given. */
  delete(key: string, options?: DeleteOptions): Promise<void>;
  /** Delete many objects in batches of 1,000; per-key failures are returned, not thrown. */
  deleteMany(
    keys: Iterable<string> | AsyncIterable<string>,
    options?: { signal?: AbortSignal },
  ): Promise<DeleteManyResult>;
  /** All entries under a prefix, in key order, page by page. */
  list(options?: ListOptions): AsyncIterable<ListEntry>;
  /** Server-side copy within the store. */
  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<PutResult>;
  /**
   * Incomplete multipart uploads under the location (one ListMultipartUploads request per 1,000). Only stores
   * that have multipart uploads implement it (S3); a `file://` store writes through temp files instead.
   */
  listMultipartUploads?(options?: { signal?: AbortSignal }): AsyncIterable<MultipartUploadInfo>;
  /** Abort an incomplete multipart upload, freeing its parts. Aborting one that is gone succeeds. */
  abortMultipartUpload?(key: string, uploadId: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Release sockets and file handles. */
  close(): Promise<void>;
}

/** Options of {@link openObjectStore}. */
export interface OpenObjectStoreOptions {
  /** An S3 client to use (from {@link createS3Client}); one is created from the other options otherwise. */
  client?: import("@aws-sdk/client-s3").S3Client;
  /** S3 endpoint URL (MinIO, LocalStack, a test server). @default from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` */
  endpoint?: string;
  region?: string;
  profile?: string;
  /** Static credentials (tests, embedded use). @default the SDK's default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Requests in flight the caller plans; sizes the socket pool. @default 16 */
  concurrency?: number;
  /** A request whose socket stays idle this long fails (and is retried), in ms. @default 120000 */
  socketTimeoutMs?: number;
  /** SDK attempts per request (standard retry mode: throttling, 5xx, timeouts, resets). @default 5 */
  maxAttempts?: number;
  logger?: Logger;
  /**
   * `file://` only: called for each entry a listing skips because it is not a plain file or folder (a symbolic
   * link, which a file store never follows, or a FIFO, socket or device). Each is also logged as a warning.
   */
  onSkippedEntry?: (entry: SkippedEntry) => void;
  /**
   * How `put` / `delete` with `ifMatch` / `ifNoneMatch` are enforced (see `withConditionalWrites`): `native`
   * sends the headers alone; `headFirst` HEADs the key first and refuses as S3 would (then still sends them);
   * `probe` (`s3://` only) learns once with `probeConditionalPut` (cached a day) whether PutObject honours them
   * and falls back to `headFirst`, with one warning, where it does not. @default "native"
   */
  conditionalWrites?: import("./conditional-writes.ts").ConditionalWritesMode;
  /** `conditionalWrites: "probe"`: the probe's answer cache (`cacheDir`, `maxAgeMs`, `cache: false` to probe again). */
  conditionalWritesProbe?: Pick<import("./probe.ts").ProbeStoreOptions, "cache" | "cacheDir" | "maxAgeMs">;
  /** Called once with a one-line message when the store falls back to a weaker check (also logged at `warn`). */
  onWarning?: (message: string) => void;
}

/** An entry of a `file://` store that a listing skipped, with why. */
export interface SkippedEntry {
  /** The path relative to the store's root, `/`-separated (what its key would be). */
  path: string;
  reason: "symbolicLink" | "notAFile";
}
