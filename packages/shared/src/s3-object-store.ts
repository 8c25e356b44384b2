import { createHash } from "node:crypto";
import { ReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createS3Client } from "./clients.ts";
import { createLimit } from "./concurrency.ts";
import { checkConditionWithHead } from "./conditional-writes.ts";
import { abortReason, ObjectStoreError } from "./errors.ts";
import { fastListPage, listedObjects, type RawListPage } from "./list-page.ts";
import { formatLocation, type Location } from "./location.ts";
import {
  type ByteRange,
  type DeleteManyResult,
  FILE_STREAM_MIN_BYTES,
  type GetOptions,
  type GetResult,
  type ListEntry,
  type ListOptions,
  type ObjectInfo,
  type ObjectStore,
  type OpenObjectStoreOptions,
  type PutBody,
  type PutOptions,
  type PutResult,
} from "./object-store.ts";
import { validateKey } from "./open-object-store.ts";
import { retry } from "./retry.ts";
import { toObjectStoreError } from "./s3-errors.ts";
import { META_SHA256 } from "./sync/metadata.ts";
import { isSha256Hex } from "./trust/remote-input.ts";

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html — at most 1,000 keys a request. */
export const MAX_DELETE_BATCH = 1000;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** File parts read and in flight at once per store (see `partSlots`). */
const MAX_FILE_PARTS_IN_FLIGHT = 8;

export function formatRange(range: ByteRange): string {
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ""}`;
}

export function parseContentRange(
  header: string | undefined,
): { start: number; end: number; total: number } | undefined {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header) : null;
  return match ? { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } : undefined;
}

/**
 * Read a stream up to `limitBytes`. If it ends by then, its bytes; otherwise a stream of everything (what was
 * read, then the rest), which closes the source when it is destroyed.
 */
async function collect(stream: Readable, limitBytes: number): Promise<Buffer | Readable> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = stream[Symbol.asyncIterator]();
  while (true) {
    const { value, done } = await iterator.next();
    if (done) return Buffer.concat(chunks);
    const chunk = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
    chunks.push(chunk);
    size += chunk.length;
    if (size > limitBytes) {
      return Readable.from(
        (async function* () {
          try {
            // shift(), not yield*: each buffered chunk is released once it has been handed on.
            while (chunks.length > 0) yield chunks.shift()!;
            while (true) {
              const next = await iterator.next();
              if (next.done) return;
              yield next.value as Buffer;
            }
          } finally {
            await iterator.return?.();
          }
        })(),
      );
    }
  }
}

/** A buffer as a stream of slices (no copies), so a multipart upload of bytes can be cancelled like a stream. */
function* sliceBuffer(buffer: Buffer, sliceBytes: number): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += sliceBytes) yield buffer.subarray(offset, offset + sliceBytes);
}

/**
 * The path of a local file's stream that nobody has read yet (`fs.createReadStream(path)` without start/end):
 * its parts can be read from their offsets when they are sent, instead of through the stream.
 */
function unreadFileOf(body: Readable): string | undefined {
  if (!(body instanceof ReadStream)) return undefined;
  const s = body as ReadStream & { start?: number; end?: number };
  if (typeof s.path !== "string" || (s.start ?? 0) !== 0) return undefined;
  if (s.end !== undefined && s.end !== Number.POSITIVE_INFINITY) return undefined;
  if (s.bytesRead > 0 || s.readableDidRead || s.destroyed) return undefined;
  return s.path;
}

/** Bytes read at a time from a file part, to hash it and then to send it (a streamed part holds about three). */
const FILE_PART_CHUNK_BYTES = 512 * 1024;

const fileChanged = (path: string) =>
  Object.assign(new Error(`${path} became shorter while it was sent`), { code: "ECHANGED" });
const fileSizeChanged = (path: string, size: number, now: number) =>
  Object.assign(new Error(`${path} changed size while it was sent (${size} → ${now} bytes)`), { code: "ECHANGED" });

/** A CRC32 as S3 takes it (`x-amz-checksum-crc32`): the 4 big-endian bytes in base64. */
const crc32Base64 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
};

/**
 * Whether file parts carry a CRC32 (see `putFileParts`): yes unless the environment asks for checksums only where
 * an operation requires them (`AWS_REQUEST_CHECKSUM_CALCULATION=when_required`, the AWS SDKs' and CLIs' switch for
 * stores that refuse them).
 */
const fileChecksums = () => process.env.AWS_REQUEST_CHECKSUM_CALCULATION?.toLowerCase() !== "when_required";

/**
 * SHA-256 (hex), CRC32 (S3's base64) and, when asked, MD5 of `length` bytes of `file` from `start`, read through
 * `scratch`: one read for every digest.
 */
async function hashFileRange(
  file: FileHandle,
  path: string,
  start: number,
  length: number,
  scratch: Buffer,
  withMd5: boolean,
): Promise<{ sha256: string; crc32: string; md5?: Buffer }> {
  const hash = createHash("sha256");
  const md5 = withMd5 ? createHash("md5") : undefined;
  let crc = 0;
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(scratch, 0, Math.min(scratch.length, length - done), start + done);
    if (bytesRead === 0) throw fileChanged(path);
    const chunk = scratch.subarray(0, bytesRead);
    hash.update(chunk);
    md5?.update(chunk);
    crc = crc32(chunk, crc);
    done += bytesRead;
  }
  return { sha256: hash.digest("hex"), crc32: crc32Base64(crc), ...(md5 ? { md5: md5.digest() } : {}) };
}

/** Buffers of one size to reuse: `take` one, `give` it back once nothing refers to it any more. */
interface BufferPool {
  take(bytes: number): Buffer;
  give(buffer: Buffer): void;
}

/** Bytes `start` to `start + length` of a file that is `fileSize` bytes long. */
interface FileRange {
  start: number;
  length: number;
  fileSize: number;
  /** Called with the bytes of the range written to the socket so far, as each chunk is flushed (each attempt anew). */
  onWritten?: ((bytes: number) => void) | undefined;
}

/**
 * `length` bytes of `file` from `start` as a request body (positional reads: any number of these can read one
 * handle at once). Piped into a request — what the SDK's HTTP handler does — it reads the range in
 * {@link FILE_PART_CHUNK_BYTES} chunks into two pooled buffers, writing one while it reads the other, and reuses a
 * buffer only once its write has been flushed to the socket: no allocation per chunk (fresh 512 KiB buffers for
 * 576 MiB made V8 run full collections for about 1.6 s of CPU). Read any other way, it reads into fresh chunks.
 * A short read (the file shrank) or a read error calls `onError`, since a request never hears of its source's
 * error; the caller aborts the request then. Before the range's last chunk is written, the file's size is checked
 * against `range.fileSize`: a file that grew or shrank meanwhile fails the same way, so the server never receives
 * the whole body and stores nothing (after the last byte it would be too late for a single PUT).
 */
class FileRangeBody extends Readable {
  #offset = 0;
  #piped = false;
  readonly #file: FileHandle;
  readonly #path: string;
  readonly #start: number;
  readonly #length: number;
  readonly #fileSize: number;
  readonly #onWritten: ((bytes: number) => void) | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #pool: BufferPool;

  constructor(file: FileHandle, path: string, range: FileRange, onError: (error: unknown) => void, pool: BufferPool) {
    super({ highWaterMark: FILE_PART_CHUNK_BYTES });
    this.#file = file;
    this.#path = path;
    this.#start = range.start;
    this.#length = range.length;
    this.#fileSize = range.fileSize;
    this.#onWritten = range.onWritten;
    this.#onError = onError;
    this.#pool = pool;
    this.on("error", () => {}); // reported through onError
  }

  /** Read the next chunk into `buffer` (whole, or the range's rest); its length, 0 at the end. */
  async #readInto(buffer: Buffer): Promise<number> {
    const wanted = Math.min(buffer.length, this.#length - this.#offset);
    for (let filled = 0; filled < wanted; ) {
      const { bytesRead } = await this.#file.read(buffer, filled, wanted - filled, this.#start + this.#offset + filled);
      if (bytesRead === 0) throw fileChanged(this.#path);
      filled += bytesRead;
    }
    this.#offset += wanted;
    return wanted;
  }

  #fail(error: unknown): void {
    if (!this.destroyed) this.destroy(error as Error);
    this.#onError(error);
  }

  override _read(): void {
    const chunk = Buffer.allocUnsafe(Math.min(FILE_PART_CHUNK_BYTES, this.#length - this.#offset));
    this.#readInto(chunk).then(
      (n) => {
        if (!this.destroyed) this.push(n === 0 ? null : chunk);
      },
      (error: unknown) => this.#fail(error),
    );
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if (this.#piped || this.#offset > 0 || this.readableDidRead || options?.end === false) {
      return super.pipe(destination, options);
    }
    this.#piped = true;
    void this.#writeTo(destination);
    return destination;
  }

  async #writeTo(destination: NodeJS.WritableStream): Promise<void> {
    let closed = false;
    const whenClosed = new Promise<undefined>((resolve) =>
      destination.once("close", () => {
        closed = true;
        resolve(undefined);
      }),
    );
    const spare = [this.#pool.take(FILE_PART_CHUNK_BYTES), this.#pool.take(FILE_PART_CHUNK_BYTES)];
    const writing: Promise<Buffer | undefined>[] = [];
    try {
      while (this.#offset < this.#length && !closed && !this.destroyed) {
        // A buffer whose write failed (undefined) is not reused: the request is failing anyway.
        const buffer = spare.pop() ?? (await Promise.race([writing.shift()!, whenClosed]));
        if (buffer === undefined) return;
        const n = await this.#readInto(buffer);
        if (this.#offset === this.#length) {
          const now = (await this.#file.stat()).size;
          if (now !== this.#fileSize) throw fileSizeChanged(this.#path, this.#fileSize, now);
        }
        if (closed) return;
        const through = this.#offset;
        writing.push(
          new Promise((resolve) =>
            destination.write(buffer.subarray(0, n), (error?: Error | null) => {
              if (!error) this.#onWritten?.(through);
              resolve(error ? undefined : buffer);
            }),
          ),
        );
      }
      if (!closed) destination.end();
      for (const buffer of await Promise.race([Promise.all(writing), whenClosed.then(() => [])])) {
        if (buffer) this.#pool.give(buffer);
      }
      for (const buffer of spare) this.#pool.give(buffer);
    } catch (error) {
      this.#fail(error);
    }
  }
}

function encodeCopySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** The {@link ObjectStore} for an `s3://bucket/prefix` location. */
export function createS3ObjectStore(
  location: Extract<Location, { kind: "s3" }>,
  options: OpenObjectStoreOptions = {},
): ObjectStore {
  const ownClient = options.client === undefined;
  const client: S3Client =
    options.client ??
    createS3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.socketTimeoutMs ? { socketTimeoutMs: options.socketTimeoutMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  const { bucket, prefix } = location;
  // File parts in flight, across all files of this store (many files × partConcurrency): at most 8 (aws cli sends
  // 10 parts at once), and no more than the socket pool. A part takes a slot before it reads anything, and holds
  // about three 512 KiB buffers while it is in flight (hash, then two for the body), whatever the part size.
  const partSlots = createLimit(Math.min(options.concurrency ?? 16, MAX_FILE_PARTS_IN_FLIGHT));
  // Buffers are reused (a fresh buffer per part or chunk grows the RSS until the next GC, and 512 KiB chunks made
  // V8 run full collections): kept per size, a few per slot.
  const spareBuffers = new Map<number, Buffer[]>();
  const takeBuffer = (bytes: number) => spareBuffers.get(bytes)?.pop() ?? Buffer.allocUnsafeSlow(bytes);
  const giveBuffer = (buffer: Buffer) => {
    const spare = spareBuffers.get(buffer.length) ?? [];
    if (spare.length < MAX_FILE_PARTS_IN_FLIGHT * 3) spare.push(buffer);
    spareBuffers.set(buffer.length, spare);
  };
  const bufferPool: BufferPool = { take: takeBuffer, give: giveBuffer };
  const url = formatLocation(location);
  const fullKey = (key: string) => prefix + validateKey(key);
  const fail = (action: string, key: string | undefined, error: unknown, signal?: AbortSignal): never => {
    if (signal?.aborted) throw abortReason(signal);
    throw toObjectStoreError(error, action, key === undefined ? url : `${url}${key}`, key);
  };
  const sendOptions = (signal?: AbortSignal) => (signal ? { abortSignal: signal } : {});
  /** Listing pages read without the SDK's middleware and XML parser (list-page.ts), for a client made here. */
  const fastList = ownClient ? fastListPage(client, options.logger) : undefined;

  function info(
    key: string,
    out: {
      ContentLength?: number;
      ETag?: string;
      LastModified?: Date;
      Metadata?: Record<string, string>;
      ContentType?: string;
      StorageClass?: string;
      ServerSideEncryption?: string;
    },
  ): ObjectInfo {
    return {
      key,
      size: out.ContentLength ?? 0,
      etag: out.ETag ?? "",
      lastModified: out.LastModified ?? new Date(0),
      metadata: out.Metadata ?? {},
      ...(out.ContentType ? { contentType: out.ContentType } : {}),
      storageClass: out.StorageClass ?? "STANDARD",
      ...(out.ServerSideEncryption ? { serverSideEncryption: out.ServerSideEncryption } : {}),
    };
  }

  async function putSingle(key: string, body: Buffer, opts: PutOptions): Promise<PutResult> {
    const metadata = opts.sha256Metadata
      ? { ...opts.metadata, [META_SHA256]: createHash("sha256").update(body).digest("hex") }
      : opts.metadata;
    const input: PutObjectCommandInput = {
      Bucket: bucket,
      Key: fullKey(key),
      Body: body,
      ContentLength: body.length,
      ...(metadata ? { Metadata: metadata } : {}),
      ...(opts.contentType ? { ContentType: opts.contentType } : {}),
      ...(opts.storageClass ? { StorageClass: opts.storageClass as PutObjectCommandInput["StorageClass"] } : {}),
      ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
      ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
    };
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html — 412 means another writer won.
      const command = new PutObjectCommand(input);
      // Hash each byte once: the caller already has the body's SHA-256 (our metadata), so SigV4 signs with it
      // instead of hashing the body again; S3 then checks the body against it (400 on a mismatch).
      const sha256 = metadata?.[META_SHA256];
      if (isSha256Hex(sha256)) {
        command.middlewareStack.add(
          (next) => (args) => {
            const request = (args as { request?: { headers?: Record<string, string> } }).request;
            if (request?.headers) request.headers["x-amz-content-sha256"] = sha256;
            return next(args);
          },
          { step: "build", name: "s3kitPayloadSha256" },
        );
      }
      const out = await client.send(command, sendOptions(opts.signal));
      opts.onProgress?.({ loadedBytes: body.length, totalBytes: body.length });
      return { etag: out.ETag ?? "", size: body.length };
    } catch (error) {
      return fail("Put", key, error, opts.signal);
    }
  }

  /**
   * S3 checks If-Match / If-None-Match on CompleteMultipartUpload, after every part went up; check first so a
   * doomed upload fails before it moves gigabytes. Some emulators (moto) ignore the headers on
   * CompleteMultipartUpload: there this HEAD is the only check, and a race window remains.
   */
  function checkMultipartCondition(key: string, opts: PutOptions): Promise<void> {
    return checkConditionWithHead(store, key, opts, "Upload");
  }

  /** A local file's unread stream opened for positional reads, with one signal for `opts.signal` and its failure. */
  interface FileSource {
    file: FileHandle;
    path: string;
    /** Aborted by `opts.signal`, by the stream failing or by `cancel`. */
    signal: AbortSignal;
    cancel(reason: unknown): void;
    /** Stop listening, close the stream and the file. */
    close(): Promise<void>;
  }

  async function openFileSource(stream: Readable, path: string, opts: PutOptions): Promise<FileSource> {
    const internal = new AbortController();
    const cancel = (reason: unknown) => internal.abort(reason);
    const onStreamError = (error: unknown) => cancel(error);
    const onAbort = () => cancel(abortReason(opts.signal!));
    stream.once("error", onStreamError);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const release = () => {
      stream.off("error", onStreamError);
      opts.signal?.removeEventListener("abort", onAbort);
      stream.on("error", () => {}); // its own open may still fail after we stopped listening
      stream.destroy(); // release the stream's own file handle now, not at GC
    };
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (error) {
      release();
      throw error;
    }
    return {
      file,
      path,
      signal: internal.signal,
      cancel,
      close: async () => {
        release();
        await file.close().catch(() => {});
      },
    };
  }

  /**
   * Send a `PutObject` or `UploadPart` whose body is `range` of the source's file, signed with the range's
   * `sha256` (S3 checks the bytes it stores against it). The body is read from the file for each attempt — the
   * SDK retries a request whose body is a buffer, never one whose body is a stream — through two pooled
   * {@link FILE_PART_CHUNK_BYTES} buffers ({@link FileRangeBody}).
   */
  function sendFileRange(
    command: PutObjectCommand | UploadPartCommand,
    source: FileSource,
    range: FileRange,
    sha256: string,
  ): Promise<{ ETag?: string | undefined }> {
    // Both commands' stacks take the same two middlewares; typed as one of them.
    const stack = command.middlewareStack as PutObjectCommand["middlewareStack"];
    stack.add(
      (next) => (args) => {
        const request = (args as { request?: { headers?: Record<string, string> } }).request;
        if (request?.headers) {
          request.headers["x-amz-content-sha256"] = sha256;
          // The SDK does not wait for "100 Continue" with an agent of ours (createS3Client), so the header
          // would only make servers send an interim response per request.
          delete request.headers.Expect;
        }
        return next(args);
      },
      { step: "build", name: "s3kitFileRangeHeaders", priority: "low" },
    );
    type Attempt = { request: { headers: Record<string, string> } };
    const body = (next: (args: Attempt) => unknown) => (args: Attempt) => {
      const { request } = args;
      // A copy of the request per attempt, so the retry middleware keeps seeing the placeholder.
      const attempt = Object.assign(Object.create(Object.getPrototypeOf(request) as object) as object, request, {
        headers: { ...request.headers },
        body: new FileRangeBody(source.file, source.path, range, source.cancel, bufferPool),
      });
      return next({ ...args, request: attempt as Attempt["request"] });
    };
    // finalizeRequest, low priority: inside the retry middleware's loop (high priority), once per attempt.
    stack.add(body as never, { step: "finalizeRequest", priority: "low", name: "s3kitFileRangeBody" });
    return client.send(command as PutObjectCommand, { abortSignal: source.signal });
  }

  /**
   * A local file of `size` bytes (at most the multipart threshold) in one PUT, streamed from the file like a part
   * (issue 15 (c): 24 MiB raw files went up as 3 parts before, 5 requests where one does). One read hashes it
   * (SHA-256 for the signature and `sha256Metadata`, CRC32 as the SDK would add), the request reads it again a
   * chunk at a time; memory is about three 512 KiB buffers. An `s3kit-sha256` in `metadata` that the bytes do not
   * match, or a file whose size changed by the end, fails with `ECHANGED` (nothing, or S3 refuses the body).
   */
  async function putFileWhole(
    key: string,
    stream: Readable,
    path: string,
    size: number,
    opts: PutOptions,
  ): Promise<PutResult> {
    const checksums = fileChecksums();
    const source = await openFileSource(stream, path, opts).catch((error: unknown) =>
      fail("Put", key, error, opts.signal),
    );
    try {
      source.signal.throwIfAborted();
      // One slot of the store's file parts for the whole file: it holds as many buffers as a part.
      const out = await partSlots(async () => {
        const scratch = takeBuffer(FILE_PART_CHUNK_BYTES);
        let hashed: { sha256: string; crc32: string };
        try {
          hashed = await hashFileRange(source.file, path, 0, size, scratch, false);
        } finally {
          giveBuffer(scratch);
        }
        const claimed = opts.metadata?.[META_SHA256];
        if (claimed !== undefined && !opts.sha256Metadata && claimed !== hashed.sha256) {
          throw Object.assign(new Error(`${path} changed since it was hashed`), { code: "ECHANGED" });
        }
        const command = new PutObjectCommand({
          Bucket: bucket,
          Key: fullKey(key),
          Body: new Uint8Array(0), // replaced by the file, read for each attempt
          ContentLength: size,
          Metadata: { ...opts.metadata, ...(opts.sha256Metadata ? { [META_SHA256]: hashed.sha256 } : {}) },
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.storageClass ? { StorageClass: opts.storageClass as PutObjectCommandInput["StorageClass"] } : {}),
          ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
          ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
          ...(checksums ? { ChecksumCRC32: hashed.crc32 } : {}),
        });
        const onWritten = opts.onProgress
          ? (bytes: number) => opts.onProgress?.({ loadedBytes: bytes, totalBytes: size })
          : undefined;
        return sendFileRange(command, source, { start: 0, length: size, fileSize: size, onWritten }, hashed.sha256);
      });
      opts.onProgress?.({ loadedBytes: size, totalBytes: size }); // also when the last write's callback came late
      return { etag: out.ETag ?? "", size };
    } catch (error) {
      const reason = source.signal.aborted ? source.signal.reason : error;
      if ((reason as { code?: string } | null)?.code === "ECHANGED") throw reason;
      return fail("Put", key, reason, opts.signal);
    } finally {
      await source.close();
    }
  }

  /**
   * A local file in parts (issue 15: files are not streams). Each part is read from its offset when it is sent —
   * no chunker, no concatenation, no read-ahead — and read again if it must be sent again. A part is streamed: read
   * once in 512 KiB chunks for its SHA-256 (SigV4 signs with it, so S3 checks the bytes it stores against it), its
   * CRC32 and, for `onPartMd5`, its MD5, then read again as the request body, a chunk at a time: memory is about two
   * chunks per part in flight, not the part (what aws cli does).
   * Cancelled by `opts.signal` or by the stream failing (its own `signal`): the upload is aborted on the server
   * first, then the call rejects. A file that is not `contentLength` bytes long when its parts are done fails
   * without completing the upload.
   */
  async function putFileParts(
    key: string,
    stream: Readable,
    path: string,
    size: number,
    opts: PutOptions,
  ): Promise<PutResult> {
    const partSizeBytes = opts.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    // Name CRC32 for the object as aws cli does (a CRC32 per part, a composite object checksum). Without one, S3
    // and moto compute a full-object CRC64NVME at CompleteMultipartUpload; on moto that copies the whole object
    // twice in Python, which doubled the server's CPU on the 24 × 24 MiB upload (see the README).
    const checksums = fileChecksums();
    const source = await openFileSource(stream, path, opts).catch((error: unknown) =>
      fail("Upload", key, error, opts.signal),
    );
    const { file, signal, cancel } = source;
    let uploadId: string | undefined;
    try {
      signal.throwIfAborted();
      opts.signal?.throwIfAborted();
      await checkMultipartCondition(key, opts);
      const created = await client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: fullKey(key),
          ...(opts.metadata ? { Metadata: opts.metadata } : {}),
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          ...(opts.storageClass ? { StorageClass: opts.storageClass as PutObjectCommandInput["StorageClass"] } : {}),
          ...(checksums ? { ChecksumAlgorithm: "CRC32" as const } : {}),
        }),
        { abortSignal: signal },
      );
      uploadId = created.UploadId;
      if (!uploadId) throw new ObjectStoreError("unknown", `Upload of ${url}${key}: the server gave no upload id.`);
      const partCount = Math.ceil(size / partSizeBytes);
      const etags: string[] = new Array(partCount);
      const partCrcs: string[] = new Array(partCount);
      let loaded = 0;
      let next = 0;
      /** Send part `index` streamed from the file (see above); its length. */
      const streamPart = async (index: number): Promise<number> => {
        const start = index * partSizeBytes;
        const length = Math.min(partSizeBytes, size - start);
        const scratch = takeBuffer(FILE_PART_CHUNK_BYTES);
        let sha256: string;
        let md5: Buffer | undefined;
        try {
          ({
            sha256,
            md5,
            crc32: partCrcs[index],
          } = await hashFileRange(file, path, start, length, scratch, opts.onPartMd5 !== undefined));
        } finally {
          giveBuffer(scratch);
        }
        const command = new UploadPartCommand({
          Bucket: bucket,
          Key: fullKey(key),
          UploadId: uploadId,
          PartNumber: index + 1,
          Body: new Uint8Array(0), // replaced by the part, read from the file for each attempt
          ContentLength: length,
          ...(checksums ? { ChecksumCRC32: partCrcs[index] } : {}),
        });
        const out = await sendFileRange(command, source, { start, length, fileSize: size }, sha256);
        etags[index] = out.ETag ?? "";
        if (md5) opts.onPartMd5?.(index + 1, md5);
        return length;
      };
      const sendPart = async (index: number): Promise<void> => {
        // The SDK retries the request with the same bytes; a part that still fails is read again and resent.
        const length = await retry(() => partSlots(() => streamPart(index)), { attempts: 2, signal });
        loaded += length;
        opts.onProgress?.({ loadedBytes: loaded, totalBytes: size });
      };
      const worker = async () => {
        while (next < partCount && !signal.aborted) await sendPart(next++);
      };
      const workers = Math.max(1, Math.min(opts.partConcurrency ?? 4, partCount));
      await Promise.all(
        Array.from({ length: workers }, () =>
          worker().catch((error: unknown) => {
            cancel(error);
            throw error;
          }),
        ),
      );
      signal.throwIfAborted();
      const now = (await file.stat()).size;
      if (now !== size) throw fileSizeChanged(path, size, now);
      const done = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: fullKey(key),
          UploadId: uploadId,
          MultipartUpload: {
            Parts: etags.map((ETag, i) => ({
              ETag,
              PartNumber: i + 1,
              ...(checksums ? { ChecksumCRC32: partCrcs[i] } : {}),
            })),
          },
          ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
          ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
        }),
        { abortSignal: signal },
      );
      uploadId = undefined;
      const etag = done.ETag ?? "";
      return { etag, size, partSizeBytes };
    } catch (error) {
      const reason = signal.aborted ? signal.reason : error;
      if (uploadId) {
        // Awaited, so the caller never sees the rejection while the upload is still open on the server.
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: fullKey(key), UploadId: uploadId }))
          .catch(() => {});
      }
      if ((reason as { code?: string } | null)?.code === "ECHANGED") throw reason;
      return fail("Upload", key, reason, opts.signal);
    } finally {
      await source.close();
    }
  }

  async function putMultipart(key: string, body: Readable | Buffer, opts: PutOptions): Promise<PutResult> {
    const partSizeBytes = opts.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    await checkMultipartCondition(key, opts);
    // Cancel by failing the body, not through lib-storage's abortController: on its own abort lib-storage
    // rejects at once and sends AbortMultipartUpload later, in the background, so the caller could see the
    // rejection while the upload is still open. A failed body makes done() reject only after the abort.
    const source = Buffer.isBuffer(body) ? Readable.from(sliceBuffer(body, partSizeBytes)) : body;
    const onAbort = () => source.destroy(abortReason(opts.signal!));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let size = 0;
    const upload = new Upload({
      client,
      partSize: partSizeBytes,
      queueSize: opts.partConcurrency ?? 4,
      leavePartsOnError: false,
      params: {
        Bucket: bucket,
        Key: fullKey(key),
        Body: source,
        ...(Buffer.isBuffer(body) ? { ContentLength: body.length } : {}),
        ...(!Buffer.isBuffer(body) && opts.contentLength !== undefined ? { ContentLength: opts.contentLength } : {}),
        ...(opts.metadata ? { Metadata: opts.metadata } : {}),
        ...(opts.contentType ? { ContentType: opts.contentType } : {}),
        ...(opts.storageClass ? { StorageClass: opts.storageClass as PutObjectCommandInput["StorageClass"] } : {}),
        // lib-storage passes these through to CompleteMultipartUpload (and PutObject for one part).
        ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
        ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
      },
    });
    upload.on("httpUploadProgress", (p) => {
      size = Math.max(size, p.loaded ?? 0);
      opts.onProgress?.({ loadedBytes: p.loaded ?? 0, ...(p.total ? { totalBytes: p.total } : {}) });
    });
    try {
      opts.signal?.throwIfAborted();
      const out = await upload.done();
      const etag = out.ETag ?? "";
      return { etag, size, ...(etag.includes("-") ? { partSizeBytes } : {}) };
    } catch (error) {
      source.destroy(); // a failed upload stops reading: release the body's file handle now, not at GC
      return fail("Upload", key, error, opts.signal);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  const store: ObjectStore = {
    location,
    url,
    async head(key, opts = {}) {
      try {
        const out = await client.send(
          new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key) }),
          sendOptions(opts.signal),
        );
        return info(key, out);
      } catch (error) {
        const mapped = toObjectStoreError(error, "Head", `${url}${key}`, key);
        if ((mapped as { code?: string }).code === "notFound") return undefined;
        return fail("Head", key, error, opts.signal);
      }
    },

    async get(key, opts: GetOptions = {}): Promise<GetResult> {
      try {
        const out = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: fullKey(key),
            ...(opts.range ? { Range: formatRange(opts.range) } : {}),
            ...(opts.ifNoneMatch ? { IfNoneMatch: opts.ifNoneMatch } : {}),
            ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
          }),
          sendOptions(opts.signal),
        );
        const range = parseContentRange(out.ContentRange);
        const base = info(key, out);
        return {
          ...base,
          size: range ? range.total : base.size,
          body: out.Body as Readable,
          ...(range ? { range } : {}),
        };
      } catch (error) {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html — S3 (and moto) answer 416 to any
        // range on a zero-byte object. A range from byte 0 only fails there, so it means "empty": read it whole.
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 416 && opts.range && ("suffix" in opts.range || opts.range.start === 0)) {
          const { range: _range, ...whole } = opts;
          return store.get(key, whole);
        }
        return fail("Get", key, error, opts.signal);
      }
    },

    async getBytes(key, opts = {}) {
      // The SDK retries a request, not a body cut off mid-stream; retry the whole read, pinned to the
      // version first seen (If-Match) so the bytes can never mix two versions.
      let pinned = opts.ifMatch;
      return retry(
        async () => {
          const { body, etag } = await store.get(key, { ...opts, ...(pinned ? { ifMatch: pinned } : {}) });
          pinned ??= etag;
          const chunks: Buffer[] = [];
          try {
            for await (const chunk of body) chunks.push(chunk as Buffer);
          } catch (error) {
            return fail("Get", key, error, opts.signal);
          }
          return new Uint8Array(Buffer.concat(chunks));
        },
        { attempts: 4, ...(opts.signal ? { signal: opts.signal } : {}) },
      );
    },

    async put(key: string, body: PutBody, opts: PutOptions = {}) {
      validateKey(key);
      opts.signal?.throwIfAborted();
      const threshold = opts.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES;
      if (typeof body === "string" || body instanceof Uint8Array) {
        const bytes =
          typeof body === "string"
            ? Buffer.from(body, "utf8")
            : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        return bytes.length <= threshold ? putSingle(key, bytes, opts) : putMultipart(key, bytes, opts);
      }
      // A local file above 1 MiB is read from its offsets as it is sent: in one PUT up to the threshold, in parts
      // above. Another stream known to be large goes to multipart; otherwise buffer up to the threshold so a small
      // body goes in one replayable PUT.
      if (opts.contentLength !== undefined) {
        const path = opts.contentLength > FILE_STREAM_MIN_BYTES ? unreadFileOf(body) : undefined;
        if (path !== undefined) {
          return opts.contentLength > threshold
            ? putFileParts(key, body, path, opts.contentLength, opts)
            : putFileWhole(key, body, path, opts.contentLength, opts);
        }
        if (opts.contentLength > threshold) return putMultipart(key, body, opts);
      }
      const collected = await collect(body, threshold);
      return Buffer.isBuffer(collected) ? putSingle(key, collected, opts) : putMultipart(key, collected, opts);
    },

    async delete(key, opts = {}) {
      try {
        await client.send(
          new DeleteObjectCommand({
            Bucket: bucket,
            Key: fullKey(key),
            ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
          }),
          sendOptions(opts.signal),
        );
      } catch (error) {
        fail("Delete", key, error, opts.signal);
      }
    },

    async deleteMany(keys, opts = {}): Promise<DeleteManyResult> {
      const result: DeleteManyResult = { deleted: [], errors: [] };
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const current = batch;
        batch = [];
        try {
          const out = await client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: current.map((k) => ({ Key: prefix + k })), Quiet: true },
            }),
            sendOptions(opts.signal),
          );
          const failed = new Set<string>();
          for (const e of out.Errors ?? []) {
            const key = (e.Key ?? "").slice(prefix.length);
            failed.add(key);
            result.errors.push({ key, code: e.Code ?? "unknown", message: e.Message ?? "delete failed" });
          }
          for (const k of current) if (!failed.has(k)) result.deleted.push(k);
        } catch (error) {
          fail("Delete", undefined, error, opts.signal);
        }
      };
      for await (const key of keys) {
        validateKey(key);
        batch.push(key);
        if (batch.length === MAX_DELETE_BATCH) await flush();
      }
      await flush();
      return result;
    },

    async *list(opts: ListOptions = {}): AsyncIterable<ListEntry> {
      const listPrefix = prefix + (opts.prefix ?? "");
      try {
        // A hand-written paginator (not paginateListObjectsV2) so each page request takes the abort signal.
        let token: string | undefined;
        do {
          const input = {
            Bucket: bucket,
            Prefix: listPrefix,
            MaxKeys: 1000,
            ...(opts.delimiter ? { Delimiter: opts.delimiter } : {}),
            ...(opts.startAfter ? { StartAfter: prefix + opts.startAfter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          };
          // Read directly when the store made the client (list-page.ts), else through the SDK; one check for both.
          const page: RawListPage =
            (await fastList?.(input, opts.signal)) ??
            (await client.send(new ListObjectsV2Command(input), sendOptions(opts.signal)).then((out) => ({
              contents: out.Contents ?? [],
              prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix),
              isTruncated: out.IsTruncated === true,
              nextContinuationToken: out.NextContinuationToken,
            })));
          token = page.isTruncated ? page.nextContinuationToken : undefined;
          opts.signal?.throwIfAborted();
          // Objects and common prefixes arrive in separate arrays; merge them in key order.
          const entries: ListEntry[] = [];
          for (const o of listedObjects(page, url)) {
            entries.push({
              kind: "object",
              key: o.key.slice(prefix.length),
              size: o.size,
              etag: o.etag,
              lastModified: o.lastModified,
              ...(o.storageClass ? { storageClass: o.storageClass } : {}),
            });
          }
          for (const p of page.prefixes) {
            if (p) entries.push({ kind: "prefix", prefix: p.slice(prefix.length) });
          }
          entries.sort((a, b) => {
            const ka = a.kind === "object" ? a.key : a.prefix;
            const kb = b.kind === "object" ? b.key : b.prefix;
            return ka < kb ? -1 : ka > kb ? 1 : 0;
          });
          yield* entries;
        } while (token);
      } catch (error) {
        fail("List", undefined, error, opts.signal);
      }
    },

    async copy(sourceKey, destinationKey, opts = {}) {
      try {
        const out = await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: fullKey(destinationKey),
            CopySource: encodeCopySource(bucket, fullKey(sourceKey)),
            ...(opts.metadata || opts.contentType
              ? {
                  MetadataDirective: "REPLACE",
                  Metadata: opts.metadata ?? {},
                  ...(opts.contentType ? { ContentType: opts.contentType } : {}),
                }
              : {}),
          }),
          sendOptions(opts.signal),
        );
        const head = await store.head(destinationKey, opts.signal ? { signal: opts.signal } : {});
        return { etag: out.CopyObjectResult?.ETag ?? head?.etag ?? "", size: head?.size ?? 0 };
      } catch (error) {
        return fail("Copy", sourceKey, error, opts.signal);
      }
    },

    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html — paged by key and upload id markers.
    async *listMultipartUploads(opts: { signal?: AbortSignal } = {}) {
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      try {
        do {
          const page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              MaxUploads: 1000,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
            }),
            sendOptions(opts.signal),
          );
          opts.signal?.throwIfAborted();
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key?.startsWith(prefix) || !upload.UploadId) continue;
            yield {
              key: upload.Key.slice(prefix.length),
              uploadId: upload.UploadId,
              initiated: upload.Initiated ?? new Date(0),
            };
          }
          const more = page.IsTruncated === true && (page.NextKeyMarker || page.NextUploadIdMarker);
          keyMarker = more ? page.NextKeyMarker : undefined;
          uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
        } while (keyMarker || uploadIdMarker);
      } catch (error) {
        fail("ListMultipartUploads", undefined, error, opts.signal);
      }
    },

    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html — 404 NoSuchUpload: already gone.
    async abortMultipartUpload(key: string, uploadId: string, opts: { signal?: AbortSignal } = {}) {
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: fullKey(key), UploadId: uploadId }),
          sendOptions(opts.signal),
        );
      } catch (error) {
        if ((error as { name?: string }).name === "NoSuchUpload") return;
        fail("AbortMultipartUpload", key, error, opts.signal);
      }
    },

    async close() {
      if (ownClient) client.destroy();
    },
  };
  return store;
}
