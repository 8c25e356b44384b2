import { type Dirent, lstatSync, type Stats, statSync } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { normalize, sep } from "node:path";
import { validateKey } from "../open-object-store.ts";
import type { PathFilter } from "./filter.ts";
import { isPartialDownload } from "./partial-files.ts";

/** A local file found by the scan. */
export interface LocalFile {
  /** The object key relative to the destination prefix: POSIX path, NFC-normalised. */
  key: string;
  /** Path relative to the source directory, as on disk (may be NFD on macOS). */
  relativePath: string;
  size: number;
  /** Modification time, ms since the epoch (with the file system's precision). */
  mtimeMs: number;
  /** Status-change time, ms since the epoch: any write moves it, and unlike mtime it cannot be set back. */
  ctimeMs: number;
}

/** A path the scan could not read, or could not turn into a key. */
export interface ScanError {
  /** Path relative to the source directory. */
  path: string;
  /** `EACCES`, `ENOENT`, `EIO`, `keyCollision`, `invalidKey`, … */
  code: string;
  message: string;
}

export interface ScanResult {
  files: LocalFile[];
  errors: ScanError[];
  /** Files left out by the excludes/includes (pruned folders count as one each). */
  excluded: number;
  /** Symbolic links skipped (not followed). */
  symlinks: number;
  /** Absolute paths of partial files an interrupted download left (never files of the tree). */
  partials: string[];
}

export interface ScanOptions {
  filter: PathFilter;
  followSymlinks: boolean;
  /** Absolute directories never to enter (a `file://` destination inside the source). */
  skipDirectories?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** @internal A batch of synchronous stat calls slower than this switches the scan to asynchronous ones (tests). */
  slowStatBatchMs?: number;
}

const STAT_BATCH = 64;
/**
 * The scan stats a folder's entries with synchronous calls, a batch at a time: on a local disk whose metadata is
 * cached, an `lstat` costs a few µs that way and ~25 µs of CPU through the promise API and the thread pool (issue
 * 15 (b): 2,000 files, ~40 ms of CPU per no-change backup). A batch that takes longer than this (wall time) means a
 * slow file system (a network share, a cold disk): the rest of the scan uses parallel asynchronous calls.
 */
const SLOW_BATCH_MS = 20;

/** `lstat` or `stat` now; the error instead of a throw. */
function statNow(path: string, how: "lstat" | "stat"): Stats | Error {
  try {
    return how === "stat" ? statSync(path) : lstatSync(path);
  } catch (error) {
    return error as Error;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? "unknown";
}

/**
 * Walk a directory tree. Excluded folders are pruned (never read). Symbolic links are skipped unless
 * `followSymlinks`, and then folder cycles are detected by real path. Errors below the root are collected,
 * not thrown; an unreadable root throws.
 */
export async function scanLocalTree(root: string, options: ScanOptions): Promise<ScanResult> {
  const { filter, followSymlinks, signal } = options;
  const result: ScanResult = { files: [], errors: [], excluded: 0, symlinks: 0, partials: [] };
  const byKey = new Map<string, string>();
  // Real paths of the folders on the current branch: following a link back into one of them is a cycle.
  const rootReal = followSymlinks ? await realpath(root) : root;

  const addError = (path: string, code: string, message: string) => result.errors.push({ path, code, message });
  // Synchronous stat calls while the file system answers them fast (see SLOW_BATCH_MS).
  let syncStats = true;

  async function walk(dir: string, rel: string, ancestors: ReadonlySet<string>): Promise<void> {
    signal?.throwIfAborted();
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (rel === "") throw error;
      addError(rel, errorCode(error), `cannot read folder: ${(error as Error).message}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // `dir` is normalised and an entry's name a plain name, so this is `path.join(dir, name)` without
    // its per-call normalisation (a JavaScript loop over every character: ~10 µs per file in a cold process).
    const prefix = dir === "." ? "" : dir.endsWith(sep) ? dir : `${dir}${sep}`;
    const subdirs: { abs: string; rel: string; real: string }[] = [];
    for (let i = 0; i < entries.length; i += STAT_BATCH) {
      const batch = entries.slice(i, i + STAT_BATCH).map((entry) => {
        const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
        const key = relPath.normalize("NFC");
        let want: "lstat" | "stat" | undefined;
        if (entry.isDirectory()) want = filter.isDirectoryExcluded(key) ? undefined : "lstat";
        else if (entry.isSymbolicLink()) want = followSymlinks ? "stat" : undefined;
        else if (entry.isFile() && !isPartialDownload(entry.name) && filter.accepts(key)) want = "lstat";
        return { entry, abs: `${prefix}${entry.name}`, relPath, key, want };
      });
      let stats: (Stats | Error | undefined)[];
      if (syncStats) {
        const started = performance.now();
        stats = batch.map(({ abs, want }) => (want === undefined ? undefined : statNow(abs, want)));
        if (performance.now() - started > (options.slowStatBatchMs ?? SLOW_BATCH_MS)) syncStats = false;
      } else {
        stats = await Promise.all(
          batch.map(({ abs, want }) =>
            want === undefined ? undefined : (want === "stat" ? stat(abs) : lstat(abs)).catch((e: Error) => e),
          ),
        );
      }
      for (let j = 0; j < batch.length; j++) {
        const { entry, abs, relPath, key } = batch[j]!;
        const s = stats[j];
        if (entry.isSymbolicLink() && !followSymlinks) {
          result.symlinks++;
          continue;
        }
        if (entry.isFile() && isPartialDownload(entry.name)) {
          result.partials.push(abs);
          continue;
        }
        if (s === undefined) {
          if (entry.isDirectory() || entry.isFile() || entry.isSymbolicLink()) result.excluded++;
          continue;
        }
        if (s instanceof Error) {
          addError(relPath, errorCode(s), `cannot read: ${s.message}`);
          continue;
        }
        if (s.isDirectory()) {
          if (entry.isSymbolicLink() && filter.isDirectoryExcluded(key)) {
            result.excluded++;
            continue;
          }
          if (options.skipDirectories?.has(abs)) continue;
          const real = followSymlinks ? await realpath(abs).catch(() => abs) : abs;
          if (followSymlinks && ancestors.has(real)) continue; // a link back up the tree: a cycle
          subdirs.push({ abs, rel: relPath, real });
          continue;
        }
        if (!s.isFile()) continue;
        if (entry.isSymbolicLink() && !filter.accepts(key)) {
          result.excluded++;
          continue;
        }
        try {
          validateKey(key);
        } catch (error) {
          addError(relPath, "invalidKey", (error as Error).message);
          continue;
        }
        const other = byKey.get(key);
        if (other !== undefined) {
          addError(relPath, "keyCollision", `\`${relPath}\` and \`${other}\` have the same NFC-normalised name`);
          continue;
        }
        byKey.set(key, relPath);
        result.files.push({ key, relativePath: relPath, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs });
      }
    }
    for (const sub of subdirs)
      await walk(sub.abs, sub.rel, followSymlinks ? new Set([...ancestors, sub.real]) : ancestors);
  }

  await walk(normalize(root), "", new Set([rootReal]));
  return result;
}
