import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  combinePartMd5s,
  createSizeCounter,
  type GetResult,
  isObjectStoreError,
  isRetryableError,
  type Logger,
  type ObjectInfo,
  type ObjectStore,
  type ProgressCallback,
  releaseBodyChunk,
  retry,
} from "@toolkit/shared";
import { isS3ObjectError, S3ObjectError } from "./errors.ts";
import type { VerifyMode } from "./options.ts";
import { BodyHasher, parseObjectMetadata, partSizeCandidates, type Verification, verifyBody } from "./verify.ts";

export interface DownloadToFileInput {
  store: ObjectStore;
  key: string;
  /** For messages: the object's URL. */
  what: string;
  /** An open, empty temp file. */
  file: FileHandle;
  ifNoneMatch?: string;
  partSizeBytes: number;
  partConcurrency: number;
  attempts: number;
  verify: VerifyMode;
  thresholdBytes: number;
  /** Part size whose multipart ETag identifies a large file locally (always computed above the threshold). */
  identityPartSize: number;
  logger: Logger;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export type DownloadToFileResult =
  | { notModified: true }
  | {
      notModified: false;
      info: ObjectInfo;
      bytes: number;
      verified: Verification;
      digest: ReturnType<BodyHasher["digest"]>;
    };

/** A body shorter than its Content-Length (a dropped connection the HTTP stack did not report). */
const truncated = (what: string, got: number, expected: number) =>
  new S3ObjectError(
    "object.network",
    `Download of ${what} was cut short (${got} of ${expected} bytes); check the network and retry.`,
  );

/**
 * Retry a part on network failures. `retry()` checks our signal first, so an `aborted` store error seen
 * here is not a cancellation of ours; it is retried like a dropped connection.
 */
const retryable = (error: unknown) =>
  isS3ObjectError(error, "object.network") || isObjectStoreError(error, "aborted") || isRetryableError(error);

const isInvalidRange = (error: unknown) =>
  isObjectStoreError(error) &&
  ((error.cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 416 ||
    (error.cause as { name?: string } | undefined)?.name === "InvalidRange");

/** The largest ranged GET of a download, and how many ranges each worker should get at least. */
const MAX_RANGE_BYTES = 64 * 1024 * 1024;
const RANGES_PER_WORKER = 4;

/** Bytes gathered before one positional `writev`: far fewer syscalls than one write per socket chunk. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Stream a body into `file` at `position`, checking its length. A body longer than `expected` (its range of
 * the object's declared size) fails as soon as the excess arrives, before it is written (`createSizeCounter`:
 * the check of `createSizeLimit` without a Transform stream in between, one stream layer less per chunk).
 * Memory: about one write batch.
 */
async function writeBody(
  body: Readable,
  file: FileHandle,
  position: number,
  expected: number,
  what: string,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
  onChunk?: (chunk: Buffer) => void,
): Promise<void> {
  let got = 0;
  const count = createSizeCounter(expected, `${what} (bytes ${position}-${position + expected - 1})`);
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batchBytes === 0) return;
    const chunks = batch;
    const at = position + got;
    batch = [];
    got += batchBytes;
    const n = batchBytes;
    batchBytes = 0;
    await file.writev(chunks, at);
    // GetObject bodies arrive in pooled buffers (shared's fast-get.ts): written, they take the next body's bytes.
    for (const chunk of chunks) releaseBodyChunk(chunk);
    onBytes(n);
  };
  try {
    // The iterator destroys the body when this loop throws.
    for await (const chunk of body) {
      signal?.throwIfAborted();
      const buffer = chunk as Buffer;
      count(buffer.length);
      onChunk?.(buffer);
      batch.push(buffer);
      batchBytes += buffer.length;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
  } catch (error) {
    onBytes(-got);
    body.destroy();
    throw error;
  }
  if (got !== expected) {
    onBytes(-got);
    throw truncated(what, got, expected);
  }
}

/**
 * Download an object into `file`. The first part comes with one (conditional) ranged GET — a 304 costs one
 * request and moves no body. As soon as its headers give the size and ETag, the remaining parts start as
 * parallel ranged GETs pinned to that ETag (`If-Match`), each retried on its own. Bodies stream straight to
 * their place in the file; finished parts are hashed in order by reading them back (page cache), so memory
 * stays at a few chunks per part in flight. Verification happens here; the caller renames the temp file only
 * when this resolves.
 */
export async function downloadToFile(input: DownloadToFileInput): Promise<DownloadToFileResult> {
  const { store, key, what, file, partSizeBytes } = input;
  // Cancels the other parts when one fails for good.
  const internal = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, internal.signal]) : internal.signal;
  let loaded = 0;
  let total: number | undefined;
  const progress = (n: number) => {
    loaded += n;
    input.onProgress?.({ loadedBytes: loaded, ...(total !== undefined ? { totalBytes: total } : {}), current: what });
  };
  const retryOptions = {
    attempts: input.attempts,
    isRetryable: retryable,
    signal,
    onRetry: ({ error, attempt }: { error: unknown; attempt: number }) =>
      input.logger.warn("s3-object: retrying a download request", { url: what, attempt, error: String(error) }),
  };

  // 1. Headers of the first part. S3 and moto answer 416 to a range on an empty object: plain GET then.
  let first: GetResult;
  try {
    first = await retry(async () => {
      try {
        return await store.get(key, {
          range: { start: 0, end: partSizeBytes - 1 },
          ...(input.ifNoneMatch ? { ifNoneMatch: input.ifNoneMatch } : {}),
          signal,
        });
      } catch (error) {
        if (!isInvalidRange(error)) throw error;
        return store.get(key, { ...(input.ifNoneMatch ? { ifNoneMatch: input.ifNoneMatch } : {}), signal });
      }
    }, retryOptions);
  } catch (error) {
    if (isObjectStoreError(error, "notModified")) return { notModified: true };
    throw error;
  }
  const size = first.range ? first.range.total : first.size;
  // The trust boundary: our metadata is parsed before a byte is written; malformed means corrupt or hostile.
  let meta: ReturnType<typeof parseObjectMetadata>;
  try {
    meta = input.verify === "none" ? {} : parseObjectMetadata(first.metadata, what);
  } catch (error) {
    first.body.destroy();
    throw error;
  }
  total = size;
  const info: ObjectInfo = {
    key: first.key,
    size,
    etag: first.etag,
    lastModified: first.lastModified,
    metadata: first.metadata,
    ...(first.contentType ? { contentType: first.contentType } : {}),
    ...(first.serverSideEncryption ? { serverSideEncryption: first.serverSideEncryption } : {}),
  };
  const big = size > input.thresholdBytes;
  // MD5s cost as much CPU as the transfer itself: compute only what verification (or a small file's state) needs.
  const hasSha256 = meta.sha256 !== undefined;
  const partSizes =
    hasSha256 || input.verify === "none" ? [] : partSizeCandidates(size, first.etag, first.metadata, what);
  if (big && !partSizes.includes(input.identityPartSize)) partSizes.push(input.identityPartSize);
  const wantMd5 = !big || (!hasSha256 && input.verify !== "none" && !first.etag.includes("-"));
  // Ranges after the first: whole multiples of the part size (so each part's MD5 can be taken as it streams in),
  // about four per worker so the last ones finish together, at most MAX_RANGE_BYTES. Fewer, larger ranges cost
  // fewer requests and less CPU per byte (1 GiB: 32 MiB ranges, 32 GETs instead of 128).
  const rangeBytes = Math.max(
    partSizeBytes,
    Math.min(
      Math.floor(MAX_RANGE_BYTES / partSizeBytes),
      Math.floor(size / (Math.max(1, input.partConcurrency) * RANGES_PER_WORKER) / partSizeBytes),
    ) * partSizeBytes,
  );
  const partCount = size === 0 ? 0 : 1 + Math.ceil(Math.max(0, size - partSizeBytes) / rangeBytes);
  // Hash each byte on the write that stores it: when the only digest needed is the multipart ETag for our own
  // part size (our uploads, aws cli's, most tools'), each part's MD5 is taken as it streams in, in any order, and
  // combined at the end. Otherwise (SHA-256, whole MD5, other part sizes) finished parts are read back in order.
  const onArrival =
    big &&
    first.range !== undefined &&
    !wantMd5 &&
    !hasSha256 &&
    partSizes.length === 1 &&
    partSizes[0] === partSizeBytes;
  const partMd5s: Buffer[] = [];
  const hasher = new BodyHasher(onArrival ? [] : partSizes, {
    md5: wantMd5 && !onArrival,
    sha256: (!big || hasSha256) && !onArrival,
  });
  /** Range 0 is the first GET's (one part); range i ≥ 1 starts at part size + (i − 1) × range size. */
  const rangeOf = (index: number) => {
    const start = index === 0 ? 0 : partSizeBytes + (index - 1) * rangeBytes;
    return { start, end: Math.min(size, start + (index === 0 ? partSizeBytes : rangeBytes)) - 1 };
  };

  // 2. In-order hashing of finished parts, read back from the file.
  const done = new Set<number>();
  let nextToHash = 0;
  let hashing: Promise<void> = Promise.resolve();
  const readBuffer = Buffer.allocUnsafe(Math.min(partSizeBytes, 4 * 1024 * 1024));
  const hashReady = async () => {
    while (done.has(nextToHash)) {
      const { start, end } = rangeOf(nextToHash);
      for (let position = start; position <= end; ) {
        const length = Math.min(readBuffer.length, end + 1 - position);
        const { bytesRead } = await file.read(readBuffer, 0, length, position);
        if (bytesRead === 0) throw truncated(what, position, size);
        hasher.update(readBuffer.subarray(0, bytesRead));
        position += bytesRead;
      }
      done.delete(nextToHash);
      nextToHash++;
    }
  };
  const finished = (index: number) => {
    if (onArrival) return;
    done.add(index);
    hashing = hashing.then(hashReady);
  };
  /**
   * Fresh MD5s for one attempt at a range (a retried range starts over): one per part of the object's multipart
   * ETag, a chunk split where a part ends. Stored only when the whole range was written.
   */
  const rangeHash = (index: number, run: (onChunk: ((chunk: Buffer) => void) | undefined) => Promise<void>) => {
    if (!onArrival) return run(undefined);
    const { start, end } = rangeOf(index);
    const digests: Buffer[] = [];
    let hash = createHash("md5");
    let at = start;
    let left = Math.min(partSizeBytes, end + 1 - start);
    const onChunk = (chunk: Buffer) => {
      for (let offset = 0; offset < chunk.length && left > 0; ) {
        const n = Math.min(left, chunk.length - offset);
        hash.update(n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
        offset += n;
        left -= n;
        at += n;
        if (left === 0) {
          digests.push(hash.digest());
          if (at <= end) {
            hash = createHash("md5");
            left = Math.min(partSizeBytes, end + 1 - at);
          }
        }
      }
    };
    return run(onChunk).then(() => {
      const first = start / partSizeBytes;
      digests.forEach((digest, i) => {
        partMd5s[first + i] = digest;
      });
    });
  };

  const fetchPart = (index: number) =>
    retry(async () => {
      const { start, end } = rangeOf(index);
      const part = await store.get(key, { range: { start, end }, ifMatch: first.etag, signal });
      await rangeHash(index, (onChunk) =>
        writeBody(part.body, file, start, end - start + 1, what, signal, progress, onChunk),
      );
    }, retryOptions);

  // 3. Part 0 from the first response (re-fetched if its body fails), the others in parallel.
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    internal.abort(error);
  };
  const firstLength = first.range ? first.range.end - first.range.start + 1 : size;
  const part0 = (async () => {
    if (partCount === 0) {
      first.body.resume();
      return;
    }
    try {
      await rangeHash(0, (onChunk) => writeBody(first.body, file, 0, firstLength, what, signal, progress, onChunk));
    } catch (error) {
      if (signal.aborted || !retryable(error)) throw error;
      input.logger.warn("s3-object: retrying a download request", { url: what, attempt: 1, error: String(error) });
      await fetchPart(0);
    }
    finished(0);
  })().catch(fail);
  let nextToStart = 1;
  const worker = async () => {
    while (failure === undefined) {
      const index = nextToStart++;
      if (index >= partCount) return;
      await fetchPart(index);
      finished(index);
    }
  };
  const workers = Array.from({ length: Math.max(0, Math.min(input.partConcurrency, partCount - 1)) }, () =>
    worker().catch(fail),
  );
  await Promise.all([part0, ...workers]);
  await hashing.catch(fail);
  if (failure !== undefined) {
    if (input.signal?.aborted) throw input.signal.reason;
    const error = failure.error;
    if (isObjectStoreError(error, "preconditionFailed")) {
      throw new S3ObjectError("object.conflict", `${what} changed while it was being downloaded; download it again.`, {
        cause: error,
      });
    }
    throw error;
  }

  const digest = hasher.digest();
  let bytes = hasher.bytes;
  if (onArrival) {
    bytes = size; // every part wrote exactly its range (writeBody checks), or the download failed above
    digest.multipart = [{ partSizeBytes, etag: combinePartMd5s(partMd5s) }];
  }
  const verified = verifyBody(input.verify, what, info, digest, bytes);
  return { notModified: false, info, bytes, verified, digest };
}
