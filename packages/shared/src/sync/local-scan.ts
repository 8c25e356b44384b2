import type { Dirent, Stats } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
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
}

const STAT_BATCH = 64;

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
    const subdirs: { abs: string; rel: string; real: string }[] = [];
    for (let i = 0; i < entries.length; i += STAT_BATCH) {
      const batch = entries.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(
        batch.map(async (entry): Promise<Stats | Error | undefined> => {
          const abs = join(dir, entry.name);
          const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
          const key = relPath.normalize("NFC");
          if (entry.isDirectory()) {
            return filter.isDirectoryExcluded(key) ? undefined : lstat(abs).catch((e: Error) => e);
          }
          if (entry.isSymbolicLink()) {
            if (!followSymlinks) return undefined;
            return stat(abs).catch((e: Error) => e);
          }
          if (!entry.isFile()) return undefined;
          if (isPartialDownload(entry.name)) return undefined;
          if (!filter.accepts(key)) return undefined;
          return lstat(abs).catch((e: Error) => e);
        }),
      );
      for (let j = 0; j < batch.length; j++) {
        const entry = batch[j]!;
        const s = stats[j];
        const abs = join(dir, entry.name);
        const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
        const key = relPath.normalize("NFC");
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

  await walk(root, "", new Set([rootReal]));
  return result;
}
