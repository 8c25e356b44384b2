import { access, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import {
  etagPartCount,
  formatLocation,
  type Location,
  type ObjectStore,
  openObjectStore,
  parseLocationOrPath,
  silentLogger,
  unquoteEtag,
} from "@toolkit/shared";
import { contentTypeFor } from "./content-type.ts";
import { PhotoSyncError } from "./errors.ts";
import { createPathFilter, DEFAULT_EXCLUDES, type PathFilter } from "./filter.ts";
import { hashLocalFile, multipartEtagOf, partSizeFor } from "./hash.ts";
import {
  type CompareMode,
  type ConnectionOptions,
  type PlanSyncOptions,
  parseOptions,
  planOptionsSchema,
  type ResolvedPlanOptions,
} from "./options.ts";
import { type LocalFile, type ScanError, scanDirectory } from "./scan.ts";
import { defaultStatePath, type StateEntry, SyncState } from "./state.ts";

/** User metadata written on every object: the local mtime in seconds (the format rclone reads too). */
export const META_MTIME = "mtime";
/** Part size of a multipart upload, so the multipart ETag can be recomputed. */
export const META_PART_SIZE = "s3kit-part-size";
/** Hex SHA-256 of the content, written when it is known before the upload (`checksum` mode). */
export const META_SHA256 = "s3kit-sha256";

/** Why a file is uploaded. */
export type UploadReason = "new" | "size" | "modified" | "checksum";

export interface PlannedUpload {
  key: string;
  /** Absolute local path. */
  path: string;
  size: number;
  mtimeMs: number;
  reason: UploadReason;
  contentType: string;
  /** Hex SHA-256, when the plan computed it (`checksum` mode). */
  sha256?: string;
}

export interface PlannedSkip {
  key: string;
  size: number;
}

export interface PlannedDelete {
  key: string;
  size: number;
}

export interface PlanTotals {
  scannedFiles: number;
  scannedBytes: number;
  uploadFiles: number;
  uploadBytes: number;
  skipFiles: number;
  skipBytes: number;
  deleteFiles: number;
  deleteBytes: number;
  /** Objects under the prefix with no local file (deleted only with `deleteOrphans`). */
  orphans: number;
  /** Objects listed under the prefix. */
  remoteObjects: number;
  /** Local files and folders left out by the excludes/includes. */
  excluded: number;
  /** Symbolic links skipped. */
  symlinks: number;
  /** Paths the scan could not read. */
  errors: number;
}

/** What a sync would do. Plain data: it serialises to JSON (`--dry-run --json`). */
export interface SyncPlan {
  /** Absolute path of the source directory. */
  source: string;
  /** URL of the destination, e.g. `s3://bucket/Lightroom/` or `file:///backup`. */
  destination: string;
  compare: CompareMode;
  deleteOrphans: boolean;
  maxDelete: number;
  /** Effective excludes (defaults included) and includes. */
  exclude: string[];
  include: string[];
  uploads: PlannedUpload[];
  skips: PlannedSkip[];
  deletes: PlannedDelete[];
  errors: ScanError[];
  warnings: string[];
  /** Set when `deletes` cannot be applied: scan errors (deletes left out) or more than `maxDelete`. */
  deleteBlocked?: { code: "scanErrors" | "tooManyDeletes"; message: string };
  totals: PlanTotals;
  statePath?: string;
  multipartThresholdBytes: number;
  partSizeBytes: number;
  createdAt: string;
}

/** What a plan made in this process carries to {@link applyPlan} without putting it in the JSON. */
export interface PlanContext {
  connection: ConnectionOptions;
  location: Location;
  state: SyncState;
  filter: PathFilter;
}

const contexts = new WeakMap<SyncPlan, PlanContext>();

export function planContext(plan: SyncPlan): PlanContext | undefined {
  return contexts.get(plan);
}

export function connectionOf(options: ConnectionOptions): ConnectionOptions {
  const out: ConnectionOptions = {};
  if (options.store) out.store = options.store;
  if (options.endpoint) out.endpoint = options.endpoint;
  if (options.region) out.region = options.region;
  if (options.profile) out.profile = options.profile;
  if (options.credentials) out.credentials = options.credentials;
  if (options.logger) out.logger = options.logger;
  return out;
}

/** Open the store for a location with the connection options (or use the one given). */
export function openStore(location: Location, connection: ConnectionOptions, concurrency = 16) {
  if (connection.store) return { store: connection.store, owned: false };
  const store = openObjectStore(location, {
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(connection.region ? { region: connection.region } : {}),
    ...(connection.profile ? { profile: connection.profile } : {}),
    ...(connection.credentials ? { credentials: connection.credentials } : {}),
    ...(connection.logger ? { logger: connection.logger } : {}),
    concurrency,
  });
  return { store, owned: true };
}

export function filterFor(exclude: readonly string[], include: readonly string[]): PathFilter {
  return createPathFilter(exclude, include);
}

interface RemoteObject {
  size: number;
  etag: string;
  lastModifiedMs: number;
}

async function listRemote(store: ObjectStore, signal?: AbortSignal): Promise<Map<string, RemoteObject>> {
  const remote = new Map<string, RemoteObject>();
  try {
    for await (const entry of store.list(signal ? { signal } : {})) {
      if (entry.kind !== "object") continue;
      remote.set(entry.key, { size: entry.size, etag: entry.etag, lastModifiedMs: entry.lastModified.getTime() });
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new PhotoSyncError(
      "photoSync.destination",
      `Cannot list ${store.url}: ${(error as Error).message} Check the bucket name, the endpoint and your credentials.`,
      { cause: error },
    );
  }
  return remote;
}

async function resolveSource(source: string): Promise<string> {
  const abs = resolve(source);
  let isDir = false;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch (error) {
    throw new PhotoSyncError(
      "photoSync.sourceNotFound",
      `Source \`${source}\` cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): give an existing local folder.`,
      { cause: error },
    );
  }
  if (!isDir) {
    throw new PhotoSyncError("photoSync.sourceNotFound", `Source \`${source}\` is not a folder: give a local folder.`);
  }
  return abs;
}

function parseDestination(destination: string): Location {
  try {
    return parseLocationOrPath(destination);
  } catch (error) {
    throw new PhotoSyncError("photoSync.invalidOptions", (error as Error).message, { cause: error });
  }
}

/** Decide, in `checksum` mode, whether the local file holds the remote object's content. */
async function sameContent(
  file: LocalFile,
  path: string,
  remote: RemoteObject,
  state: SyncState,
  store: ObjectStore,
  options: ResolvedPlanOptions,
): Promise<{ same: boolean; sha256: string }> {
  const { signal } = options;
  const previous = state.get(file.key);
  // Cached hashes count only for the very same file state: size, mtime and ctime. An edit that puts the
  // mtime back (what `checksum` mode is for) still moves the ctime, which no tool can set.
  const cached =
    previous && previous.size === file.size && previous.mtimeMs === file.mtimeMs && previous.ctimeMs === file.ctimeMs
      ? previous
      : undefined;
  const ownPart = partSizeFor(file.size, options.partSizeBytes);
  let md5 = cached?.md5;
  let sha256 = cached?.sha256;
  let ownEtag = cached?.partSizeBytes === ownPart ? cached.multipartEtag : undefined;
  if (md5 === undefined || sha256 === undefined || ownEtag === undefined) {
    const hashes = await hashLocalFile(path, ownPart, signal);
    md5 = hashes.md5;
    sha256 = hashes.sha256;
    ownEtag = hashes.multipartEtag;
  }
  const remember = (etag: string, extra: Partial<StateEntry> = {}) =>
    state.set(file.key, {
      size: file.size,
      mtimeMs: file.mtimeMs,
      ctimeMs: file.ctimeMs,
      etag,
      md5: md5!,
      sha256: sha256!,
      multipartEtag: ownEtag!,
      partSizeBytes: ownPart,
      ...extra,
    });
  const remoteEtag = unquoteEtag(remote.etag).toLowerCase();
  let same = false;
  if (!remoteEtag.includes("-")) {
    same = remoteEtag === md5;
  } else {
    const parts = etagPartCount(remote.etag);
    if (unquoteEtag(ownEtag) === remoteEtag) same = true;
    else {
      // Another part size: the one recorded in our state, or the one in the object's metadata (one HEAD).
      let partSize = previous?.etag === remote.etag ? previous.partSizeBytes : undefined;
      let remoteSha: string | undefined;
      if (partSize === undefined || partSize === ownPart) {
        const info = await store.head(file.key, signal ? { signal } : {});
        const recorded = Number(info?.metadata[META_PART_SIZE]);
        partSize = Number.isInteger(recorded) && recorded > 0 ? recorded : undefined;
        remoteSha = info?.metadata[META_SHA256];
      }
      if (remoteSha !== undefined) same = remoteSha === sha256;
      else if (partSize !== undefined && partSize !== ownPart && Math.ceil(file.size / partSize) === parts) {
        same = unquoteEtag(await multipartEtagOf(path, partSize, signal)) === remoteEtag;
      }
    }
  }
  remember(same ? remote.etag : (previous?.etag ?? ""));
  return { same, sha256 };
}

/**
 * Scan the source, list the destination once, and decide what to upload, skip and delete. Changes nothing.
 * @throws PhotoSyncError `photoSync.invalidOptions`, `photoSync.sourceNotFound`, `photoSync.destination`.
 */
export async function planSync(options: PlanSyncOptions): Promise<SyncPlan> {
  const opts = parseOptions(planOptionsSchema, options, "planSync");
  const { signal } = opts;
  signal?.throwIfAborted();
  const logger = opts.logger ?? silentLogger;
  const source = await resolveSource(opts.source);
  const location = parseDestination(opts.destination);
  const destination = formatLocation(location);
  const exclude = [...(opts.defaultExcludes ? DEFAULT_EXCLUDES : []), ...opts.exclude];
  const filter = filterFor(exclude, opts.include);
  const statePath =
    opts.statePath === false ? undefined : (opts.statePath ?? defaultStatePath(source, destination, opts.endpoint));
  const skipDirectories = new Set<string>();
  if (location.kind === "file") {
    const rel = relative(source, location.root);
    if (rel === "") {
      throw new PhotoSyncError(
        "photoSync.invalidOptions",
        `planSync: the destination \`${opts.destination}\` is the source folder itself: choose another folder.`,
      );
    }
    if (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep)) skipDirectories.add(location.root);
  }
  const connection = connectionOf(opts);
  const { store, owned } = openStore(location, connection);
  const meta = { source, destination };
  let scan: Awaited<ReturnType<typeof scanDirectory>>;
  let remote: Map<string, RemoteObject>;
  let state: SyncState;
  try {
    [scan, remote, state] = await Promise.all([
      scanDirectory(source, {
        filter,
        followSymlinks: opts.followSymlinks,
        skipDirectories,
        ...(signal ? { signal } : {}),
      }).catch((error: unknown) => {
        if (signal?.aborted) throw signal.reason;
        throw new PhotoSyncError(
          "photoSync.sourceNotFound",
          `Source \`${opts.source}\` cannot be read: ${(error as Error).message}`,
          { cause: error },
        );
      }),
      listRemote(store, signal),
      SyncState.load(statePath, meta),
    ]);
    logger.debug("photo-sync scanned and listed", {
      files: scan.files.length,
      remote: remote.size,
      state: state.entries.size,
    });

    const uploads: PlannedUpload[] = [];
    const skips: PlannedSkip[] = [];
    const warnings: string[] = [];
    const upload = (file: LocalFile, reason: UploadReason, sha256?: string) =>
      uploads.push({
        key: file.key,
        path: join(source, ...file.relativePath.split("/")),
        size: file.size,
        mtimeMs: file.mtimeMs,
        reason,
        contentType: contentTypeFor(file.key),
        ...(sha256 ? { sha256 } : {}),
      });
    const checksumWork: (() => Promise<void>)[] = [];

    for (const file of scan.files) {
      const target = remote.get(file.key);
      if (file.key.endsWith(".lrcat")) {
        const lock = join(source, ...file.relativePath.split("/")) + ".lock";
        if (
          await access(lock).then(
            () => true,
            () => false,
          )
        ) {
          warnings.push(
            `Lightroom looks open (\`${file.relativePath}.lock\` exists): close it and re-run so the catalog is backed up consistent.`,
          );
        }
      }
      if (!target) {
        upload(file, "new");
        continue;
      }
      if (target.size !== file.size) {
        upload(file, "size");
        continue;
      }
      if (opts.compare === "size") {
        skips.push({ key: file.key, size: file.size });
        continue;
      }
      if (opts.compare === "checksum") {
        checksumWork.push(async () => {
          const path = join(source, ...file.relativePath.split("/"));
          const { same, sha256 } = await sameContent(file, path, target, state, store, opts);
          if (same) skips.push({ key: file.key, size: file.size });
          else upload(file, "checksum", sha256);
        });
        continue;
      }
      // size-mtime. Our state says which local (size, mtime) this very object (ETag) was uploaded from.
      const known = state.get(file.key);
      if (known && known.etag === target.etag && known.size === target.size) {
        if (known.mtimeMs === file.mtimeMs) skips.push({ key: file.key, size: file.size });
        else upload(file, "modified");
        continue;
      }
      // No state for this object (first run on this machine, state lost, or uploaded by another tool):
      // the object is current when it is not older than the local file, as `aws s3 sync` decides.
      if (target.lastModifiedMs >= Math.floor(file.mtimeMs / 1000) * 1000) {
        skips.push({ key: file.key, size: file.size });
        state.set(file.key, { size: file.size, mtimeMs: file.mtimeMs, etag: target.etag });
      } else {
        upload(file, "modified");
      }
    }

    if (checksumWork.length > 0) {
      let next = 0;
      const worker = async () => {
        while (next < checksumWork.length) {
          signal?.throwIfAborted();
          await checksumWork[next++]!();
        }
      };
      await Promise.all(Array.from({ length: Math.min(opts.hashConcurrency, checksumWork.length) }, worker));
    }

    // Orphans: objects under the prefix with no local file, never excluded paths, never folder markers.
    const local = new Set(scan.files.map((f) => f.key));
    const orphans: PlannedDelete[] = [];
    for (const [key, object] of remote) {
      if (local.has(key) || key.endsWith("/") || !filter.accepts(key)) continue;
      orphans.push({ key, size: object.size });
    }
    local.clear();

    let deletes: PlannedDelete[] = [];
    let deleteBlocked: SyncPlan["deleteBlocked"];
    if (opts.deleteOrphans && orphans.length > 0) {
      if (scan.errors.length > 0) {
        deleteBlocked = {
          code: "scanErrors",
          message: `Not deleting ${orphans.length} orphan(s): the scan could not read ${scan.errors.length} path(s), so some of them may still exist locally. Fix the errors and re-run.`,
        };
      } else {
        deletes = orphans;
        if (orphans.length > opts.maxDelete) {
          deleteBlocked = {
            code: "tooManyDeletes",
            message: `Refusing to delete ${orphans.length} objects under ${destination} (more than maxDelete ${opts.maxDelete}): check the source folder, or raise maxDelete (--max-delete ${orphans.length}).`,
          };
        }
      }
    }

    const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    uploads.sort(byKey);
    skips.sort(byKey);
    deletes.sort(byKey);
    const sum = (items: { size: number }[]) => items.reduce((n, i) => n + i.size, 0);
    const plan: SyncPlan = {
      source,
      destination,
      compare: opts.compare,
      deleteOrphans: opts.deleteOrphans,
      maxDelete: opts.maxDelete,
      exclude,
      include: opts.include,
      uploads,
      skips,
      deletes,
      errors: scan.errors,
      warnings,
      ...(deleteBlocked ? { deleteBlocked } : {}),
      totals: {
        scannedFiles: scan.files.length,
        scannedBytes: sum(scan.files),
        uploadFiles: uploads.length,
        uploadBytes: sum(uploads),
        skipFiles: skips.length,
        skipBytes: sum(skips),
        deleteFiles: deletes.length,
        deleteBytes: sum(deletes),
        orphans: orphans.length,
        remoteObjects: remote.size,
        excluded: scan.excluded,
        symlinks: scan.symlinks,
        errors: scan.errors.length,
      },
      ...(statePath ? { statePath } : {}),
      multipartThresholdBytes: opts.multipartThresholdBytes,
      partSizeBytes: opts.partSizeBytes,
      createdAt: new Date().toISOString(),
    };
    contexts.set(plan, { connection, location, state, filter });
    return plan;
  } finally {
    if (owned) await store.close();
  }
}
