import { basename, join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  applySyncPlan,
  type CompareMode,
  createS3Client,
  defaultStatePath,
  forEachConcurrent,
  formatLocation,
  type Location,
  type ObjectStore,
  openObjectStore,
  parseLocation,
  planSync,
  type StateMeta,
  type SyncDirection,
  type SyncPlan,
  type SyncSummary,
  summaryOf,
} from "@toolkit/shared";
import { type S3ObjectError, toS3ObjectError } from "./errors.ts";
import { type S3FileManagerOptions, type S3FileOptions, validateManagerOptions } from "./options.ts";
import { S3File } from "./s3-file.ts";

/** One object of a batch. */
export interface BatchItem {
  url: string;
  localPath: string;
  action: "download" | "upload" | "delete-local" | "delete-remote";
  /** `planned` only in a dry run. */
  status: "transferred" | "unchanged" | "deleted" | "planned" | "failed";
  bytes: number;
  error?: S3ObjectError | Error;
}

/** Result of a batch: every item, and counts. Per-item failures are reported here, not thrown. */
export interface BatchResult {
  items: BatchItem[];
  transferred: number;
  unchanged: number;
  deleted: number;
  failed: number;
  bytes: number;
  dryRun: boolean;
}

/** Options of the prefix syncs ({@link S3FileManager.uploadPrefix}, {@link S3FileManager.downloadPrefix}). */
export interface PrefixSyncOptions {
  /** Globs of relative paths to leave out (the engine's rclone-like rules, see `@toolkit/shared`). @default [] */
  exclude?: string[];
  /** Globs of relative paths to take part; when given, every other path is left out. @default [] (all) */
  include?: string[];
  /**
   * Also delete what the source no longer has: local files under the directory (download) or objects under
   * the prefix (upload), within the engine's delete rails (never excluded paths, never outside the target,
   * only after every transfer succeeded, no empty source, at most 50 % of the destination). @default false
   */
  delete?: boolean;
  /** @deprecated Alias of `delete`. */
  mirror?: boolean;
  /** Delete rail 3, count (given alone, it replaces the share limit). */
  maxDelete?: number;
  /** Delete rail 3, share of the destination's items. @default 50 */
  maxDeletePercent?: number;
  /** Delete rail 2: let an empty source delete every destination item. @default false */
  allowEmptySource?: boolean;
  /** How a changed item is found. @default "size-mtime" */
  compare?: CompareMode;
  /** The engine's state file; `false` for none. @default in the platform's cache folder */
  statePath?: string | false;
  /** Plan only: the result carries the plan, nothing changes. @default false */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** What a prefix sync did (the engine's summary); on a dry run, with the plan. `failed > 0` is a partial failure. */
export interface PrefixSyncResult extends SyncSummary {
  plan?: SyncPlan;
}

interface Job {
  file: S3File;
  action: BatchItem["action"];
  run: (file: S3File, onBytes: (n: number) => void) => Promise<{ transferred: boolean; bytes: number }>;
}

/**
 * Many objects at once, sharing one client: `downloadAll`, `uploadAll`, and directory-style
 * `downloadPrefix` / `uploadPrefix`, which run on the shared sync engine (filters, delete rails, dry run).
 */
export class S3FileManager implements AsyncDisposable {
  readonly #options: S3FileManagerOptions;
  readonly #concurrency: number;
  #client: S3Client | undefined;
  readonly #ownsClient: boolean;

  constructor(options: S3FileManagerOptions = {}) {
    this.#options = { ...validateManagerOptions(options) };
    this.#concurrency = this.#options.concurrency ?? 8;
    this.#ownsClient = this.#options.client === undefined;
    this.#client = this.#options.client;
  }

  #sharedClient(): S3Client {
    if (this.#client) return this.#client;
    const o = this.#options;
    this.#client = createS3Client({
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      ...(o.region ? { region: o.region } : {}),
      ...(o.profile ? { profile: o.profile } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
      concurrency: this.#concurrency * (o.partConcurrency ?? 4),
    });
    return this.#client;
  }

  #fileOptions(): S3FileOptions {
    const { concurrency: _c, onProgress: _p, ...rest } = this.#options;
    return rest;
  }

  /** An {@link S3File} that shares this manager's client and options. */
  file(url: string, options: { localPath?: string } = {}): S3File {
    const base = this.#fileOptions();
    const needsClient = url.startsWith("s3://");
    return new S3File(url, {
      ...base,
      ...(needsClient ? { client: this.#sharedClient() } : {}),
      ...(options.localPath ? { localPath: options.localPath } : {}),
    });
  }

  #openStore(location: Location): ObjectStore {
    return openObjectStore(location, location.kind === "s3" ? { client: this.#sharedClient() } : {});
  }

  async #run(jobs: Job[], signal: AbortSignal | undefined, result: BatchResult): Promise<void> {
    const onProgress = this.#options.onProgress;
    let loaded = 0;
    let completed = result.items.length;
    const totalItems = result.items.length + jobs.length;
    await forEachConcurrent(
      jobs,
      this.#concurrency,
      async (job) => {
        const item: BatchItem = {
          url: job.file.url,
          localPath: job.file.localPath,
          action: job.action,
          status: "planned",
          bytes: 0,
        };
        result.items.push(item);
        let mine = 0;
        try {
          const out = await job.run(job.file, (n) => {
            loaded += n - mine;
            mine = n;
            onProgress?.({ loadedBytes: loaded, completedItems: completed, totalItems, current: job.file.url });
          });
          item.status = out.transferred ? "transferred" : "unchanged";
          item.bytes = out.bytes;
          result.bytes += out.bytes;
          if (out.transferred) result.transferred++;
          else result.unchanged++;
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          item.status = "failed";
          item.error = toS3ObjectError(error, `${job.action} of ${job.file.url}`) as Error;
          result.failed++;
        } finally {
          completed++;
          onProgress?.({ loadedBytes: loaded, completedItems: completed, totalItems, current: job.file.url });
        }
      },
      signal ? { signal } : {},
    );
  }

  static #emptyResult(dryRun: boolean): BatchResult {
    return { items: [], transferred: 0, unchanged: 0, deleted: 0, failed: 0, bytes: 0, dryRun };
  }

  #asFile(item: string | S3File): S3File {
    return typeof item === "string" ? this.file(item) : item;
  }

  /** Download every object (URLs or files), `concurrency` at a time; failures are per item. */
  downloadAll(
    items: Iterable<string | S3File>,
    options: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<BatchResult> {
    return this.#transferAll(items, "download", options);
  }

  /** Upload every file whose local copy changed, `concurrency` at a time; failures (conflicts) are per item. */
  uploadAll(
    items: Iterable<string | S3File>,
    options: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<BatchResult> {
    return this.#transferAll(items, "upload", options);
  }

  async #transferAll(
    items: Iterable<string | S3File>,
    action: "download" | "upload",
    options: { force?: boolean; signal?: AbortSignal },
  ): Promise<BatchResult> {
    const result = S3FileManager.#emptyResult(false);
    const { signal } = options;
    const jobs = [...items].map((item) => ({
      file: this.#asFile(item),
      action,
      run: (file: S3File, onBytes: (n: number) => void) =>
        file[action]({
          ...(options.force ? { force: true } : {}),
          ...(signal ? { signal } : {}),
          onProgress: (p) => onBytes(p.loadedBytes),
        }),
    }));
    await this.#run(jobs, signal, result);
    return result;
  }

  #prefixLocation(prefixUrl: string): Location {
    try {
      return parseLocation(prefixUrl);
    } catch (error) {
      throw toS3ObjectError(error, `Prefix ${JSON.stringify(prefixUrl)}`);
    }
  }

  /**
   * Make `localDir` match the objects under `prefixUrl` (one file per object, by relative key), through the
   * shared sync engine: each download verified and moved into place atomically, a key that cannot be a safe
   * local path is one failed item. With `delete`, local files the prefix does not hold are deleted afterwards,
   * within every delete rail of the engine (see the README).
   * @throws SyncError `sync.sourceNotFound`, `sync.emptySource`, `sync.tooManyDeletes` before any change.
   */
  downloadPrefix(prefixUrl: string, localDir: string, options: PrefixSyncOptions = {}): Promise<PrefixSyncResult> {
    return this.#sync("download", localDir, prefixUrl, options);
  }

  /**
   * Make the objects under `prefixUrl` match the files under `localDir` (key = relative path), through the
   * shared sync engine: the local folder is the source, so a changed file replaces the object (as `aws s3 sync`
   * and rclone do; {@link S3File.upload} is the one with `If-Match`). With `delete`, objects under the prefix
   * without a local file are deleted afterwards, within every delete rail of the engine.
   * @throws SyncError `sync.sourceNotFound` (missing folder), `sync.emptySource`, `sync.tooManyDeletes` before any change.
   */
  uploadPrefix(localDir: string, prefixUrl: string, options: PrefixSyncOptions = {}): Promise<PrefixSyncResult> {
    return this.#sync("upload", localDir, prefixUrl, options);
  }

  /** The state file: the caller's, else one per direction, folder and location under `cacheDir` when given, else the engine's default. */
  #statePath(
    direction: SyncDirection,
    localDir: string,
    location: Location,
    statePath: string | false | undefined,
  ): { statePath?: string | false } {
    if (statePath !== undefined) return { statePath };
    const cacheDir = this.#options.cacheDir;
    if (cacheDir === undefined) return {};
    const file = basename(
      defaultStatePath(
        { direction, local: resolve(localDir), remote: formatLocation(location, "") } satisfies StateMeta,
        this.#options.endpoint,
      ),
    );
    return { statePath: join(resolve(cacheDir), "sync-state", file) };
  }

  async #sync(
    direction: SyncDirection,
    localDir: string,
    prefixUrl: string,
    options: PrefixSyncOptions,
  ): Promise<PrefixSyncResult> {
    const { signal, dryRun = false } = options;
    const location = this.#prefixLocation(prefixUrl);
    const store = this.#openStore(location);
    const started = performance.now();
    const logger = this.#options.logger;
    try {
      const plan = await planSync({
        direction,
        local: resolve(localDir),
        store,
        exclude: options.exclude ?? [],
        include: options.include ?? [],
        delete: Boolean(options.delete || options.mirror),
        ...(options.maxDelete !== undefined ? { maxDelete: options.maxDelete } : {}),
        ...(options.maxDeletePercent !== undefined ? { maxDeletePercent: options.maxDeletePercent } : {}),
        allowEmptySource: options.allowEmptySource ?? false,
        ...(options.compare ? { compare: options.compare } : {}),
        ...this.#statePath(direction, localDir, location, options.statePath),
        ...(this.#options.endpoint ? { endpoint: this.#options.endpoint } : {}),
        ...(signal ? { signal } : {}),
        ...(logger ? { logger } : {}),
      });
      if (dryRun) {
        const summary = summaryOf(plan, true);
        summary.durationMs = Math.round(performance.now() - started);
        return { ...summary, plan };
      }
      const onProgress = this.#options.onProgress;
      const summary = await applySyncPlan(plan, {
        store,
        concurrency: this.#concurrency,
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
        ...(logger ? { logger } : {}),
      });
      summary.durationMs = Math.round(performance.now() - started);
      return summary;
    } finally {
      await store.close();
    }
  }

  /** Release the shared client (only one this manager created). */
  async close(): Promise<void> {
    if (this.#ownsClient) this.#client?.destroy();
    this.#client = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
