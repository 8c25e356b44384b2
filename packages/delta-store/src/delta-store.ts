import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createLimit,
  createSizeLimit,
  isObjectStoreError,
  type ListEntry,
  type Logger,
  type ObjectInfo,
  type ObjectStore,
  openObjectStore,
  type ProgressCallback,
  parseLocation,
  type Sha256Hex,
  silentLogger,
  validateKey,
} from "@toolkit/shared";
import { z } from "zod";
import { describeEngines, type EngineStatus } from "./engines/describe.ts";
import type { DeltaEngine } from "./engines/engine.ts";
import { type DeltaFormat, type Engines, formatOf, selectDecoder, selectEncoder } from "./engines/select.ts";
import { createNativeXdelta3Engine } from "./engines/xdelta3-native.ts";
import { createWasmXdelta3Engine } from "./engines/xdelta3-wasm.ts";
import { createZstdEngine } from "./engines/zstd.ts";
import { DeltaError, wrapStoreError } from "./errors.ts";
import {
  type DeltaMeta,
  deltaMetadata,
  directMetadata,
  type EngineName,
  generationOf,
  parseDeltaMeta,
  parseDirectMeta,
  readMeta,
  referenceMetadata,
  referenceSha256,
} from "./metadata.ts";
import {
  DEFAULT_DELTA_EXTENSIONS,
  type DeltaStoreOptions,
  type EngineChoice,
  parseOptions,
  putOptionsSchema,
  validateStoreOptions,
} from "./options.ts";
import { ReferenceCache } from "./reference-cache.ts";
import { type SyncOptions, type SyncResult, syncStore } from "./sync.ts";

export const REFERENCE_NAME = "reference.bin";
export const DELTA_SUFFIX = ".delta";
/** S3's key limit in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
const OCTET_STREAM = "application/octet-stream";

export interface PutOptions {
  /** Overrides the store's `maxRatio` for this file. */
  maxRatio?: number;
  /** Overrides the store's `engine` for this file. */
  engine?: EngineChoice;
  /** Store this file directly. */
  noDelta?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface PutResult {
  key: string;
  /** How the file was stored: as the deltaspace's new reference, as a delta against it, or directly. */
  stored: "reference" | "delta" | "direct";
  /** The object key that holds the file's bytes (`app/x.zip.delta`, `app/x.zip`, or `app/reference.bin`). */
  storedKey: string;
  /** Bytes the file itself added to the store (the delta, or the whole file for direct/reference). */
  storedBytes: number;
  fileBytes: number;
  sha256: string;
  /** The engine that made the delta (for `delta` and `reference`, whose own entry is a zero-diff delta). */
  engine?: EngineName;
  /** `deltaBytes / fileBytes` when a delta was computed (also when it was too large and not kept). */
  ratio?: number;
  /** Why the file was stored directly, when it was. */
  reason?: "noDelta" | "notEligible" | "ratioExceeded" | "noEngine" | "referenceChanged" | "referenceUnusable";
  /** The reason in words, when there is more to say (which engine was missing, what limit was hit). */
  detail?: string;
  /** Warnings this put raised, once per store (the conditional-write fallback: see `DeltaStoreOptions.onWarning`). */
  warnings?: string[];
}

export interface GetOptions {
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface GetResult {
  key: string;
  path: string;
  kind: "delta" | "direct";
  bytes: number;
  sha256: string;
  engine?: EngineName;
  /** `false` for plain objects without `dg-file-sha256` (checked by size and MD5 ETag where possible). */
  sha256Verified: boolean;
}

export interface ListedFile {
  kind: "delta" | "direct";
  /** The logical key (no `.delta` suffix). */
  key: string;
  /** The file's size in bytes (from `dg-file-size` for deltas). */
  size: number;
  /** Bytes the file occupies in the store (delta size for deltas). */
  storedSize: number;
  lastModified: Date;
  sha256?: string;
  engine?: EngineName;
  /** The stored object's ETag (for direct files: the MD5 when uploaded in one part). */
  etag: string;
  /** Why the entry cannot be read (its metadata is corrupt or hostile); `size` is then the stored size. */
  problem?: string;
}

export interface ListedFolder {
  kind: "folder";
  /** A sub-folder, ending in `/` (only when listing with `recursive: false`). */
  key: string;
}

export type DeltaListEntry = ListedFile | ListedFolder;

export interface ListOptions {
  /** Descend into sub-folders. @default true */
  recursive?: boolean;
  signal?: AbortSignal;
}

export interface DeleteResult {
  key: string;
  /** Object keys removed (the delta or direct object, and the reference when nothing depends on it any more). */
  deletedKeys: string[];
  referenceDeleted: boolean;
}

export interface DeletePrefixOptions {
  /** Which logical keys to delete. @default all */
  filter?: (key: string) => boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface DeletePrefixResult {
  deleted: string[];
  referencesDeleted: string[];
  failed: { key: string; error: string }[];
}

export interface StatsResult {
  prefix: string;
  files: number;
  deltas: number;
  directs: number;
  references: number;
  /** Sum of the files' sizes. */
  originalBytes: number;
  /** Sum of the stored objects' sizes (deltas, direct objects and references). */
  storedBytes: number;
  savedBytes: number;
  /** `1 - stored / original` (0 when empty). */
  savings: number;
}

export interface VerifyResult {
  key: string;
  valid: boolean;
  kind: "delta" | "direct";
  expectedSha256?: string;
  actualSha256?: string;
  engine?: EngineName;
  /** Why it is invalid. */
  error?: string;
}

export type { EngineStatus } from "./engines/describe.ts";

/** A DeltaGlider-compatible store of files as deltas against per-folder references. */
export interface DeltaStore {
  readonly url: string;
  /**
   * Every warning this store gave so far, each once (today: conditional writes checked with a HEAD first because
   * the endpoint ignores them). Also passed to `onWarning` and the logger as they happen.
   */
  readonly warnings: readonly string[];
  /** Store a local file under a logical key (`app/app-1.2.0.zip`). */
  put(localPath: string, key: string, options?: PutOptions): Promise<PutResult>;
  /** Reconstruct a file into `localPath`; the file appears only after its SHA-256 matched. */
  get(key: string, localPath: string, options?: GetOptions): Promise<GetResult>;
  /** Stored files under a folder prefix, with their real sizes; `reference.bin` is never listed. */
  list(prefix?: string, options?: ListOptions): AsyncIterable<DeltaListEntry>;
  /** Delete one file; its deltaspace's reference goes too when no other delta depends on it. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<DeleteResult>;
  /** Delete every file under a folder prefix (or those `filter` selects), then unused references. */
  deletePrefix(prefix: string, options?: DeletePrefixOptions): Promise<DeletePrefixResult>;
  /** Original vs stored bytes under a prefix. */
  stats(prefix?: string, options?: { signal?: AbortSignal }): Promise<StatsResult>;
  /**
   * Reconstruct a file without writing it and check its SHA-256. The reference is always fetched from the
   * store and hashed (never answered by the local cache), so a missing or corrupt `reference.bin` fails it.
   */
  verify(key: string, options?: { signal?: AbortSignal }): Promise<VerifyResult>;
  /** Sync a local directory and a store prefix, in the direction the arguments give (see README). */
  sync(source: string, destination: string, options?: SyncOptions): Promise<SyncResult>;
  /** The engines and whether they run here. */
  engines(): Promise<EngineStatus[]>;
  /** Release sockets and temp files. */
  close(): Promise<void>;
}

function normalisePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "" || prefix === "/") return "";
  let p = prefix.replace(/^\/+/, "");
  // A prefix is always a folder: `app` means `app/`, never `app-old/` (DeltaGlider's sibling leak).
  if (!p.endsWith("/")) p += "/";
  try {
    validateKey(`${p}x`);
  } catch (error) {
    throw new DeltaError("delta.invalidKey", `Invalid prefix ${JSON.stringify(prefix)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return p;
}

function deltaspaceOf(key: string): string {
  const slash = key.lastIndexOf("/");
  return slash === -1 ? "" : key.slice(0, slash + 1);
}

function hashingTransform(onChunk?: (bytes: number) => void) {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sha.update(chunk);
      md5.update(chunk);
      size += chunk.length;
      onChunk?.(size);
      callback(null, chunk);
    },
  });
  return {
    transform,
    get size() {
      return size;
    },
    digest: () => ({ sha256: sha.digest("hex"), md5: md5.digest("hex") }),
  };
}

async function sha256OfFile(path: string, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<Sha256Hex> {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of createReadStream(path, signal ? { signal } : {})) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
    onBytes?.(n);
  }
  return hash.digest("hex") as Sha256Hex;
}

/** Read the first bytes of a stream and give back a stream of the whole. */
async function peek(stream: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
    chunks.push(chunk);
    size += chunk.length;
  }
  const head = Buffer.concat(chunks);
  const whole = Readable.from(
    (async function* () {
      yield* chunks;
      if (done) return;
      while (true) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value as Buffer;
      }
    })(),
    { objectMode: false },
  );
  whole.on("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  return { head: head.subarray(0, bytes), stream: whole };
}

const keySchema = z.string().min(1);

/**
 * Open a delta store at `s3://bucket/prefix` or `file:///dir`.
 *
 * ```ts
 * const store = createDeltaStore({ location: "s3://bucket/releases", maxRatio: 0.5 });
 * await store.put("./app-1.2.0.zip", "app/app-1.2.0.zip");
 * ```
 */
export function createDeltaStore(options: DeltaStoreOptions): DeltaStore {
  validateStoreOptions(options);
  const logger: Logger = options.logger ?? silentLogger;
  const location = typeof options.location === "string" ? parseLocation(options.location) : options.location;
  const ownStore = options.store === undefined;
  /** Warnings so far (each once): the conditional-write fallback (issue 17). */
  const warnings: string[] = [];
  const onWarning = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  const store: ObjectStore =
    options.store ??
    openObjectStore(location, {
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      concurrency: Math.max(16, options.concurrency ?? 8),
      logger,
      // The reference's If-None-Match and the If-Match deletes: probe the endpoint, else HEAD first (issue 17).
      conditionalWrites: options.conditionalWrites ?? "probe",
      onWarning,
    });
  /** Key prefix inside the bucket: `dg-ref-key` is bucket-relative, as DeltaGlider writes it. */
  const bucketPrefix = location.kind === "s3" ? location.prefix : "";
  const maxRatio = options.maxRatio ?? 0.5;
  const defaultEngine: EngineChoice = options.engine ?? "auto";
  const extensions = (options.deltaExtensions ?? DEFAULT_DELTA_EXTENSIONS).map((e) => e.toLowerCase());
  const concurrency = options.concurrency ?? 8;
  const cache = new ReferenceCache(options.cache, logger);
  const engines: Engines = {
    xdelta3: createNativeXdelta3Engine(options.xdelta3Path),
    "xdelta3-wasm": createWasmXdelta3Engine(),
    zstd: createZstdEngine(options.zstdLevel !== undefined ? { level: options.zstdLevel } : {}),
  };
  const url = store.url;
  /** The HEAD of each listed delta (its generation decides against a direct twin). */
  const listedInfo = new WeakMap<DeltaListEntry, ObjectInfo>();
  /** References whose stored bytes `verify` fetched and hashed: store key → `<etag> <sha256>`. */
  const verifiedReferences = new Map<string, string>();

  function checkKey(key: string): string {
    const parsed = keySchema.safeParse(key);
    if (!parsed.success) throw new DeltaError("delta.invalidKey", `Invalid key ${JSON.stringify(key)}: it is empty.`);
    const bad = (why: string) =>
      new DeltaError("delta.invalidKey", `Invalid key ${JSON.stringify(key)}: ${why}.`, { key });
    try {
      validateKey(key);
    } catch (error) {
      throw new DeltaError("delta.invalidKey", (error as Error).message, { key, cause: error });
    }
    if (key.endsWith("/")) throw bad("it ends in `/` (name the file, e.g. `app/app-1.2.0.zip`)");
    const name = basename(key);
    if (name === REFERENCE_NAME) throw bad(`\`${REFERENCE_NAME}\` is reserved for deltaspace references`);
    if (name.endsWith(DELTA_SUFFIX)) throw bad(`names ending in \`${DELTA_SUFFIX}\` are reserved for deltas`);
    if (key.startsWith(".deltaglider/")) throw bad("`.deltaglider/` is reserved");
    const bytes = Buffer.byteLength(bucketPrefix + key + DELTA_SUFFIX, "utf8");
    if (bytes > MAX_KEY_BYTES) {
      throw bad(
        `with the store prefix and \`${DELTA_SUFFIX}\` it is ${bytes} bytes, over S3's ${MAX_KEY_BYTES}; use a shorter name`,
      );
    }
    return key;
  }

  function isEligible(key: string): boolean {
    const lower = key.toLowerCase();
    return extensions.some((ext) => lower.endsWith(ext));
  }

  /** Store-relative key of a `dg-ref-key` value (bucket-relative in DeltaGlider buckets). */
  function refKeyToStoreKey(refKey: string, deltaspace: string): string {
    const own = deltaspace + REFERENCE_NAME;
    let candidate: string;
    if (bucketPrefix !== "" && refKey.startsWith(bucketPrefix)) candidate = refKey.slice(bucketPrefix.length);
    else if (bucketPrefix === "") candidate = refKey;
    // A ref-key outside our prefix: DeltaGlider always uses the deltaspace's own reference.
    else return own;
    // Remote data: a ref-key that is not a plain key (`..`, `//`, NUL) or not a reference is not followed.
    try {
      validateKey(candidate);
    } catch {
      return own;
    }
    return basename(candidate) === REFERENCE_NAME && !candidate.startsWith(".deltaglider/") ? candidate : own;
  }

  async function head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      return await store.head(key, signal ? { signal } : {});
    } catch (error) {
      throw wrapStoreError(error, `Head ${url}${key}`, key);
    }
  }

  async function storeCall<T>(what: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw wrapStoreError(error, what, key);
    }
  }

  /** The two stored forms of a logical key (`key.delta` and `key`), as they are now. */
  interface Forms {
    delta?: ObjectInfo;
    direct?: ObjectInfo;
  }

  async function headForms(key: string, signal?: AbortSignal): Promise<Forms> {
    const [delta, direct] = await Promise.all([head(key + DELTA_SUFFIX, signal), head(key, signal)]);
    return { ...(delta ? { delta } : {}), ...(direct ? { direct } : {}) };
  }

  /** The generation a new write of a key gets: 1 + the highest generation stored for it now. */
  function nextGeneration(forms: Forms): number {
    return (
      Math.max(
        forms.delta ? generationOf(forms.delta.metadata) : 0,
        forms.direct ? generationOf(forms.direct.metadata) : 0,
      ) + 1
    );
  }

  /**
   * Remove the other, older form of a key after the new one is written (write ordering, see README): only the
   * object seen before the write (`If-Match` its ETag), so a concurrent writer's newer object is never removed.
   * When the delete fails, readers still get the new version (its generation is higher); the put reports it.
   */
  async function removeOlderForm(
    key: string,
    storedKey: string,
    older: ObjectInfo | undefined,
    generation: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    if (!older) return false;
    try {
      await store.delete(storedKey, { ifMatch: older.etag, ...(signal ? { signal } : {}) });
      return true;
    } catch (error) {
      if (isObjectStoreError(error, "preconditionFailed") || isObjectStoreError(error, "notFound")) return false;
      if (signal?.aborted) throw signal.reason;
      throw new DeltaError(
        "delta.storage",
        `${key} was stored (generation ${generation}, which readers take as current), but the older ${url}${storedKey} could not be deleted: ${(error as Error).message}. Run the upload again (or \`delete\`) to remove it.`,
        { key, cause: error },
      );
    }
  }

  async function putDirect(
    localPath: string,
    key: string,
    info: { sha256: string; size: number },
    reason: NonNullable<PutResult["reason"]>,
    signal: AbortSignal | undefined,
    forms: Forms,
    extra: Partial<PutResult> = {},
  ): Promise<PutResult> {
    const generation = nextGeneration(forms);
    await storeCall(`Put ${url}${key}`, key, () =>
      store.put(key, createReadStream(localPath), {
        metadata: directMetadata(basename(key), info.sha256, info.size, generation),
        contentType: OCTET_STREAM,
        contentLength: info.size,
        ...(signal ? { signal } : {}),
      }),
    );
    // The delta of an earlier version is older (lower generation): it goes only now, after the new object.
    if (await removeOlderForm(key, key + DELTA_SUFFIX, forms.delta, generation, signal)) {
      await releaseReferenceIfUnused(deltaspaceOf(key), signal);
    }
    return {
      key,
      stored: "direct",
      storedKey: key,
      storedBytes: info.size,
      fileBytes: info.size,
      sha256: info.sha256,
      reason,
      ...extra,
    };
  }

  async function put(localPath: string, key: string, putOptions: PutOptions = {}): Promise<PutResult> {
    parseOptions(putOptionsSchema, putOptions, "put");
    checkKey(key);
    const { signal, onProgress } = putOptions;
    signal?.throwIfAborted();
    const path = resolve(localPath);
    const fileStat = await stat(path).catch(() => undefined);
    if (!fileStat?.isFile()) {
      throw new DeltaError("delta.notFound", `Local file ${localPath} does not exist or is not a file.`, { key });
    }
    const size = fileStat.size;
    const report = (loadedBytes: number) => onProgress?.({ loadedBytes, totalBytes: size, current: key });
    // The file's SHA-256 and the HEADs of its two stored forms are independent: read the file while the
    // requests are in flight (issue 15). A failed HEAD stops the read instead of letting it run on.
    const stopHash = new AbortController();
    const hashSignal = signal ? AbortSignal.any([signal, stopHash.signal]) : stopHash.signal;
    const [sha256, forms] = await Promise.all([
      sha256OfFile(path, hashSignal, (n) => report(Math.floor(n / 2))),
      headForms(key, signal).catch((error: unknown) => {
        stopHash.abort(error);
        throw error;
      }),
    ]);
    const info = { sha256, size };
    const noDelta = putOptions.noDelta ?? options.noDelta ?? false;
    const ratioLimit = putOptions.maxRatio ?? maxRatio;
    const engineChoice = putOptions.engine ?? defaultEngine;
    const warningsBefore = warnings.length;
    const finish = (result: PutResult) => {
      report(size);
      return warnings.length > warningsBefore ? { ...result, warnings: warnings.slice(warningsBefore) } : result;
    };
    if (noDelta) return finish(await putDirect(path, key, info, "noDelta", signal, forms));
    if (!isEligible(key)) return finish(await putDirect(path, key, info, "notEligible", signal, forms));

    const deltaspace = deltaspaceOf(key);
    const refKey = deltaspace + REFERENCE_NAME;
    let refInfo = await head(refKey, signal);
    let createdReference = false;
    let encoder: DeltaEngine | undefined;
    if (!refInfo) {
      // A new deltaspace: the engine of its first (zero-diff) delta fixes its format, recorded on the reference.
      const first = await selectEncoder(engines, engineChoice, size, size);
      if (!first.engine) {
        logger.info("delta-store: no delta engine fits; storing directly", { key, why: first.why });
        return finish(await putDirect(path, key, info, "noEngine", signal, forms, { detail: first.why }));
      }
      encoder = first.engine;
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html — If-None-Match: * makes the
        // first upload of a deltaspace win once; a concurrent first upload gets 412 and deltas against it.
        await store.put(refKey, createReadStream(path), {
          ifNoneMatch: "*",
          metadata: referenceMetadata(basename(key), sha256, size, encoder.name),
          contentType: OCTET_STREAM,
          contentLength: size,
          ...(signal ? { signal } : {}),
        });
        createdReference = true;
        await cache.seed(sha256, path, signal);
      } catch (error) {
        if (!isObjectStoreError(error, "preconditionFailed")) throw wrapStoreError(error, `Put ${url}${refKey}`, key);
        // Another writer created the deltaspace: its reference decides the format.
        encoder = undefined;
        refInfo = await head(refKey, signal);
        if (!refInfo) {
          throw new DeltaError(
            "delta.conflict",
            `The reference ${url}${refKey} was created and removed by another writer meanwhile; retry the upload.`,
            { key },
          );
        }
      }
    }
    // Remote data: the reference's hash becomes a cache path only once it is a valid SHA-256.
    const refSha: Sha256Hex | undefined = createdReference ? sha256 : referenceSha256(refInfo!.metadata);
    const refSize = createdReference ? size : refInfo!.size;
    if (!refSha) {
      logger.warn("delta-store: reference has no valid dg-file-sha256; storing directly", { refKey });
      return finish(
        await putDirect(path, key, info, "referenceUnusable", signal, forms, {
          detail: `${url}${refKey} has no valid dg-file-sha256 (64 lowercase hex characters), so no delta can be made against it`,
        }),
      );
    }

    let mixed: string | undefined;
    if (!encoder) {
      const format = await deltaspaceFormat(refInfo!, deltaspace, signal);
      const selection = await selectEncoder(engines, engineChoice, refSize, size, format);
      if (!selection.engine) {
        logger.info("delta-store: no delta engine fits; storing directly", { key, why: selection.why });
        return finish(await putDirect(path, key, info, "noEngine", signal, forms, { detail: selection.why }));
      }
      encoder = selection.engine;
      if (formatOf(encoder.name) !== format) {
        // Only an explicit engine gets here: `auto` keeps the deltaspace's format.
        mixed = `the deltaspace ${deltaspace || "(root)"} holds ${format === "zstd" ? "zstd" : "VCDIFF (xdelta3)"} deltas; this ${encoder.name} delta was asked for and mixes formats${encoder.name === "zstd" ? " (DeltaGlider cannot read it)" : ""}`;
        logger.warn("delta-store: engine asked for differs from the deltaspace's format", { key, detail: mixed });
      }
    }

    const reference = createdReference
      ? { path, size, release: async () => {} }
      : await cache.acquire(
          refSha,
          async (sink) => {
            const got = await storeCall(`Get ${url}${refKey}`, key, () => store.get(refKey, signal ? { signal } : {}));
            await pipeline(got.body, sink, signal ? { signal } : {});
          },
          signal,
        );
    const deltaPath = await cache.tempPath(".delta");
    try {
      const maxOutputBytes = Math.floor(ratioLimit * size);
      const encoded = await encoder.encode({
        referencePath: reference.path,
        referenceSize: reference.size,
        targetPath: path,
        targetSize: size,
        outputPath: deltaPath,
        maxOutputBytes,
        ...(signal ? { signal } : {}),
      });
      const ratio = size === 0 ? 0 : encoded.size / size;
      // A zero-diff delta of the reference itself is always kept (DeltaGlider's layout needs it).
      if (encoded.tooLarge && !createdReference) {
        logger.info("delta-store: delta over maxRatio; storing directly", { key, ratio, maxRatio: ratioLimit });
        return finish(
          await putDirect(path, key, info, "ratioExceeded", signal, forms, {
            ratio: Math.min(ratio, 1),
            engine: encoder.name,
          }),
        );
      }
      const deltaKey = key + DELTA_SUFFIX;
      const deltaSize = (await stat(deltaPath)).size;
      const generation = nextGeneration(forms);
      const meta = deltaMetadata({
        originalName: basename(key),
        fileSha256: sha256,
        fileSize: size,
        refKey: bucketPrefix + refKey,
        refSha256: refSha,
        deltaSize,
        engine: encoder.name,
        deltaCmd: encoded.deltaCmd,
        ...(encoded.zstdWindowLog !== undefined ? { zstdWindowLog: encoded.zstdWindowLog } : {}),
        ...(createdReference || refSha === sha256 ? { note: "zero-diff (reference identical)" } : {}),
        generation,
      });
      await storeCall(`Put ${url}${deltaKey}`, key, () =>
        store.put(deltaKey, createReadStream(deltaPath), {
          metadata: meta,
          contentType: OCTET_STREAM,
          contentLength: deltaSize,
          ...(signal ? { signal } : {}),
        }),
      );
      if (!createdReference) {
        // A concurrent `delete` of the deltaspace's last file may have removed the reference between our HEAD
        // and our PUT; then this delta cannot be decoded, so the file goes in directly instead.
        const now = await head(refKey, signal);
        if (!now || readMeta(now.metadata, "file-sha256") !== refSha) {
          logger.warn("delta-store: reference changed during upload; storing directly", { key });
          await storeCall(`Delete ${url}${deltaKey}`, key, () => store.delete(deltaKey, signal ? { signal } : {}));
          return finish(await putDirect(path, key, info, "referenceChanged", signal, forms));
        }
      }
      // The direct object of an earlier version is older (lower generation): it goes only now.
      await removeOlderForm(key, key, forms.direct, generation, signal);
      return finish({
        key,
        stored: createdReference ? "reference" : "delta",
        storedKey: createdReference ? refKey : deltaKey,
        storedBytes: createdReference ? size + deltaSize : deltaSize,
        fileBytes: size,
        sha256,
        engine: encoder.name,
        ratio,
        ...(mixed ? { detail: mixed } : {}),
      });
    } finally {
      await rm(deltaPath, { force: true });
      await reference.release();
    }
  }

  interface Resolved {
    kind: "delta" | "direct";
    info: ObjectInfo;
    storedKey: string;
  }

  async function resolveKey(key: string, signal?: AbortSignal): Promise<Resolved> {
    const { delta, direct } = await headForms(key, signal);
    if (delta && (!direct || deltaIsCurrent(delta, direct))) {
      return { kind: "delta", info: delta, storedKey: key + DELTA_SUFFIX };
    }
    if (direct) return { kind: "direct", info: direct, storedKey: key };
    throw new DeltaError("delta.notFound", `No file ${key} in ${url}: check the key with \`list\`.`, { key });
  }

  /**
   * Which form is current when both exist: the higher `dg-generation`; on a tie (objects written without
   * one, by DeltaGlider or older versions) the later LastModified, then the delta.
   */
  function deltaIsCurrent(delta: ObjectInfo, direct: ObjectInfo): boolean {
    const d = generationOf(delta.metadata);
    const o = generationOf(direct.metadata);
    if (d !== o) return d > o;
    return delta.lastModified >= direct.lastModified;
  }

  /** Stream the reconstructed bytes of `key` into `sink` and check them. */
  async function reconstruct(
    key: string,
    sink: Writable,
    signal: AbortSignal | undefined,
    onBytes?: (n: number, total: number) => void,
    /** Fetch the reference from the store even when the cache has it (`verify`). */
    refreshReference = false,
  ): Promise<{
    kind: "delta" | "direct";
    bytes: number;
    expected?: string;
    sha256: string;
    md5: string;
    engine?: EngineName;
    info: ObjectInfo;
  }> {
    const resolved = await resolveKey(key, signal);
    if (resolved.kind === "direct") {
      const got = await storeCall(`Get ${url}${key}`, key, () => store.get(key, signal ? { signal } : {}));
      let declared: ReturnType<typeof parseDirectMeta>;
      try {
        declared = parseDirectMeta(got.metadata, `${url}${key}`, key);
      } catch (error) {
        got.body.destroy();
        throw error;
      }
      // Never more bytes than declared reach the output: `dg-file-size`, else the object's own size.
      const total = declared.fileSize ?? got.size;
      const hasher = hashingTransform((n) => onBytes?.(n, total));
      await storeCall(`Get ${url}${key}`, key, () =>
        pipeline(got.body, createSizeLimit(total, `${url}${key}`), hasher.transform, sink, signal ? { signal } : {}),
      );
      const { sha256, md5 } = hasher.digest();
      const expected = declared.fileSha256;
      return {
        kind: "direct",
        bytes: hasher.size,
        ...(expected ? { expected } : {}),
        sha256,
        md5,
        info: got,
      };
    }
    const meta: DeltaMeta | undefined = parseDeltaMeta(resolved.info.metadata, `${url}${resolved.storedKey}`, key);
    if (!meta) {
      throw new DeltaError(
        "delta.integrity",
        `${url}${resolved.storedKey} lacks the dg-file-sha256/dg-file-size/dg-ref-key/dg-ref-sha256 metadata a delta needs.`,
        { key },
      );
    }
    const refKey = refKeyToStoreKey(meta.refKey, deltaspaceOf(key));
    // `verify` checks the stored reference: present, and hashing to dg-ref-sha256. Its bytes are fetched and
    // hashed once per store instance and ETag; later verifies of the deltaspace HEAD it (still there, same ETag).
    let refresh = false;
    let storedRefEtag: string | undefined;
    if (refreshReference) {
      const stored = await head(refKey, signal);
      if (!stored) {
        throw new DeltaError(
          "delta.integrity",
          `The reference ${url}${refKey} that ${key} needs is missing; the delta cannot be decoded.`,
          { key },
        );
      }
      storedRefEtag = stored.etag;
      refresh = verifiedReferences.get(refKey) !== `${stored.etag} ${meta.refSha256}`;
    }
    let reference: Awaited<ReturnType<ReferenceCache["acquire"]>>;
    try {
      reference = await cache.acquire(
        meta.refSha256,
        async (refSink) => {
          const got = await storeCall(`Get ${url}${refKey}`, key, () => store.get(refKey, signal ? { signal } : {}));
          await pipeline(got.body, refSink, signal ? { signal } : {});
        },
        signal,
        { refresh },
      );
      if (refresh && storedRefEtag !== undefined) verifiedReferences.set(refKey, `${storedRefEtag} ${meta.refSha256}`);
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (isObjectStoreError(cause, "notFound")) {
        throw new DeltaError(
          "delta.integrity",
          `The reference ${url}${refKey} that ${key} needs is missing; the delta cannot be decoded.`,
          { key, cause: error },
        );
      }
      throw error;
    }
    try {
      const got = await storeCall(`Get ${url}${resolved.storedKey}`, key, () =>
        store.get(resolved.storedKey, signal ? { signal } : {}),
      );
      if (got.etag !== resolved.info.etag) {
        // Rewritten between our HEAD and GET: its metadata (hashes, size) may no longer describe these bytes.
        got.body.destroy();
        throw new DeltaError(
          "delta.conflict",
          `${url}${resolved.storedKey} changed while it was being read (another upload of ${key}); try again.`,
          { key },
        );
      }
      const { head: deltaHead, stream: deltaStream } = await storeCall(`Get ${url}${resolved.storedKey}`, key, () =>
        peek(got.body, 8),
      );
      let engine: DeltaEngine;
      try {
        engine = await selectDecoder(
          engines,
          meta.engine,
          { referenceSize: reference.size, fileSize: meta.fileSize, deltaHead },
          key,
        );
      } catch (error) {
        deltaStream.destroy();
        throw error;
      }
      const hasher = hashingTransform((n) => onBytes?.(n, meta.fileSize));
      // Decoded output is capped at `dg-file-size` before it reaches the hash or the output file, whatever
      // the engine: a small delta that expands to gigabytes fails at the first byte past the declared size.
      const cap = createSizeLimit(meta.fileSize, `${url}${key} decoded`);
      const decoded = pipeline(cap, hasher.transform, sink, signal ? { signal } : {});
      let sinkError: unknown;
      decoded.catch((error: unknown) => {
        sinkError = error;
      });
      try {
        await engine.decode({
          referencePath: reference.path,
          referenceSize: reference.size,
          delta: deltaStream,
          deltaSize: got.size,
          sink: cap,
          meta,
          ...(signal ? { signal } : {}),
        });
        await decoded;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        // The engine sees a closed pipe when the cap trips; report the cap, not the engine's complaint.
        await new Promise((resolve) => setImmediate(resolve));
        if (isObjectStoreError(sinkError, "invalidRemoteData")) throw wrapStoreError(sinkError, "Decode", key);
        if (isObjectStoreError(error, "invalidRemoteData")) throw wrapStoreError(error, "Decode", key);
        if (error instanceof DeltaError) {
          throw new DeltaError(error.code, `${key}: ${error.message}`, { key, cause: error });
        }
        throw wrapStoreError(error, `Reconstruct ${url}${key}`, key);
      }
      const { sha256, md5 } = hasher.digest();
      return {
        kind: "delta",
        bytes: hasher.size,
        expected: meta.fileSha256,
        sha256,
        md5,
        engine: engine.name,
        info: resolved.info,
      };
    } finally {
      await reference.release();
    }
  }

  function checkDirectWithoutSha(result: { bytes: number; md5: string; info: ObjectInfo }): string | undefined {
    if (result.bytes !== result.info.size) return `got ${result.bytes} bytes, the object has ${result.info.size}`;
    const etag = result.info.etag.replace(/^W\//, "").replace(/"/g, "");
    if (/^[0-9a-f]{32}$/.test(etag) && etag !== result.md5) return `MD5 ${result.md5} differs from the ETag ${etag}`;
    return undefined;
  }

  async function get(key: string, localPath: string, getOptions: GetOptions = {}): Promise<GetResult> {
    checkKey(key);
    const { signal, onProgress } = getOptions;
    signal?.throwIfAborted();
    const dest = resolve(localPath);
    await mkdir(dirname(dest), { recursive: true });
    // The temp file sits beside the destination so the final rename is atomic (same file system).
    const tmp = `${dest}.${randomUUID().slice(0, 8)}.s3kit-part`;
    let out: WriteStream | undefined;
    try {
      // Opened before anything is fetched: a path the file system refuses (too long, read-only) fails here,
      // as this item's error, never as an unhandled stream error later.
      out = createWriteStream(tmp, { mode: 0o644, flags: "wx" });
      await once(out, "open");
      const result = await reconstruct(key, out, signal, (n, total) =>
        onProgress?.({ loadedBytes: n, totalBytes: total, current: key }),
      );
      if (result.expected !== undefined && result.expected !== result.sha256) {
        throw new DeltaError(
          "delta.integrity",
          `${key} reconstructs to SHA-256 ${result.sha256}, not ${result.expected} as recorded; the stored data is corrupt. ${localPath} was not written.`,
          { key },
        );
      }
      if (result.expected === undefined) {
        const problem = checkDirectWithoutSha(result);
        if (problem)
          throw new DeltaError("delta.integrity", `${key}: ${problem}. ${localPath} was not written.`, { key });
      }
      await rename(tmp, dest);
      return {
        key,
        path: dest,
        kind: result.kind,
        bytes: result.bytes,
        sha256: result.sha256,
        ...(result.engine ? { engine: result.engine } : {}),
        sha256Verified: result.expected !== undefined,
      };
    } finally {
      out?.destroy();
      await rm(tmp, { force: true });
    }
  }

  async function verify(key: string, verifyOptions: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    checkKey(key);
    const { signal } = verifyOptions;
    const discard = new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    let kind: "delta" | "direct" = "direct";
    try {
      kind = (await resolveKey(key, signal)).kind;
      // The reference is fetched from the store and hashed, never taken from the local cache: verify checks
      // what is stored (a deleted or corrupt reference.bin fails it).
      const result = await reconstruct(key, discard, signal, undefined, true);
      const base = {
        key,
        kind: result.kind,
        actualSha256: result.sha256,
        ...(result.expected ? { expectedSha256: result.expected } : {}),
        ...(result.engine ? { engine: result.engine } : {}),
      };
      if (result.expected !== undefined) {
        return result.expected === result.sha256
          ? { ...base, valid: true }
          : { ...base, valid: false, error: "SHA-256 mismatch" };
      }
      const problem = checkDirectWithoutSha(result);
      return problem ? { ...base, valid: false, error: problem } : { ...base, valid: true };
    } catch (error) {
      if (error instanceof DeltaError && error.code === "delta.integrity") {
        return { key, kind, valid: false, error: error.message };
      }
      throw error;
    }
  }

  async function* list(prefix?: string, listOptions: ListOptions = {}): AsyncIterable<DeltaListEntry> {
    const { signal } = listOptions;
    const recursive = listOptions.recursive ?? true;
    const from = normalisePrefix(prefix);
    const limit = createLimit(concurrency);
    const iterator = store.list({
      prefix: from,
      ...(recursive ? {} : { delimiter: "/" }),
      ...(signal ? { signal } : {}),
    });
    let batch: ListEntry[] = [];
    // Both forms of a key exist only after a failed cleanup (see "Write ordering"): the listing shows the
    // current one. A direct entry waits in `queue` (and everything after it, to keep the order) until the
    // listing has passed where its `.delta` twin would sort.
    const queue: { entry: DeltaListEntry; rawKey: string }[] = [];
    const release = function* (nextRawKey: string | undefined): Generator<DeltaListEntry> {
      while (queue.length > 0) {
        const { entry, rawKey } = queue[0]!;
        const twinMayCome =
          nextRawKey !== undefined &&
          entry.kind === "direct" &&
          Buffer.compare(Buffer.from(rawKey + DELTA_SUFFIX), Buffer.from(nextRawKey)) >= 0;
        if (twinMayCome) return;
        queue.shift();
        yield entry;
      }
    };
    const flush = async function* (): AsyncGenerator<DeltaListEntry> {
      const current = batch;
      batch = [];
      const resolved = await Promise.all(current.map((entry) => limit(() => toListed(entry, signal))));
      for (const [i, entry] of resolved.entries()) {
        const raw = current[i]!;
        const rawKey = raw.kind === "prefix" ? raw.prefix : raw.key;
        yield* release(rawKey);
        if (!entry) continue;
        if (entry.kind !== "folder") {
          const other = entry.kind === "delta" ? "direct" : "delta";
          const twin = queue.findIndex((q) => q.entry.kind === other && q.entry.key === entry.key);
          if (twin !== -1) {
            const deltaEntry = entry.kind === "delta" ? entry : queue[twin]!.entry;
            const deltaInfo = listedInfo.get(deltaEntry);
            const direct = await head(entry.key, signal);
            const deltaWins = !direct || (deltaInfo !== undefined && deltaIsCurrent(deltaInfo, direct));
            if (deltaWins === (entry.kind === "delta")) queue.splice(twin, 1);
            else continue;
          }
        }
        queue.push({ entry, rawKey });
      }
    };
    try {
      for await (const entry of iterator) {
        batch.push(entry);
        if (batch.length >= 256) yield* flush();
      }
    } catch (error) {
      throw wrapStoreError(error, `List ${url}${from}`);
    }
    yield* flush();
    yield* release(undefined);
  }

  async function toListed(entry: ListEntry, signal?: AbortSignal): Promise<DeltaListEntry | undefined> {
    if (entry.kind === "prefix") {
      if (entry.prefix === ".deltaglider/") return undefined;
      return { kind: "folder", key: entry.prefix };
    }
    const name = basename(entry.key);
    if (name === REFERENCE_NAME || entry.key.startsWith(".deltaglider/")) return undefined;
    if (name.endsWith(DELTA_SUFFIX) && name.length > DELTA_SUFFIX.length) {
      const info = await head(entry.key, signal);
      if (!info) return undefined;
      let meta: DeltaMeta | undefined;
      let problem: string | undefined;
      try {
        meta = parseDeltaMeta(info.metadata, `${url}${entry.key}`);
      } catch (error) {
        problem = (error as Error).message;
      }
      const listed: ListedFile = {
        kind: "delta",
        key: entry.key.slice(0, -DELTA_SUFFIX.length),
        size: meta?.fileSize ?? entry.size,
        storedSize: entry.size,
        lastModified: entry.lastModified,
        etag: entry.etag,
        ...(meta ? { sha256: meta.fileSha256, engine: meta.engine } : {}),
        ...(problem ? { problem } : {}),
      };
      listedInfo.set(listed, info);
      return listed;
    }
    return {
      kind: "direct",
      key: entry.key,
      size: entry.size,
      storedSize: entry.size,
      lastModified: entry.lastModified,
      etag: entry.etag,
    };
  }

  /**
   * The delta format of an existing deltaspace: `dg-engine` on its reference (written since this version);
   * for older s3kit references the zero-diff delta of the first file (`dg-source-name`); else VCDIFF, which
   * is what every DeltaGlider deltaspace holds.
   */
  async function deltaspaceFormat(ref: ObjectInfo, deltaspace: string, signal?: AbortSignal): Promise<DeltaFormat> {
    const recorded = readMeta(ref.metadata, "engine");
    if (recorded !== undefined) return recorded === "zstd" ? "zstd" : "vcdiff";
    const source = readMeta(ref.metadata, "source-name");
    if (!source || source.includes("/") || source.endsWith(DELTA_SUFFIX)) return "vcdiff";
    const firstKey = deltaspace + source + DELTA_SUFFIX;
    try {
      validateKey(firstKey);
    } catch {
      return "vcdiff";
    }
    const first = await head(firstKey, signal).catch(() => undefined);
    return first && readMeta(first.metadata, "engine") === "zstd" ? "zstd" : "vcdiff";
  }

  /** Delete a deltaspace's reference when no `.delta` object in it remains. */
  async function releaseReferenceIfUnused(deltaspace: string, signal?: AbortSignal): Promise<boolean> {
    const refKey = deltaspace + REFERENCE_NAME;
    try {
      for await (const entry of store.list({ prefix: deltaspace, delimiter: "/", ...(signal ? { signal } : {}) })) {
        if (entry.kind === "object" && entry.key.endsWith(DELTA_SUFFIX)) return false;
      }
    } catch (error) {
      throw wrapStoreError(error, `List ${url}${deltaspace}`);
    }
    const ref = await head(refKey, signal);
    if (!ref) return false;
    try {
      // If-Match: a reference replaced meanwhile (a new first upload) is not ours to remove.
      await store.delete(refKey, { ifMatch: ref.etag, ...(signal ? { signal } : {}) });
      return true;
    } catch (error) {
      if (isObjectStoreError(error, "preconditionFailed") || isObjectStoreError(error, "notFound")) return false;
      throw wrapStoreError(error, `Delete ${url}${refKey}`);
    }
  }

  async function deleteOne(key: string, deleteOptions: { signal?: AbortSignal } = {}): Promise<DeleteResult> {
    checkKey(key);
    const { signal } = deleteOptions;
    const [delta, direct] = await Promise.all([head(key + DELTA_SUFFIX, signal), head(key, signal)]);
    if (!delta && !direct) {
      throw new DeltaError("delta.notFound", `No file ${key} in ${url}: nothing deleted.`, { key });
    }
    const deletedKeys: string[] = [];
    for (const [info, storedKey] of [
      [delta, key + DELTA_SUFFIX],
      [direct, key],
    ] as const) {
      if (!info) continue;
      await storeCall(`Delete ${url}${storedKey}`, key, () => store.delete(storedKey, signal ? { signal } : {}));
      deletedKeys.push(storedKey);
    }
    let referenceDeleted = false;
    if (delta) {
      referenceDeleted = await releaseReferenceIfUnused(deltaspaceOf(key), signal);
      if (referenceDeleted) deletedKeys.push(deltaspaceOf(key) + REFERENCE_NAME);
    }
    return { key, deletedKeys, referenceDeleted };
  }

  async function deletePrefix(prefix: string, deleteOptions: DeletePrefixOptions = {}): Promise<DeletePrefixResult> {
    const { signal, filter, dryRun } = deleteOptions;
    const from = normalisePrefix(prefix);
    const result: DeletePrefixResult = { deleted: [], referencesDeleted: [], failed: [] };
    const rawKeys: string[] = [];
    const spaces = new Set<string>();
    try {
      for await (const entry of store.list({ prefix: from, ...(signal ? { signal } : {}) })) {
        if (entry.kind !== "object") continue;
        const name = basename(entry.key);
        if (name === REFERENCE_NAME || entry.key.startsWith(".deltaglider/")) continue;
        const isDelta = name.endsWith(DELTA_SUFFIX) && name.length > DELTA_SUFFIX.length;
        const logical = isDelta ? entry.key.slice(0, -DELTA_SUFFIX.length) : entry.key;
        if (filter && !filter(logical)) continue;
        rawKeys.push(entry.key);
        if (!result.deleted.includes(logical)) result.deleted.push(logical);
        if (isDelta) spaces.add(deltaspaceOf(logical));
      }
    } catch (error) {
      throw wrapStoreError(error, `List ${url}${from}`);
    }
    if (dryRun) return result;
    const out = await storeCall(`Delete under ${url}${from}`, from, () =>
      store.deleteMany(rawKeys, signal ? { signal } : {}),
    );
    for (const e of out.errors) result.failed.push({ key: e.key, error: `${e.code}: ${e.message}` });
    if (out.errors.length > 0) {
      const failedKeys = new Set(out.errors.map((e) => e.key.replace(/\.delta$/, "")));
      result.deleted = result.deleted.filter((k) => !failedKeys.has(k));
    }
    const limit = createLimit(concurrency);
    await Promise.all(
      [...spaces].map((space) =>
        limit(async () => {
          if (await releaseReferenceIfUnused(space, signal)) result.referencesDeleted.push(space + REFERENCE_NAME);
        }),
      ),
    );
    return result;
  }

  async function stats(prefix?: string, statsOptions: { signal?: AbortSignal } = {}): Promise<StatsResult> {
    const { signal } = statsOptions;
    const from = normalisePrefix(prefix);
    const result: StatsResult = {
      prefix: from,
      files: 0,
      deltas: 0,
      directs: 0,
      references: 0,
      originalBytes: 0,
      storedBytes: 0,
      savedBytes: 0,
      savings: 0,
    };
    try {
      for await (const entry of store.list({ prefix: from, ...(signal ? { signal } : {}) })) {
        if (entry.kind !== "object" || entry.key.startsWith(".deltaglider/")) continue;
        if (basename(entry.key) === REFERENCE_NAME) {
          result.references++;
          result.storedBytes += entry.size;
        }
      }
    } catch (error) {
      throw wrapStoreError(error, `List ${url}${from}`);
    }
    for await (const entry of list(from, signal ? { signal } : {})) {
      if (entry.kind === "folder") continue;
      result.files++;
      if (entry.kind === "delta") result.deltas++;
      else result.directs++;
      result.originalBytes += entry.size;
      result.storedBytes += entry.storedSize;
    }
    result.savedBytes = result.originalBytes - result.storedBytes;
    result.savings = result.originalBytes === 0 ? 0 : result.savedBytes / result.originalBytes;
    return result;
  }

  async function engineStatus(): Promise<EngineStatus[]> {
    return (await describeEngines(options.xdelta3Path ? { xdelta3Path: options.xdelta3Path } : {})).engines;
  }

  const deltaStore: DeltaStore = {
    url,
    get warnings() {
      return [...warnings];
    },
    put,
    get,
    list,
    delete: deleteOne,
    deletePrefix,
    stats,
    verify,
    async sync(source, destination, syncOptions) {
      const before = warnings.length;
      const result = await syncStore(deltaStore, store, source, destination, { concurrency, ...syncOptions });
      for (const warning of warnings.slice(before))
        if (!result.warnings.includes(warning)) result.warnings.push(warning);
      return result;
    },
    engines: engineStatus,
    async close() {
      await cache.close();
      if (ownStore) await store.close();
    },
  };
  return deltaStore;
}
