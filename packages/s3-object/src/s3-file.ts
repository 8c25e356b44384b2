import { type BigIntStats, createReadStream } from "node:fs";
import {
  access,
  copyFile,
  type FileHandle,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import {
  combinePartMd5s,
  isObjectStoreError,
  type Logger,
  type ObjectInfo,
  type ObjectStore,
  openObjectStore,
  type ProgressCallback,
  partialPathFor,
  removeLeftoverPartials,
  silentLogger,
  unquoteEtag,
} from "@toolkit/shared";
import { defaultCacheDir, type ObjectAddress, parseObjectUrl, pathInside } from "./address.ts";
import { downloadToFile } from "./download.ts";
import { S3ObjectError, toS3ObjectError } from "./errors.ts";
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_MULTIPART_THRESHOLD_BYTES,
  DEFAULT_PART_CONCURRENCY,
  DEFAULT_PART_SIZE_BYTES,
  type S3FileOptions,
  validateFileOptions,
} from "./options.ts";
import {
  contentIdOf,
  type FileState,
  fingerprintOf,
  hashFile,
  type LocalHash,
  LocalHasher,
  readState,
  removeState,
  statePathFor,
  statLocal,
  tempPathFor,
  writeState,
} from "./state.ts";
import { isMultipartEtagOf, PART_SIZE_METADATA, SHA256_METADATA, type Verification } from "./verify.ts";

/** Options of {@link S3File.download}. */
export interface DownloadOptions {
  /** Download even when the local copy has changes not uploaded (they are lost). @default false */
  force?: boolean;
  /**
   * The object's current ETag, when the caller just listed it. If it equals the version the local copy was
   * synced with and the local copy is unchanged, no request is made at all.
   */
  remoteEtag?: string;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

/** Result of {@link S3File.download}. */
export interface DownloadResult {
  /** False when the local copy was already current (a 304: no body moved). */
  transferred: boolean;
  /** Body bytes received. */
  bytes: number;
  /** The remote version the local copy now holds. */
  etag: string;
  /** How the bytes were checked (`"none"` when not transferred or not verifiable). */
  verified: Verification;
  localPath: string;
}

/** Options of {@link S3File.upload}. */
export interface UploadOptions {
  /** Overwrite the remote even if it changed since our last download (no `If-Match`). @default false */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

/** Result of {@link S3File.upload}. */
export interface UploadResult {
  /** False when the local copy was unchanged since the last sync (no request made) or equal to the remote. */
  transferred: boolean;
  /** Body bytes sent. */
  bytes: number;
  /** The remote version after the call. */
  etag: string;
  localPath: string;
}

/** Where the local copy stands against the remote. */
export type SyncStatus =
  /** Both hold the version last synced. */
  | "same"
  /** The local copy changed since the last sync; the remote did not. `upload()` will send it. */
  | "localNewer"
  /** The remote changed (or was deleted) since the last sync; the local copy did not. `download()` will fetch it. */
  | "remoteNewer"
  /** Both changed, or they differ and were never synced. Choose a side with `force`. */
  | "conflict"
  /** Only a local file exists. */
  | "localOnly"
  /** Only the remote exists. */
  | "remoteOnly"
  /** Neither exists. */
  | "absent";

export interface StatusResult {
  status: SyncStatus;
  url: string;
  localPath: string;
  local?: { size: number; contentId: string };
  remote?: { size: number; etag: string; lastModified: Date };
  /** The ETag of the version last synced, if any. */
  syncedEtag?: string;
}

/** Modes of {@link S3File.open}: as `fs.open` flags. */
export type OpenMode = "r" | "w" | "a" | "r+";

/**
 * An open local copy. Writes go to a temp file; `close()` puts it in place and uploads it (with `If-Match`).
 * Disposing (`await using`) without `close()` — for example because an exception left the block — discards
 * the writes: nothing is uploaded and the cached copy is unchanged.
 */
export interface S3FileHandle extends AsyncDisposable {
  readonly mode: OpenMode;
  /** The file the handle reads or writes (a temp file beside the local copy for w, a, r+). */
  readonly path: string;
  /** The underlying `fs/promises` handle, for reads, writes and streams. */
  readonly file: FileHandle;
  /** Write at the current position (the end, in mode `a`). */
  write(data: string | Uint8Array): Promise<void>;
  /** The rest of the file from the current position, as UTF-8 text. */
  readText(): Promise<string>;
  /** Close; for w, a and r+ put the written file in place and upload it. Idempotent. */
  close(options?: UploadOptions): Promise<UploadResult | undefined>;
  /** Close and discard the writes. Idempotent. */
  abort(): Promise<void>;
}

interface Baseline {
  /** `null`: the object must not exist (If-None-Match: *). */
  etag: string | null;
}

const remoteMatches = (remote: ObjectInfo, hash: LocalHash): boolean =>
  remote.size === hash.size &&
  ((hash.sha256 !== "" && remote.metadata[SHA256_METADATA] === hash.sha256) ||
    (hash.md5 !== "" && unquoteEtag(remote.etag) === hash.md5) ||
    (hash.multipart !== undefined && remote.etag === hash.multipart.etag));

/**
 * One object (`s3://bucket/key` or `file:///path`) bound to a local file. Downloads only when the remote
 * changed (conditional GET), uploads only when the local copy changed, and writes with `If-Match` on the
 * version it last saw, so someone else's change is never overwritten.
 */
export class S3File implements AsyncDisposable {
  /** The object's URL. */
  readonly url: string;
  /** The local copy: the `localPath` option, else `<cacheDir>/<bucket>/<key>`. */
  readonly localPath: string;
  readonly #address: ObjectAddress;
  readonly #options: S3FileOptions;
  readonly #statePath: string;
  readonly #logger: Logger;
  readonly #partSizeBytes: number;
  readonly #thresholdBytes: number;
  #store: ObjectStore | undefined;

  constructor(url: string, options: S3FileOptions = {}) {
    const valid = validateFileOptions(options);
    this.#address = parseObjectUrl(url);
    this.#options = { ...valid };
    this.url = this.#address.url;
    const cacheDir = resolve(valid.cacheDir ?? defaultCacheDir());
    this.localPath = valid.localPath
      ? resolve(valid.localPath)
      : pathInside(cacheDir, this.#address.cacheSegments, `The cache copy of ${this.url}`);
    this.#statePath = statePathFor(cacheDir, this.localPath);
    this.#logger = valid.logger ?? silentLogger;
    this.#partSizeBytes = valid.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    this.#thresholdBytes =
      valid.multipartThresholdBytes ?? Math.max(DEFAULT_MULTIPART_THRESHOLD_BYTES, this.#partSizeBytes);
  }

  /** The bucket (S3) or the parent directory (file://). */
  get bucket(): string {
    return this.#address.container;
  }

  /** The object key. */
  get key(): string {
    return this.#address.key;
  }

  #openStore(): ObjectStore {
    if (this.#store) return this.#store;
    const o = this.#options;
    this.#store = openObjectStore(this.#address.storeUrl, {
      ...(o.client ? { client: o.client } : {}),
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.region ? { region: o.region } : {}),
      ...(o.profile ? { profile: o.profile } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
      concurrency: o.partConcurrency ?? DEFAULT_PART_CONCURRENCY,
      ...(o.logger ? { logger: o.logger } : {}),
      // Issue 17: a store that ignores If-Match would make write-back last-writer-wins; probe, else HEAD first.
      conditionalWrites: o.conditionalWrites ?? "probe",
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
    });
    return this.#store;
  }

  async #readState(): Promise<FileState> {
    return (
      (await readState(this.#statePath, this.url, this.localPath)) ?? {
        version: 2,
        url: this.url,
        localPath: this.localPath,
      }
    );
  }

  /** The state's hash of the local file when its fingerprint still holds. */
  #cachedHash(state: FileState, st: BigIntStats): LocalHash | undefined {
    const cached = state.hash;
    return cached && cached.fingerprint === fingerprintOf(st) ? cached : undefined;
  }

  /** The local file's hashes, from the state when its fingerprint still holds (no re-hashing). */
  async #hashLocal(state: FileState, signal?: AbortSignal): Promise<LocalHash | undefined> {
    const st = await statLocal(this.localPath);
    if (!st) return undefined;
    const cached = this.#cachedHash(state, st);
    if (cached) return cached;
    const hash = await hashFile(
      this.localPath,
      st,
      { partSizeBytes: this.#partSizeBytes, thresholdBytes: this.#thresholdBytes },
      signal,
    );
    state.hash = hash;
    await writeState(this.#statePath, state);
    return hash;
  }

  /**
   * Abort what a killed upload of this object left on the server: when `marker` exists (written before the killed
   * run's multipart upload began), the incomplete uploads of exactly this key are aborted; other keys' stay. Not
   * filtered by time: S3 dates each upload, but S3-compatible servers may not (moto answers one fixed date for
   * all). Another writer's upload of the same key running at that moment would be aborted too, and fail on its
   * completion — nothing is overwritten or lost; two writers of one key conflict anyway (`If-Match`). A failure to
   * list or abort is logged and leaves the marker for the next upload.
   */
  async #abortLeftUploads(store: ObjectStore, key: string, marker: string, signal?: AbortSignal): Promise<void> {
    try {
      await access(marker);
    } catch {
      return; // no marker: the last multipart upload ended
    }
    try {
      for await (const upload of store.listMultipartUploads!(signal ? { signal } : {})) {
        if (upload.key !== key) continue;
        await store.abortMultipartUpload!(upload.key, upload.uploadId, signal ? { signal } : {});
        this.#logger.warn("s3-object: aborted an incomplete upload a killed run left", { url: this.url });
      }
      await rm(marker, { force: true });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      this.#logger.warn("s3-object: could not clean up a killed run's incomplete upload", {
        url: this.url,
        error: String(error),
      });
    }
  }

  async #run<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw toS3ObjectError(error, what);
    }
  }

  /**
   * Bring the local copy up to date. When it holds the current version this is one conditional GET
   * answered 304 (or no request at all, given `remoteEtag`). A new version goes to a temp file, is
   * verified, and only then renamed over the local copy.
   * @throws S3ObjectError `object.notFound` (no such object), `object.localChanges` (unsaved local edits),
   * `object.integrity`, `object.network`.
   */
  download(options: DownloadOptions = {}): Promise<DownloadResult> {
    const { signal } = options;
    return this.#run(`Download of ${this.url}`, () => this.#download(options), signal);
  }

  async #download(options: DownloadOptions): Promise<DownloadResult> {
    const { signal } = options;
    const state = await this.#readState();
    const hash = await this.#hashLocal(state, signal);
    let ifNoneMatch: string | undefined;
    if (hash && !options.force) {
      const synced = state.synced;
      if (synced) {
        if (synced.contentId !== hash.contentId) {
          throw new S3ObjectError(
            "object.localChanges",
            `Download of ${this.url}: the local copy ${this.localPath} has changes not uploaded; upload() them, or download({ force: true }) to discard them.`,
          );
        }
        if (options.remoteEtag !== undefined && options.remoteEtag === synced.etag) {
          return { transferred: false, bytes: 0, etag: synced.etag, verified: "none", localPath: this.localPath };
        }
        ifNoneMatch = synced.etag;
      } else {
        // Never synced: the local file may already be this version (its MD5, or our multipart ETag, is the ETag).
        ifNoneMatch = hash.multipart ? hash.multipart.etag : `"${hash.md5}"`;
      }
    }

    await mkdir(dirname(this.localPath), { recursive: true });
    // A partial file beside the target (the shared naming, so a leftover is recognisable): what a killed earlier
    // download left there goes first.
    await removeLeftoverPartials(this.localPath);
    const temp = partialPathFor(this.localPath);
    const file = await open(temp, "wx+"); // read back for in-order hashing
    let renamed = false;
    try {
      const result = await downloadToFile({
        store: this.#openStore(),
        key: this.#address.key,
        what: this.url,
        file,
        ...(ifNoneMatch ? { ifNoneMatch } : {}),
        partSizeBytes: this.#partSizeBytes,
        partConcurrency: this.#options.partConcurrency ?? DEFAULT_PART_CONCURRENCY,
        attempts: this.#options.attempts ?? DEFAULT_ATTEMPTS,
        verify: this.#options.verify ?? "auto",
        thresholdBytes: this.#thresholdBytes,
        identityPartSize: this.#partSizeBytes,
        logger: this.#logger,
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      await file.close();
      if (result.notModified) {
        const etag = ifNoneMatch!;
        if (!state.synced && hash) {
          state.synced = { etag, size: hash.size, contentId: hash.contentId };
          await writeState(this.#statePath, state);
        }
        return { transferred: false, bytes: 0, etag, verified: "none", localPath: this.localPath };
      }
      signal?.throwIfAborted();
      await rename(temp, this.localPath);
      renamed = true;
      const st = await statLocal(this.localPath);
      // Small files are identified by SHA-256, large ones by the multipart ETag for our part size.
      const big = result.bytes > this.#thresholdBytes;
      const multipart = big ? result.digest.multipart.find((m) => m.partSizeBytes === this.#partSizeBytes) : undefined;
      const contentId = contentIdOf(result.digest.sha256, multipart);
      state.synced = { etag: result.info.etag, size: result.bytes, contentId };
      state.hash = {
        size: result.bytes,
        fingerprint: st ? fingerprintOf(st) : "",
        contentId,
        sha256: big ? "" : result.digest.sha256,
        md5: big ? "" : result.digest.md5,
        ...(multipart ? { multipart } : {}),
      };
      await writeState(this.#statePath, state);
      this.#logger.debug("s3-object: downloaded", { url: this.url, bytes: result.bytes, verified: result.verified });
      return {
        transferred: true,
        bytes: result.bytes,
        etag: result.info.etag,
        verified: result.verified,
        localPath: this.localPath,
      };
    } finally {
      await file.close().catch(() => {});
      if (!renamed) await rm(temp, { force: true });
    }
  }

  /**
   * Send the local copy when it changed since the last sync, with `If-Match` on the ETag last seen (or
   * `If-None-Match: *` for a new object), so a concurrent change is never overwritten.
   * @throws S3ObjectError `object.conflict` (the remote changed; nothing written), `object.notFound`
   * (no local file), `object.integrity` (the file changed while it was being sent).
   */
  upload(options: UploadOptions = {}): Promise<UploadResult> {
    return this.#run(`Upload of ${this.url}`, () => this.#upload(options, undefined), options.signal);
  }

  async #upload(options: UploadOptions, baseline: Baseline | undefined): Promise<UploadResult> {
    const { signal } = options;
    const state = await this.#readState();
    const st = await statLocal(this.localPath);
    if (!st) {
      const folder = await stat(this.localPath).then(
        (s) => s.isDirectory(),
        () => false,
      );
      throw new S3ObjectError(
        "object.notFound",
        folder
          ? `Upload of ${this.url}: the local path ${this.localPath} is a folder, not a file; upload a folder with uploadPrefix().`
          : `Upload of ${this.url}: the local file ${this.localPath} does not exist; download() or write it first.`,
      );
    }
    const size = Number(st.size);
    const multipart = size > this.#thresholdBytes;
    // A large file is hashed while it is sent (one read, not two) unless the hash is needed to decide first.
    let hash: LocalHash | undefined = this.#cachedHash(state, st);
    const ensureHash = async (): Promise<LocalHash> => {
      hash ??= await this.#hashLocal(state, signal);
      if (!hash) throw new S3ObjectError("object.notFound", `Upload of ${this.url}: ${this.localPath} disappeared.`);
      return hash;
    };
    const synced = state.synced;
    const unchanged = (etag: string): UploadResult => ({
      transferred: false,
      bytes: 0,
      etag,
      localPath: this.localPath,
    });
    if (!options.force && synced && (baseline === undefined || baseline.etag === synced.etag)) {
      // Same size as synced (a touch, or an in-place edit): hash to know. Another size has changed for sure.
      if (!multipart || size === synced.size) await ensureHash();
      if (hash?.contentId === synced.contentId) return unchanged(synced.etag);
    }
    const store = this.#openStore();
    const key = this.#address.key;
    const conflict = (why: string) =>
      new S3ObjectError("object.conflict", `Upload of ${this.url} refused: ${why}; nothing was overwritten.`);
    let condition: { ifMatch?: string; ifNoneMatch?: "*" } = {};
    if (!options.force) {
      if (baseline) condition = baseline.etag === null ? { ifNoneMatch: "*" } : { ifMatch: baseline.etag };
      else if (synced) condition = { ifMatch: synced.etag };
      else {
        const remote = await store.head(key, signal ? { signal } : {});
        if (!remote) condition = { ifNoneMatch: "*" };
        else if (remoteMatches(remote, await ensureHash())) {
          state.synced = { etag: remote.etag, size: remote.size, contentId: hash!.contentId };
          await writeState(this.#statePath, state);
          return unchanged(remote.etag);
        } else {
          throw conflict(
            "the remote object exists and differs from the local file, which was never synced with it; download() it first or pass force",
          );
        }
      }
    }
    if (!multipart) await ensureHash(); // small: hashed first, so the SHA-256 goes into the metadata
    const known = hash;
    const streamed = new LocalHasher(size, {
      partSizeBytes: this.#partSizeBytes,
      thresholdBytes: this.#thresholdBytes,
    });
    // Large bodies are always hashed as they are sent: that is the multipart ETag S3 must answer with. On S3 the
    // store reads each part from its offset and hands us the same bytes once the part is stored (one read, MD5
    // per part, combined at the end); other stores get a stream hashed on its way through.
    const fileParts = multipart && store.location.kind === "s3";
    // A multipart upload leaves a marker beside the state while it runs: found by a later upload, it means a run
    // was killed mid-upload, and the incomplete upload it left on the server is aborted (see #abortLeftUploads).
    const marker =
      multipart && store.listMultipartUploads && store.abortMultipartUpload
        ? `${this.#statePath}.multipart`
        : undefined;
    if (marker) {
      await this.#abortLeftUploads(store, key, marker, signal);
      await mkdir(dirname(marker), { recursive: true });
      await writeFile(marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
    }
    const partMd5s: Buffer[] = [];
    const source = createReadStream(this.localPath, fileParts ? {} : { highWaterMark: 1024 * 1024 });
    const body =
      !multipart || fileParts
        ? source
        : Readable.from(
            (async function* () {
              for await (const chunk of source) {
                streamed.update(chunk as Buffer);
                yield chunk as Buffer;
              }
            })(),
          );
    const partCount = Math.ceil(size / this.#partSizeBytes);
    // A part's MD5 only where it is checked (verify: "strict"). Otherwise S3 has checked each part against the
    // SHA-256 it was signed with, and the multipart ETag of its answer is the content id: 1.4 s of CPU per GiB less.
    const partMd5 = fileParts && this.#options.verify === "strict";
    // The hash of what was sent: from before (small files), the stored parts, the answer's ETag or the stream.
    let sentHash: LocalHash | undefined;
    const sentDigest = (answeredEtag?: string): LocalHash => {
      if (sentHash) return sentHash;
      if (!multipart) sentHash = known!;
      else if (!fileParts) sentHash = streamed.digest(fingerprintOf(st));
      else {
        const whole = answeredEtag !== undefined || partMd5s.filter((d) => d !== undefined).length === partCount;
        const etag = answeredEtag ?? (whole ? combinePartMd5s(partMd5s) : "");
        const multipartHash = { partSizeBytes: this.#partSizeBytes, etag };
        sentHash = {
          size: whole ? size : 0,
          fingerprint: fingerprintOf(st),
          contentId: whole ? contentIdOf("", multipartHash) : "",
          sha256: "",
          md5: "",
          ...(whole ? { multipart: multipartHash } : {}),
        };
      }
      return sentHash;
    };
    /**
     * What was sent when neither part MD5s nor a trusted answer say it: the file's own hash (the state's, when the
     * comparison above already took it), if the file is unchanged since the upload began.
     */
    const sentByFile = async (): Promise<LocalHash> => {
      if (!fileParts || partMd5) return sentDigest();
      const now = await statLocal(this.localPath);
      const same = now !== undefined && fingerprintOf(now) === fingerprintOf(st);
      sentHash = (same ? await this.#hashLocal(state, signal) : undefined) ?? sentDigest();
      return sentHash;
    };
    let result: Awaited<ReturnType<ObjectStore["put"]>>;
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html — 412 means another writer won.
      result = await store.put(key, body, {
        ...condition,
        contentLength: size,
        metadata: {
          ...(known && known.sha256 !== "" ? { [SHA256_METADATA]: known.sha256 } : {}),
          ...(multipart ? { [PART_SIZE_METADATA]: String(this.#partSizeBytes) } : {}),
        },
        ...(this.#options.contentType ? { contentType: this.#options.contentType } : {}),
        multipartThresholdBytes: this.#thresholdBytes,
        partSizeBytes: this.#partSizeBytes,
        partConcurrency: this.#options.partConcurrency ?? DEFAULT_PART_CONCURRENCY,
        ...(partMd5
          ? {
              onPartMd5: (n: number, md5: Buffer) => {
                partMd5s[n - 1] = md5;
              },
            }
          : {}),
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } catch (error) {
      source.destroy();
      const failedCondition =
        isObjectStoreError(error, "preconditionFailed") || (isObjectStoreError(error, "notFound") && condition.ifMatch);
      if (!failedCondition) throw error;
      // A lost answer: the server stored our body, the reply never arrived, the SDK sent the request again and
      // the condition now fails against our own write. If the remote holds exactly what we sent, it is ours.
      // (A large body only counts when it was read whole: a partial stream hash never matches.)
      const now = await store.head(key, signal ? { signal } : {});
      if (now && remoteMatches(now, await sentByFile())) {
        this.#logger.warn("s3-object: an upload's answer was lost; the remote holds what was sent", { url: this.url });
        result = { etag: now.etag, size: now.size };
      } else if (isObjectStoreError(error, "preconditionFailed")) {
        throw conflict(
          condition.ifNoneMatch
            ? "an object was created at the key meanwhile"
            : "the remote object changed since it was last downloaded",
        );
      } else {
        throw conflict("the remote object was deleted");
      }
    } finally {
      // The store completed or aborted the upload (or could not reach the server to abort it: then S3's lifecycle
      // rule for incomplete uploads is the net).
      if (marker) await rm(marker, { force: true });
    }
    // A store whose answer is not a multipart ETag of these parts (an S3-compatible one with its own ETags): the
    // content id is the local file's multipart ETag, hashed now as before (or unknown if the file changed).
    const sent =
      !fileParts || partMd5
        ? sentDigest()
        : isMultipartEtagOf(result.etag, partCount)
          ? sentDigest(result.etag)
          : await sentByFile();
    const expected = multipart ? sent.multipart?.etag : `"${sent.md5}"`;
    const after = await statLocal(this.localPath);
    const changedDuring = !after || fingerprintOf(after) !== sent.fingerprint;
    // A streamed hash describes the bytes sent even if the file changed meanwhile; a prior hash does not.
    if (result.etag !== expected && ((!multipart && changedDuring) || this.#options.verify === "strict")) {
      // The stored body is not what was hashed: remember the new version but no content, so the next upload sends again.
      state.synced = { etag: result.etag, size: result.size, contentId: "" };
      await writeState(this.#statePath, state);
      throw new S3ObjectError(
        "object.integrity",
        changedDuring
          ? `Upload of ${this.url}: ${this.localPath} changed while it was being sent; upload again.`
          : `Upload of ${this.url}: the stored ETag ${result.etag} is not the expected ${expected}; upload again.`,
      );
    }
    if (sent.size !== size) {
      state.synced = { etag: result.etag, size: sent.size, contentId: sent.contentId };
      await writeState(this.#statePath, state);
      throw new S3ObjectError(
        "object.integrity",
        `Upload of ${this.url}: ${this.localPath} changed size while it was being sent; upload again.`,
      );
    }
    state.synced = { etag: result.etag, size, contentId: sent.contentId };
    state.hash = sent;
    await writeState(this.#statePath, state);
    this.#logger.debug("s3-object: uploaded", { url: this.url, bytes: size });
    return { transferred: true, bytes: size, etag: result.etag, localPath: this.localPath };
  }

  /** Download if needed; a local copy with edits not uploaded yet is read as it is (it is the newer one). */
  async #ensureLocal(options: { signal?: AbortSignal }): Promise<void> {
    try {
      await this.download(options);
    } catch (error) {
      if (!(error instanceof S3ObjectError && error.code === "object.localChanges")) throw error;
    }
  }

  /** Download if needed, then the whole local copy as bytes (local edits not uploaded yet are kept and read). */
  async read(options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    await this.#ensureLocal(options);
    return this.#run(`Read of ${this.localPath}`, () => readFile(this.localPath, options), options.signal);
  }

  /** Download if needed, then the local copy as text. */
  async readText(options: { signal?: AbortSignal; encoding?: BufferEncoding } = {}): Promise<string> {
    return (await this.read(options.signal ? { signal: options.signal } : {})).toString(options.encoding ?? "utf8");
  }

  /** A stream of the local copy, downloaded first if needed (errors arrive on the stream). */
  createReadStream(options: { signal?: AbortSignal } = {}): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        await self.#ensureLocal(options);
        yield* createReadStream(self.localPath, options.signal ? { signal: options.signal } : {});
      })(),
    );
  }

  /**
   * Edit the object through a temp copy of it: `fn` gets the temp file's path and may change it in any way.
   * Only when `fn` resolves is the copy put in place and uploaded (with `If-Match`); when it throws, the
   * cached copy and the remote stay as they were. A missing object starts as an empty file.
   */
  async edit(fn: (path: string) => unknown | Promise<unknown>, options: UploadOptions = {}): Promise<UploadResult> {
    const handle = await this.#openWritable("r+", options.signal, true);
    try {
      await handle.file.close();
      await fn(handle.path);
    } catch (error) {
      await handle.abort();
      throw error;
    }
    return (await handle.close(options))!;
  }

  /**
   * Open the local copy like `fs.open`. `r` downloads first and reads the copy; `a` and `r+` download
   * first and write a temp copy; `w` starts an empty temp file. `close()` uploads (w, a, r+);
   * disposing without `close()` discards the writes, so an exception never uploads a partial file.
   */
  async open(mode: OpenMode, options: { signal?: AbortSignal } = {}): Promise<S3FileHandle> {
    if (!["r", "w", "a", "r+"].includes(mode)) {
      throw new S3ObjectError(
        "object.invalidOptions",
        `S3File.open: invalid mode ${JSON.stringify(mode)}; use "r", "w", "a" or "r+".`,
      );
    }
    if (mode === "r") {
      await this.#ensureLocal(options);
      const file = await this.#run(`Open of ${this.localPath}`, () => open(this.localPath, "r"), options.signal);
      let closed = false;
      const close = async () => {
        if (closed) return undefined;
        closed = true;
        await file.close();
        return undefined;
      };
      return {
        mode,
        path: this.localPath,
        file,
        write: async () => {
          throw new S3ObjectError(
            "object.invalidOptions",
            `S3File handle of ${this.url} is open read-only (mode "r").`,
          );
        },
        readText: async () => (await file.readFile()).toString("utf8"),
        close,
        abort: async () => {
          await close();
        },
        [Symbol.asyncDispose]: async () => {
          await close();
        },
      };
    }
    return this.#openWritable(mode, options.signal, false);
  }

  async #openWritable(mode: "w" | "a" | "r+", signal: AbortSignal | undefined, createIfMissing: boolean) {
    let baseline: Baseline;
    if (mode === "w") {
      const remote = await this.#run(
        `Open of ${this.url}`,
        () => this.#openStore().head(this.#address.key, signal ? { signal } : {}),
        signal,
      );
      baseline = { etag: remote?.etag ?? null };
    } else {
      try {
        const result = await this.download(signal ? { signal } : {});
        baseline = { etag: result.etag };
      } catch (error) {
        if (
          !(error instanceof S3ObjectError && error.code === "object.notFound") ||
          (mode === "r+" && !createIfMissing)
        ) {
          throw error;
        }
        baseline = { etag: null };
      }
    }
    await mkdir(dirname(this.localPath), { recursive: true });
    const temp = tempPathFor(this.localPath);
    if (mode !== "w" && baseline.etag !== null) await copyFile(this.localPath, temp);
    const file = await open(temp, mode === "a" ? "a" : mode === "w" ? "w" : baseline.etag === null ? "w+" : "r+");
    let done = false;
    const abort = async () => {
      if (done) return;
      done = true;
      await file.close().catch(() => {});
      await rm(temp, { force: true });
    };
    const handle: S3FileHandle = {
      mode,
      path: temp,
      file,
      write: async (data) => {
        await file.write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
      },
      readText: async () => (await file.readFile()).toString("utf8"),
      close: async (options: UploadOptions = {}) => {
        if (done) return undefined;
        done = true;
        try {
          await file.close().catch((error: unknown) => {
            // Already closed by edit(): fine. Anything else is a real failure.
            if ((error as { code?: string }).code !== "EBADF") throw error;
          });
          await rename(temp, this.localPath);
        } catch (error) {
          await rm(temp, { force: true });
          throw toS3ObjectError(error, `Close of ${this.localPath}`);
        }
        return this.#run(`Upload of ${this.url}`, () => this.#upload(options, baseline), options.signal);
      },
      abort,
      [Symbol.asyncDispose]: async () => {
        if (!done)
          this.#logger.debug("s3-object: handle disposed without close(); writes discarded", { url: this.url });
        await abort();
      },
    };
    return handle;
  }

  /**
   * Where the local copy stands against the version last synced, without a request: whether it exists,
   * whether it changed since (or was never synced), and the ETag last synced.
   */
  async localState(options: { signal?: AbortSignal } = {}): Promise<{
    exists: boolean;
    changed: boolean;
    syncedEtag?: string;
  }> {
    const { signal } = options;
    return this.#run(
      `State of ${this.localPath}`,
      async () => {
        const state = await this.#readState();
        const hash = await this.#hashLocal(state, signal);
        const synced = state.synced;
        return {
          exists: hash !== undefined,
          changed: hash === undefined || synced === undefined || synced.contentId !== hash.contentId,
          ...(synced ? { syncedEtag: synced.etag } : {}),
        };
      },
      signal,
    );
  }

  /** Whether the remote object exists (one HEAD). */
  exists(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.#run(
      `Head of ${this.url}`,
      async () => (await this.#openStore().head(this.#address.key, options)) !== undefined,
      options.signal,
    );
  }

  /**
   * The remote object's size, ETag, modification time and metadata (one HEAD).
   * @throws S3ObjectError `object.notFound`
   */
  stat(options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    return this.#run(
      `Stat of ${this.url}`,
      async () => {
        const info = await this.#openStore().head(this.#address.key, options);
        if (!info) {
          throw new S3ObjectError("object.notFound", `Stat of ${this.url} failed: the object does not exist.`);
        }
        return info;
      },
      options.signal,
    );
  }

  /** Compare the local copy with the remote (one HEAD; the local file is hashed only if it changed). */
  status(options: { signal?: AbortSignal } = {}): Promise<StatusResult> {
    return this.#run(`Status of ${this.url}`, () => this.#status(options.signal), options.signal);
  }

  async #status(signal?: AbortSignal): Promise<StatusResult> {
    const state = await this.#readState();
    const [hash, remote] = await Promise.all([
      this.#hashLocal(state, signal),
      this.#openStore().head(this.#address.key, signal ? { signal } : {}),
    ]);
    const synced = state.synced;
    let status: SyncStatus;
    if (!hash && !remote) status = "absent";
    else if (!hash) status = "remoteOnly";
    else if (!remote) {
      status = !synced ? "localOnly" : synced.contentId === hash.contentId ? "remoteNewer" : "conflict";
    } else if (!synced) {
      status = remoteMatches(remote, hash) ? "same" : "conflict";
    } else {
      const localChanged = synced.contentId !== hash.contentId;
      const remoteChanged = remote.etag !== synced.etag;
      status =
        localChanged && remoteChanged
          ? "conflict"
          : localChanged
            ? "localNewer"
            : remoteChanged
              ? "remoteNewer"
              : "same";
    }
    return {
      status,
      url: this.url,
      localPath: this.localPath,
      ...(hash ? { local: { size: hash.size, contentId: hash.contentId } } : {}),
      ...(remote ? { remote: { size: remote.size, etag: remote.etag, lastModified: remote.lastModified } } : {}),
      ...(synced ? { syncedEtag: synced.etag } : {}),
    };
  }

  /**
   * Delete the remote object — with `If-Match` on the version last synced, so a newer version someone else
   * wrote is not deleted (`object.conflict`) — and the local copy unless `keepLocal`.
   */
  delete(options: { signal?: AbortSignal; force?: boolean; keepLocal?: boolean } = {}): Promise<void> {
    const { signal } = options;
    return this.#run(
      `Delete of ${this.url}`,
      async () => {
        const state = await this.#readState();
        const ifMatch = !options.force ? state.synced?.etag : undefined;
        try {
          await this.#openStore().delete(this.#address.key, {
            ...(ifMatch ? { ifMatch } : {}),
            ...(signal ? { signal } : {}),
          });
        } catch (error) {
          if (!isObjectStoreError(error, "notFound")) throw error;
        }
        if (!options.keepLocal) await rm(this.localPath, { force: true });
        await removeState(this.#statePath);
      },
      signal,
    );
  }

  /** Release the connection (only one this file opened itself). */
  async close(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The URL (credentials are never part of it). */
  toString(): string {
    return this.url;
  }

  toJSON(): { url: string; localPath: string } {
    return { url: this.url, localPath: this.localPath };
  }

  [inspect.custom](): string {
    return `S3File { url: ${JSON.stringify(this.url)}, localPath: ${JSON.stringify(this.localPath)} }`;
  }
}
