import { createHash } from "node:crypto";
import { close, createReadStream, fstat, open, read, type Stats } from "node:fs";
import { FILE_STREAM_MIN_BYTES, type ObjectStore, type PutOptions, type PutResult } from "../object-store.ts";
import { partSizeFor } from "./local-hash.ts";
import { syncMetadata } from "./metadata.ts";

/** Options of {@link uploadFile}. */
export interface UploadFileOptions {
  /** Files larger than this go up in parts (streamed). */
  multipartThresholdBytes: number;
  partSizeBytes: number;
  partConcurrency: number;
  contentType: string;
  storageClass?: string | undefined;
  /** Hex SHA-256 computed by the plan, stored when the file is still the one hashed. */
  sha256?: string | undefined;
  /** size and mtime the plan saw (the SHA-256 above belongs to them). */
  planned?: { size: number; mtimeMs: number } | undefined;
  signal?: AbortSignal | undefined;
  onBytes?: (loadedBytes: number) => void;
}

const call = <T>(fn: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));

/** The file's size and mtime as it is opened (one `open` and one `fstat`, not a `stat` of the path first). */
async function openFile(path: string): Promise<{ fd: number; stats: Stats }> {
  const fd = await call<number>((done) => open(path, "r", done));
  try {
    return { fd, stats: await call<Stats>((done) => fstat(fd, done)) };
  } catch (error) {
    await closeFile(fd);
    throw error;
  }
}

const closeFile = (fd: number) => new Promise<void>((resolve) => close(fd, () => resolve()));

/**
 * The whole of an open file of `size` bytes, in one buffer: reads until end of file into `size + 1` bytes, so a
 * file that grew or shrank since its `fstat` is `ECHANGED`. Per small file that is open, fstat, read, close:
 * `stat` + `readFile` made six file-system calls (readFile reads again to find the end).
 */
async function readWhole(fd: number, size: number, signal: AbortSignal | undefined): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(size + 1);
  let filled = 0;
  while (filled < buffer.length) {
    signal?.throwIfAborted();
    const n = await call<number>((done) => read(fd, buffer, filled, buffer.length - filled, filled, done));
    if (n === 0) break;
    filled += n;
  }
  if (filled !== size) throw Object.assign(new Error("the file changed while it was read"), { code: "ECHANGED" });
  return buffer.subarray(0, size);
}

/** The file as uploaded. */
export interface UploadFileResult extends PutResult {
  mtimeMs: number;
}

/**
 * Upload one local file with the sync metadata (`mtime`, `s3kit-part-size`, `s3kit-sha256`). A file up to 1 MiB
 * is read whole, hashed (SHA-256 stored, so a restore can verify it) and sent in one replayable PUT; a larger one
 * up to the threshold goes in one PUT streamed from the file (the store hashes it and stores the SHA-256); above
 * the threshold it is streamed in parts. A file that changes while read fails with `ECHANGED`.
 */
export async function uploadFile(
  store: ObjectStore,
  key: string,
  path: string,
  options: UploadFileOptions,
): Promise<UploadFileResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  // The file may have changed since the plan: upload what is there now, and record that.
  const { fd, stats } = await openFile(path);
  const size = stats.size;
  const mtimeMs = stats.mtimeMs;
  const multipart = size > options.multipartThresholdBytes;
  // A small file is read whole from this descriptor; a larger one is streamed from its path: in one PUT up to the
  // threshold (the store hashes it on the read that signs the request), in parts above.
  // Up to FILE_STREAM_MIN_BYTES read whole and sent from memory; larger streamed (16 files in flight × a 16 MiB
  // threshold held up to 256 MiB before).
  const streamed = multipart || size > FILE_STREAM_MIN_BYTES;
  let bytes: Buffer | undefined;
  try {
    if (!streamed) bytes = await readWhole(fd, size, signal);
  } finally {
    await closeFile(fd);
  }
  const partSizeBytes = partSizeFor(size, options.partSizeBytes);
  const unchanged = options.planned && options.planned.size === size && options.planned.mtimeMs === mtimeMs;
  const putOptions: PutOptions = {
    contentType: options.contentType,
    multipartThresholdBytes: options.multipartThresholdBytes,
    partSizeBytes,
    partConcurrency: options.partConcurrency,
    contentLength: size,
    ...(options.storageClass ? { storageClass: options.storageClass } : {}),
    ...(signal ? { signal } : {}),
    ...(options.onBytes ? { onProgress: (p) => options.onBytes!(p.loadedBytes) } : {}),
  };
  let result: PutResult;
  if (streamed) {
    const metadata = syncMetadata({
      mtimeMs,
      ...(multipart ? { partSizeBytes } : {}),
      ...(options.sha256 && unchanged ? { sha256: options.sha256 } : {}),
    });
    // Cancel a streamed upload by failing its body, not through `signal`: on its own abort lib-storage
    // rejects at once and sends AbortMultipartUpload later, in the background (after the CLI may have
    // exited, leaving the parts billed). A failing body makes the store abort the upload on the server first,
    // then reject.
    const { signal: _signal, ...streamOptions } = putOptions;
    result = await store.put(key, createReadStream(path, signal ? { signal } : {}), {
      ...streamOptions,
      metadata,
      // The store's hash of what it sends (S3: one PUT only; a multipart upload keeps the plan's, when known).
      sha256Metadata: true,
    });
  } else {
    const sha256 = createHash("sha256").update(bytes!).digest("hex");
    result = await store.put(key, bytes!, { ...putOptions, metadata: syncMetadata({ mtimeMs, sha256 }) });
  }
  if (result.size !== size) {
    throw Object.assign(new Error(`the file changed during the upload (${size} → ${result.size} bytes)`), {
      code: "ECHANGED",
    });
  }
  return { ...result, mtimeMs };
}
