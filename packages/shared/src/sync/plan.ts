import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { silentLogger } from "../logger.ts";
import type { ObjectStore } from "../object-store.ts";
import { retry } from "../retry.ts";
import { keyToLocalPath } from "../trust/remote-input.ts";
import { type LocalFileInfo, type RemoteFileInfo, sameContent } from "./compare.ts";
import { SyncError } from "./errors.ts";
import { createPathFilter, type PathFilter } from "./filter.ts";
import { localPathOf } from "./local-paths.ts";
import { type LocalFile, type ScanResult, scanLocalTree } from "./local-scan.ts";
import { parseSyncMetadata } from "./metadata.ts";
import { type PlanSyncOptions, parseSyncOptions, planOptionsSchema } from "./options.ts";
import type { PlannedDelete, PlannedSkip, PlannedTransfer, SyncPlan, TransferReason } from "./plan-types.ts";
import { checkDeleteRails } from "./rails.ts";
import { defaultStatePath, type StateMeta, SyncState } from "./state.ts";
import type { SyncFailure } from "./summary.ts";

/** What a plan made in this process carries to `applySyncPlan` without putting it in the JSON. */
export interface PlanContext {
  state: SyncState;
  filter: PathFilter;
  meta: StateMeta;
}

const contexts = new WeakMap<SyncPlan, PlanContext>();

/** The in-process context of a plan made by {@link planSync}, if it was. */
export function planContext(plan: SyncPlan): PlanContext | undefined {
  return contexts.get(plan);
}

/** A listed object under the store's location (folder markers left out). */
interface Listed extends RemoteFileInfo {}

/** Attempts at the whole listing (each page request has the SDK's own retries too). */
const LIST_ATTEMPTS = 4;

/** Tolerance when comparing a local mtime with one stored in metadata (ms decimals, file-system precision). */
const MTIME_TOLERANCE_MS = 1;

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "error";
}

async function* storeObjects(store: ObjectStore, signal: AbortSignal | undefined): AsyncIterable<Listed> {
  for await (const entry of store.list(signal ? { signal } : {})) {
    if (entry.kind !== "object" || entry.key.endsWith("/")) continue;
    yield { key: entry.key, size: entry.size, etag: entry.etag, lastModifiedMs: entry.lastModified.getTime() };
  }
}

async function listStore(
  store: ObjectStore,
  list: PlanSyncOptions["list"],
  signal: AbortSignal | undefined,
  direction: PlanSyncOptions["direction"],
): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  try {
    // The whole listing again on a network error or a 5xx the SDK's own retries did not get past (a body cut
    // mid-page is not one they replay): a source that only hiccupped is not "unreadable" (rail 1).
    await retry(
      async () => {
        out.clear();
        const items = list ? list(signal ? { signal } : {}) : storeObjects(store, signal);
        for await (const item of items) out.set(item.key, item);
      },
      { attempts: LIST_ATTEMPTS, ...(signal ? { signal } : {}) },
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    // Rail 1 for a download: a source that cannot be listed is an error before anything changes.
    throw new SyncError(
      direction === "download" ? "sync.sourceNotFound" : "sync.destination",
      `Cannot list ${store.url}: ${(error as Error).message} Check the bucket name, the endpoint and your credentials.`,
      { cause: error },
    );
  }
  return out;
}

/** Rail 1 for an upload: the local source must be an existing, readable folder. */
async function localSourceRoot(local: string): Promise<string> {
  const abs = resolve(local);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch (error) {
    throw new SyncError(
      "sync.sourceNotFound",
      `Source ${local} cannot be read (${errnoCode(error)}): give an existing local folder; nothing was changed.`,
      { cause: error },
    );
  }
  if (!isDir) throw new SyncError("sync.sourceNotFound", `Source ${local} is not a folder: give a local folder.`);
  return abs;
}

/** A download's local folder may be missing (it is created); anything else there is an error. */
async function localDestinationRoot(local: string): Promise<{ root: string; exists: boolean }> {
  const root = resolve(local);
  try {
    if (!(await stat(root)).isDirectory()) {
      throw new SyncError("sync.destination", `Destination ${local} exists and is not a folder: give a folder.`);
    }
    return { root, exists: true };
  } catch (error) {
    if (error instanceof SyncError) throw error;
    if (errnoCode(error) === "ENOENT") return { root, exists: false };
    throw new SyncError("sync.destination", `Destination ${local} cannot be read (${errnoCode(error)}).`, {
      cause: error,
    });
  }
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const sum = (items: readonly { size: number }[]) => items.reduce((n, i) => n + i.size, 0);

/**
 * Scan the local folder and list the store once, decide what to transfer, skip and delete (each with its
 * reason), and check the delete rails. Changes nothing. Both directions: `upload` makes the store match
 * the local folder, `download` makes the local folder match the store.
 * @throws SyncError `sync.invalidOptions`, `sync.sourceNotFound` (rail 1), `sync.destination`.
 */
export async function planSync(options: PlanSyncOptions): Promise<SyncPlan> {
  const opts = parseSyncOptions(planOptionsSchema, options, "planSync");
  const { signal, store, direction } = opts;
  signal?.throwIfAborted();
  const logger = opts.logger ?? silentLogger;
  const upload = direction === "upload";
  const remoteUrl = store.url;

  let local: string;
  let localExists = true;
  if (upload) local = await localSourceRoot(opts.local);
  else ({ root: local, exists: localExists } = await localDestinationRoot(opts.local));

  const skipDirectories = new Set(opts.skipDirectories.map((d) => resolve(d)));
  if (store.location.kind === "file") {
    const rel = relative(local, store.location.root);
    if (rel === "") {
      throw new SyncError(
        "sync.invalidOptions",
        `planSync: the store ${remoteUrl} is the local folder itself: choose another folder.`,
      );
    }
    if (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep)) skipDirectories.add(store.location.root);
    // The other way round, the store would list the local folder's files as its own objects.
    const back = relative(store.location.root, local);
    if (!back.startsWith(`..${sep}`) && back !== ".." && !isAbsolute(back)) {
      throw new SyncError(
        "sync.invalidOptions",
        `planSync: the local folder ${local} is inside the store ${remoteUrl}: choose a folder outside it.`,
      );
    }
  }

  const filter = createPathFilter(opts.exclude, opts.include);
  const meta: StateMeta = { direction, local, remote: remoteUrl };
  const statePath = opts.statePath === false ? undefined : (opts.statePath ?? defaultStatePath(meta, opts.endpoint));
  const emptyScan: ScanResult = { files: [], errors: [], excluded: 0, symlinks: 0, partials: [] };
  const [scan, listed, state] = await Promise.all([
    localExists
      ? scanLocalTree(local, {
          filter,
          followSymlinks: opts.followSymlinks,
          skipDirectories,
          ...(signal ? { signal } : {}),
        }).catch((error: unknown) => {
          if (signal?.aborted) throw signal.reason;
          throw new SyncError(
            upload ? "sync.sourceNotFound" : "sync.destination",
            `${upload ? "Source" : "Destination"} ${opts.local} cannot be read: ${(error as Error).message}`,
            { cause: error },
          );
        })
      : Promise.resolve(emptyScan),
    listStore(store, opts.list, signal, direction),
    SyncState.load(statePath, meta),
  ]);
  logger.debug("sync scanned and listed", { direction, local: scan.files.length, remote: listed.size });

  const errors: SyncFailure[] = scan.errors.map((e) => ({
    action: "scan" as const,
    path: e.path,
    code: e.code,
    message: e.message,
  }));
  // The store's side, filtered like the local side; keys matched NFC-normalised, as local names are.
  const remote = new Map<string, Listed>();
  for (const [key, object] of listed) {
    if (!filter.accepts(key)) continue;
    const nfc = key.normalize("NFC");
    const other = remote.get(nfc);
    if (other) {
      errors.push({
        action: "list",
        key,
        code: "keyCollision",
        message: `\`${key}\` and \`${other.key}\` have the same NFC-normalised name; neither can be written locally.`,
      });
      continue;
    }
    remote.set(nfc, object);
  }
  listed.clear();
  const localByKey = new Map<string, LocalFile>(scan.files.map((f) => [f.key, f]));
  const pathOf = (file: LocalFile) => localPathOf(local, file.relativePath);

  const transfers: PlannedTransfer[] = [];
  const skips: PlannedSkip[] = [];
  const deferred: (() => Promise<void>)[] = [];
  const warnings: string[] = [];

  const compareOne = (file: LocalFile, object: Listed, add: (reason: TransferReason, sha256?: string) => void) => {
    const sourceSize = upload ? file.size : object.size;
    const skip = () => skips.push({ key: object.key, size: sourceSize });
    if (object.size !== file.size) return add("size");
    if (opts.compare === "size") return skip();
    if (opts.compare === "checksum") {
      const localInfo: LocalFileInfo = { ...file, path: pathOf(file) };
      deferred.push(async () => {
        const { same, sha256 } = await sameContent(localInfo, object, state, store, {
          partSizeBytes: opts.partSizeBytes,
          signal,
        });
        if (same) skip();
        else add("checksum", upload ? sha256 : undefined);
      });
      return;
    }
    // size-mtime. The state says which local (size, mtime) this very object (ETag) was copied from or to.
    const known = state.get(file.key);
    if (known && known.etag === object.etag && known.size === object.size) {
      return known.mtimeMs === file.mtimeMs ? skip() : add("modified");
    }
    const adopt = () => {
      skip();
      state.set(file.key, { size: file.size, mtimeMs: file.mtimeMs, etag: object.etag });
    };
    if (upload) {
      // No state (first run here, state lost, uploaded by another tool): the object is current when it is
      // not older than the local file, as `aws s3 sync` decides.
      return object.lastModifiedMs >= Math.floor(file.mtimeMs / 1000) * 1000 ? adopt() : add("modified");
    }
    // A download without state: the mtime the upload recorded (from a custom listing, else one HEAD for the
    // metadata), else LastModified.
    const decide = (stored: number | undefined, lastModifiedMs: number) => {
      const same =
        stored !== undefined ? Math.abs(stored - file.mtimeMs) <= MTIME_TOLERANCE_MS : file.mtimeMs >= lastModifiedMs;
      if (same) adopt();
      else add("modified");
    };
    if (object.mtimeMs !== undefined) return decide(object.mtimeMs, object.lastModifiedMs);
    deferred.push(async () => {
      const info = await store.head(object.key, signal ? { signal } : {});
      if (!info) return add("new");
      decide(parseSyncMetadata(info.metadata).mtimeMs, info.lastModified.getTime());
    });
  };

  if (upload) {
    for (const file of scan.files) {
      const object = remote.get(file.key);
      const add = (reason: TransferReason, sha256?: string) =>
        transfers.push({
          key: file.key,
          path: pathOf(file),
          size: file.size,
          mtimeMs: file.mtimeMs,
          reason,
          ...(sha256 ? { sha256 } : {}),
        });
      if (!object) add("new");
      else compareOne(file, object, add);
    }
  } else {
    for (const [nfc, object] of remote) {
      let path: string;
      try {
        path = keyToLocalPath(local, nfc).absolute;
      } catch (error) {
        errors.push({ action: "list", key: object.key, code: "invalidRemoteData", message: (error as Error).message });
        continue;
      }
      const add = (reason: TransferReason) =>
        transfers.push({
          key: object.key,
          path,
          size: object.size,
          mtimeMs: object.lastModifiedMs,
          etag: object.etag,
          reason,
        });
      const file = localByKey.get(nfc);
      if (!file) add("new");
      else compareOne(file, object, add);
    }
  }

  if (deferred.length > 0) {
    let next = 0;
    const worker = async () => {
      while (next < deferred.length) {
        signal?.throwIfAborted();
        await deferred[next++]!();
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.compareConcurrency, deferred.length) }, worker));
  }

  // Extraneous: destination items with no source item. The filters already left out what they exclude.
  const extraneous: PlannedDelete[] = [];
  if (upload) {
    for (const [nfc, object] of remote) {
      if (!localByKey.has(nfc)) extraneous.push({ key: object.key, size: object.size });
    }
  } else {
    for (const file of scan.files) {
      if (!remote.has(file.key)) extraneous.push({ key: file.key, size: file.size, path: pathOf(file) });
    }
  }

  const sourceFiles = upload ? scan.files.length : remote.size;
  const destinationFiles = upload ? remote.size : scan.files.length;
  const sourceName = upload ? local : remoteUrl;
  const destinationName = upload ? remoteUrl : local;
  const deletes = opts.delete ? extraneous : [];
  const deleteBlocked = opts.delete
    ? checkDeleteRails({
        source: sourceName,
        destination: destinationName,
        sourceCount: sourceFiles,
        destinationCount: destinationFiles,
        deleteCount: deletes.length,
        errorCount: errors.length,
        maxDelete: opts.maxDelete,
        maxDeletePercent: opts.maxDeletePercent,
        allowEmptySource: opts.allowEmptySource,
      })
    : undefined;

  transfers.sort(byKey);
  skips.sort(byKey);
  deletes.sort(byKey);
  const plan: SyncPlan = {
    direction,
    local,
    remote: remoteUrl,
    compare: opts.compare,
    delete: opts.delete,
    ...(opts.maxDelete !== undefined ? { maxDelete: opts.maxDelete } : {}),
    ...(opts.maxDeletePercent !== undefined ? { maxDeletePercent: opts.maxDeletePercent } : {}),
    allowEmptySource: opts.allowEmptySource,
    exclude: opts.exclude,
    include: opts.include,
    transfers,
    skips,
    deletes,
    errors,
    warnings,
    ...(deleteBlocked ? { deleteBlocked } : {}),
    partials: scan.partials,
    totals: {
      sourceFiles,
      sourceBytes: upload ? sum(scan.files) : sum([...remote.values()]),
      destinationFiles,
      transferFiles: transfers.length,
      transferBytes: sum(transfers),
      skipFiles: skips.length,
      skipBytes: sum(skips),
      deleteFiles: deletes.length,
      deleteBytes: sum(deletes),
      extraneous: extraneous.length,
      excluded: scan.excluded,
      symlinks: scan.symlinks,
      errors: errors.length,
    },
    ...(statePath ? { statePath } : {}),
    createdAt: new Date().toISOString(),
  };
  contexts.set(plan, { state, filter, meta });
  return plan;
}
