import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  isObjectStoreError,
  isRetryableError,
  type Logger,
  type ObjectInfo,
  type ObjectStore,
  type ProgressCallback,
  retry,
} from "@toolkit/shared";
import { isS3ObjectError, S3ObjectError } from "./errors.ts";
import type { VerifyMode } from "./options.ts";
import { BodyHasher, partSizeCandidates, type Verification, verifyBody } from "./verify.ts";

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
  /** Also compute the multipart ETag for this part size (cached for a later upload). */
  extraPartSize?: number;
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
      requests: number;
    };

/** A body shorter than its Content-Length (a dropped connection the HTTP stack did not report). */
const truncated = (what: string, got: number, expected: number) =>
  new S3ObjectError(
    "object.network",
    `Download of ${what} was cut short (${got} of ${expected} bytes); check the network and retry.`,
  );

/**
 * Retry a part on network failures. `retry()` checks our signal first, so an `aborted` store error seen
 * here is the SDK naming a reset socket `TimeoutError`, not a cancellation.
 */
const retryable = (error: unknown) =>
  isS3ObjectError(error, "object.network") || isObjectStoreError(error, "aborted") || isRetryableError(error);

async function readExactly(
  body: Readable,
  expected: number,
  what: string,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of body) {
      signal?.throwIfAborted();
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      got += buffer.length;
      onBytes(buffer.length);
      if (got > expected) throw truncated(what, got, expected);
    }
  } catch (error) {
    onBytes(-got);
    body.destroy();
    throw error;
  }
  if (got !== expected) {
    onBytes(-got);
    throw truncated(what, got, expected);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
}

const isInvalidRange = (error: unknown) =>
  isObjectStoreError(error) &&
  ((error.cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 416 ||
    (error.cause as { name?: string } | undefined)?.name === "InvalidRange");

/**
 * Download an object into `file`: the first part with one (conditional) ranged GET — a 304 costs one request
 * and moves no body — then the remaining parts as parallel ranged GETs pinned to the first response's ETag
 * (`If-Match`), each retried on its own. Parts are hashed in order as they land, so memory stays below
 * `2 * partConcurrency * partSizeBytes`. Verification happens here; the caller renames the temp file only
 * when this resolves.
 */
export async function downloadToFile(input: DownloadToFileInput): Promise<DownloadToFileResult> {
  const { store, key, what, file, partSizeBytes, signal } = input;
  let loaded = 0;
  let total: number | undefined;
  let requests = 0;
  const progress = (n: number) => {
    loaded += n;
    input.onProgress?.({ loadedBytes: loaded, ...(total !== undefined ? { totalBytes: total } : {}), current: what });
  };
  const retryOptions = {
    attempts: input.attempts,
    isRetryable: retryable,
    ...(signal ? { signal } : {}),
    onRetry: ({ error, attempt }: { error: unknown; attempt: number }) =>
      input.logger.warn("s3-object: retrying a download part", { url: what, attempt, error: String(error) }),
  };

  // 1. The first part. Moto and S3 answer 416 to a range on an empty object: fall back to a plain GET.
  const first = await retry(async () => {
    let response: Awaited<ReturnType<ObjectStore["get"]>>;
    requests++;
    try {
      response = await store.get(key, {
        range: { start: 0, end: partSizeBytes - 1 },
        ...(input.ifNoneMatch ? { ifNoneMatch: input.ifNoneMatch } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (!isInvalidRange(error)) throw error;
      requests++;
      response = await store.get(key, {
        ...(input.ifNoneMatch ? { ifNoneMatch: input.ifNoneMatch } : {}),
        ...(signal ? { signal } : {}),
      });
    }
    const size = response.range ? response.range.total : response.size;
    total = size;
    const length = response.range ? response.range.end - response.range.start + 1 : size;
    const body = await readExactly(response.body, length, what, signal, progress);
    return { response, size, body };
  }, retryOptions).catch((error: unknown) => {
    if (isObjectStoreError(error, "notModified")) return undefined;
    throw error;
  });
  if (first === undefined) return { notModified: true };

  const { response, size } = first;
  const info: ObjectInfo = { ...response, size };
  const partSizes = partSizeCandidates(size, response.etag, response.metadata);
  if (input.extraPartSize !== undefined && !partSizes.includes(input.extraPartSize)) {
    partSizes.push(input.extraPartSize);
  }
  const hasher = new BodyHasher(partSizes);
  hasher.update(first.body);
  await file.write(first.body, 0, first.body.length, 0);

  // 2. The other parts, in parallel, hashed in order through a bounded window.
  const partCount = Math.max(1, Math.ceil(size / partSizeBytes));
  if (partCount > 1) {
    const window = 2 * input.partConcurrency;
    const ready = new Map<number, Buffer>();
    let nextToHash = 1;
    let nextToStart = 1;
    const waiters: (() => void)[] = [];
    const wakeAll = () => {
      for (const w of waiters.splice(0)) w();
    };
    let failed: unknown;
    const waitForWindow = async (index: number) => {
      while (index >= nextToHash + window && failed === undefined) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    const worker = async () => {
      while (failed === undefined) {
        const index = nextToStart++;
        if (index >= partCount) return;
        await waitForWindow(index);
        if (failed !== undefined) return;
        const start = index * partSizeBytes;
        const end = Math.min(size, start + partSizeBytes) - 1;
        const buffer = await retry(async () => {
          requests++;
          const part = await store.get(key, {
            range: { start, end },
            ifMatch: response.etag,
            ...(signal ? { signal } : {}),
          });
          return readExactly(part.body, end - start + 1, what, signal, progress);
        }, retryOptions);
        await file.write(buffer, 0, buffer.length, start);
        ready.set(index, buffer);
        while (ready.has(nextToHash)) {
          hasher.update(ready.get(nextToHash)!);
          ready.delete(nextToHash);
          nextToHash++;
        }
        wakeAll();
      }
    };
    const workers = Array.from({ length: Math.min(input.partConcurrency, partCount - 1) }, () =>
      worker().catch((error: unknown) => {
        failed ??= error;
        wakeAll();
      }),
    );
    await Promise.all(workers);
    if (failed !== undefined) {
      if (isObjectStoreError(failed, "preconditionFailed")) {
        throw new S3ObjectError(
          "object.conflict",
          `${what} changed while it was being downloaded; download it again.`,
          { cause: failed },
        );
      }
      throw failed;
    }
  }

  const digest = hasher.digest();
  const verified = verifyBody(input.verify, what, info, digest, hasher.bytes);
  return { notModified: false, info, bytes: hasher.bytes, verified, digest, requests };
}
