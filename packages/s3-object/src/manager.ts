import type { Dirent } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  createS3Client,
  forEachConcurrent,
  formatLocation,
  type Location,
  type ObjectStore,
  openObjectStore,
  parseLocation,
} from "@toolkit/shared";
import { pathInside } from "./address.ts";
import { S3ObjectError, toS3ObjectError } from "./errors.ts";
import { createExcluder } from "./exclude.ts";
import { type S3FileManagerOptions, type S3FileOptions, validateManagerOptions } from "./options.ts";
import { S3File } from "./s3-file.ts";
import { STATE_DIR_NAME } from "./state.ts";

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

/** Options of the prefix operations. */
export interface PrefixSyncOptions {
  /** Globs over paths relative to the prefix / directory (see README). Nothing is excluded by default. */
  exclude?: string[];
  /**
   * Also delete what the source no longer has: local files under the directory (download) or objects under
   * the prefix (upload). Never excluded paths, never outside the target, and only after every transfer
   * succeeded. @default false
   */
  mirror?: boolean;
  /** Plan only: report what would be transferred and deleted, change nothing. @default false */
  dryRun?: boolean;
  /** Overwrite local changes (download) or remote changes (upload). @default false */
  force?: boolean;
  signal?: AbortSignal;
}

interface Job {
  file: S3File;
  action: BatchItem["action"];
  /** Dry run: whether the job would transfer anything (decided without requests). */
  wouldTransfer?: (file: S3File) => Promise<boolean>;
  run: (file: S3File, onBytes: (n: number) => void) => Promise<{ transferred: boolean; bytes: number }>;
}

const isTempName = (name: string) => /^\..*\.s3kit-[0-9a-f]{12}\.tmp$/.test(name) || name === STATE_DIR_NAME;

/** Files below `root` as `/`-separated relative paths; excluded directories are not entered, links not followed. */
async function* walk(root: string, excluded: (rel: string) => boolean, base = ""): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(base === "" ? root : join(root, ...base.split("/")), { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT" && base === "") return;
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (isTempName(entry.name)) continue;
    const rel = base === "" ? entry.name : `${base}/${entry.name}`;
    if (excluded(rel)) continue;
    if (entry.isDirectory()) yield* walk(root, excluded, rel);
    else if (entry.isFile()) yield rel;
  }
}

/**
 * Many objects at once, sharing one client: `downloadAll`, `uploadAll`, and directory-style
 * `downloadPrefix` / `uploadPrefix` with excludes, mirror and dry run.
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

  async #run(jobs: Job[], signal: AbortSignal | undefined, dryRun: boolean, result: BatchResult): Promise<void> {
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
        if (dryRun) {
          const would = job.wouldTransfer ? await job.wouldTransfer(job.file).catch(() => true) : true;
          if (!would) {
            item.status = "unchanged";
            result.unchanged++;
          }
          return;
        }
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
    await this.#run(jobs, signal, false, result);
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
   * Make `localDir` hold the objects under `prefixUrl` (one file per object, by relative key). Objects whose
   * listed ETag equals the version last synced, with an unchanged local file, cost no request.
   * With `mirror`, local files the prefix does not hold are deleted afterwards — only inside `localDir`,
   * never excluded ones, and only when every download succeeded.
   */
  async downloadPrefix(prefixUrl: string, localDir: string, options: PrefixSyncOptions = {}): Promise<BatchResult> {
    const { signal, dryRun = false } = options;
    const location = this.#prefixLocation(prefixUrl);
    const root = resolve(localDir);
    const excluded = createExcluder(options.exclude);
    const result = S3FileManager.#emptyResult(dryRun);
    const store = this.#openStore(location);
    const remote = new Map<string, string>();
    try {
      for await (const entry of store.list(signal ? { signal } : {})) {
        if (entry.kind !== "object" || entry.key.endsWith("/") || excluded(entry.key)) continue;
        remote.set(entry.key, entry.etag);
      }
    } catch (error) {
      throw toS3ObjectError(error, `Listing of ${prefixUrl}`);
    } finally {
      await store.close();
    }
    const jobs: Job[] = [];
    for (const [key, etag] of remote) {
      const url = formatLocation(location, key);
      let localPath: string;
      try {
        localPath = pathInside(root, key.split("/"), `The object ${url}`);
      } catch (error) {
        result.items.push({
          url,
          localPath: "",
          action: "download",
          status: "failed",
          bytes: 0,
          error: error as Error,
        });
        result.failed++;
        continue;
      }
      jobs.push({
        file: this.file(url, { localPath }),
        action: "download",
        wouldTransfer: async (file) => {
          const local = await file.localState(signal ? { signal } : {});
          return !(local.exists && !local.changed && local.syncedEtag === etag);
        },
        run: (file, onBytes) =>
          file.download({
            remoteEtag: etag,
            ...(options.force ? { force: true } : {}),
            ...(signal ? { signal } : {}),
            onProgress: (p) => onBytes(p.loadedBytes),
          }),
      });
    }
    await this.#run(jobs, signal, dryRun, result);
    if (options.mirror && result.failed === 0) {
      for await (const rel of walk(root, excluded)) {
        signal?.throwIfAborted();
        if (remote.has(rel)) continue;
        const localPath = pathInside(root, rel.split("/"), `The local file ${rel}`);
        const item: BatchItem = {
          url: formatLocation(location, rel),
          localPath,
          action: "delete-local",
          status: dryRun ? "planned" : "deleted",
          bytes: 0,
        };
        if (!dryRun) {
          await rm(localPath, { force: true });
          result.deleted++;
        }
        result.items.push(item);
      }
    }
    return result;
  }

  /**
   * Upload the files under `localDir` to `prefixUrl` (key = relative path). Unchanged files cost no request;
   * changed ones go up with `If-Match`, so a remote change is a per-item `object.conflict`. With `mirror`,
   * objects under the prefix without a local file are deleted afterwards (never excluded keys, only when
   * every upload succeeded).
   */
  async uploadPrefix(localDir: string, prefixUrl: string, options: PrefixSyncOptions = {}): Promise<BatchResult> {
    const { signal, dryRun = false } = options;
    const location = this.#prefixLocation(prefixUrl);
    const root = resolve(localDir);
    const excluded = createExcluder(options.exclude);
    const result = S3FileManager.#emptyResult(dryRun);
    const local = new Set<string>();
    const jobs: Job[] = [];
    try {
      for await (const rel of walk(root, excluded)) {
        local.add(rel);
        jobs.push({
          file: this.file(formatLocation(location, rel), { localPath: join(root, ...rel.split("/")) }),
          action: "upload",
          wouldTransfer: async (file) => (await file.localState(signal ? { signal } : {})).changed,
          run: (file, onBytes) =>
            file.upload({
              ...(options.force ? { force: true } : {}),
              ...(signal ? { signal } : {}),
              onProgress: (p) => onBytes(p.loadedBytes),
            }),
        });
      }
    } catch (error) {
      throw toS3ObjectError(error, `Walk of ${root}`);
    }
    await this.#run(jobs, signal, dryRun, result);
    if (options.mirror && result.failed === 0) {
      const store = this.#openStore(location);
      try {
        const doomed: string[] = [];
        for await (const entry of store.list(signal ? { signal } : {})) {
          if (entry.kind !== "object" || local.has(entry.key) || excluded(entry.key)) continue;
          doomed.push(entry.key);
        }
        const out = dryRun ? { deleted: doomed, errors: [] } : await store.deleteMany(doomed, signal ? { signal } : {});
        for (const key of out.deleted) {
          result.items.push({
            url: formatLocation(location, key),
            localPath: join(root, ...key.split("/")),
            action: "delete-remote",
            status: dryRun ? "planned" : "deleted",
            bytes: 0,
          });
          if (!dryRun) result.deleted++;
        }
        for (const e of out.errors) {
          result.items.push({
            url: formatLocation(location, e.key),
            localPath: join(root, ...e.key.split("/")),
            action: "delete-remote",
            status: "failed",
            bytes: 0,
            error: new S3ObjectError(
              "object.remote",
              `Delete of ${formatLocation(location, e.key)} failed: ${e.code} ${e.message}.`,
            ),
          });
          result.failed++;
        }
      } catch (error) {
        throw toS3ObjectError(error, `Mirror of ${prefixUrl}`);
      } finally {
        await store.close();
      }
    }
    return result;
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
