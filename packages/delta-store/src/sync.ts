import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { forEachConcurrent, isAbortError, type ProgressCallback } from "@toolkit/shared";
import picomatch from "picomatch";
import type { DeltaStore, PutOptions } from "./delta-store.ts";
import { DeltaError } from "./errors.ts";
import type { EngineChoice } from "./options.ts";

/** One `--exclude` / `--include` rule; later rules win, as in `aws s3 sync`. */
export interface SyncFilter {
  type: "exclude" | "include";
  /** A glob on the path relative to the synced folder (`*.tmp`, `logs/**`); without `/` it also matches base names. */
  pattern: string;
}

export interface SyncOptions {
  /** Delete files at the destination that the source does not have (filters apply). @default false */
  delete?: boolean;
  /** Plan only: report what would be transferred and deleted. @default false */
  dryRun?: boolean;
  /** Ordered rules; everything is included unless a rule excludes it. */
  filters?: SyncFilter[];
  /** Shorthand: exclude rules (applied before `include`). */
  exclude?: string[];
  /** Shorthand: include rules (applied after `exclude`, so they re-include). */
  include?: string[];
  /** Files transferred at once. @default the store's `concurrency` */
  concurrency?: number;
  /** Upload options (per file). */
  maxRatio?: number;
  engine?: EngineChoice;
  noDelta?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface SyncResult {
  direction: "upload" | "download";
  dryRun: boolean;
  /** Logical keys (upload) or relative paths (download) transferred, or to transfer in a dry run. */
  transferred: string[];
  skipped: string[];
  /** Keys or paths deleted (or to delete) at the destination. */
  deleted: string[];
  failed: { key: string; error: string }[];
  /** Bytes of the transferred files. */
  bytes: number;
}

/** A local path: absolute, or starting with `./`, `../`, `.` or `~/`… (store keys never look like that). */
export function isLocalPath(value: string): boolean {
  return (
    value.startsWith("/") ||
    value === "." ||
    value === ".." ||
    value.startsWith("./") ||
    value.startsWith("../") ||
    value.startsWith(".\\") ||
    /^[A-Za-z]:[\\/]/.test(value)
  );
}

/**
 * A predicate over relative paths from `--exclude` / `--include` rules (everything included unless a rule
 * excludes it; later rules win). Patterns are picomatch globs; one without `/` also matches base names.
 */
export function createPathFilter(
  options: Pick<SyncOptions, "filters" | "exclude" | "include">,
): (path: string) => boolean {
  const rules: SyncFilter[] = [
    ...(options.exclude ?? []).map((pattern) => ({ type: "exclude" as const, pattern })),
    ...(options.include ?? []).map((pattern) => ({ type: "include" as const, pattern })),
    ...(options.filters ?? []),
  ];
  const compiled = rules.map((rule) => ({
    type: rule.type,
    match: picomatch(rule.pattern, { dot: true, basename: !rule.pattern.includes("/") }),
  }));
  return (path) => {
    let included = true;
    for (const rule of compiled) if (rule.match(path)) included = rule.type === "include";
    return included;
  };
}

async function walk(root: string): Promise<Map<string, { path: string; size: number }>> {
  const files = new Map<string, { path: string; size: number }>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = relative(root, path).split(sep).join("/").normalize("NFC");
    if (rel.split("/").some((s) => s.endsWith(".s3kit-part"))) continue;
    files.set(rel, { path, size: (await stat(path)).size });
  }
  return files;
}

async function hashFile(path: string, algorithm: "sha256" | "md5", signal?: AbortSignal): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path, signal ? { signal } : {})) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface RemoteFile {
  size: number;
  sha256?: string;
  etag?: string;
}

async function sameContent(local: { path: string; size: number }, remote: RemoteFile, signal?: AbortSignal) {
  if (local.size !== remote.size) return false;
  if (remote.sha256) return (await hashFile(local.path, "sha256", signal)) === remote.sha256;
  const etag = remote.etag?.replace(/"/g, "");
  if (etag && /^[0-9a-f]{32}$/.test(etag)) return (await hashFile(local.path, "md5", signal)) === etag;
  return true;
}

/**
 * Sync a local directory and a store prefix. The direction follows the arguments: a local path (absolute or
 * starting with `./` / `../`) as `source` uploads; as `destination` it downloads. Files are compared by size
 * and SHA-256 (never by which side is newer), so a download never skips a changed remote file.
 */
export async function syncStore(
  store: DeltaStore,
  source: string,
  destination: string,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const sourceLocal = isLocalPath(source);
  const destinationLocal = isLocalPath(destination);
  if (sourceLocal === destinationLocal) {
    throw new DeltaError(
      "delta.invalidOptions",
      `sync: exactly one of \`${source}\` and \`${destination}\` must be a local path (absolute or starting with ./); the other is a store prefix.`,
    );
  }
  const { signal } = options;
  const concurrency = options.concurrency ?? 4;
  const included = createPathFilter(options);
  const prefixArg = sourceLocal ? destination : source;
  const prefix = prefixArg === "" || prefixArg.endsWith("/") ? prefixArg : `${prefixArg}/`;
  const dir = resolve(sourceLocal ? source : destination);
  const result: SyncResult = {
    direction: sourceLocal ? "upload" : "download",
    dryRun: options.dryRun ?? false,
    transferred: [],
    skipped: [],
    deleted: [],
    failed: [],
    bytes: 0,
  };

  const remote = new Map<string, RemoteFile>();
  for await (const entry of store.list(prefix, signal ? { signal } : {})) {
    if (entry.kind === "folder") continue;
    const rel = entry.key.slice(prefix.length);
    remote.set(rel, {
      size: entry.size,
      ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
      ...(entry.kind === "direct" ? { etag: entry.etag } : {}),
    });
  }
  const local = await walk(dir);
  signal?.throwIfAborted();

  const plan: { rel: string; size: number }[] = [];
  if (sourceLocal) {
    for (const [rel, file] of local) {
      if (!included(rel)) continue;
      const r = remote.get(rel);
      if (r && (await sameContent(file, r, signal))) result.skipped.push(prefix + rel);
      else plan.push({ rel, size: file.size });
    }
  } else {
    for (const [rel, r] of remote) {
      if (!included(rel)) continue;
      const l = local.get(rel);
      if (l && (await sameContent(l, r, signal))) result.skipped.push(rel);
      else plan.push({ rel, size: r.size });
    }
  }
  const toDelete = options.delete
    ? sourceLocal
      ? [...remote.keys()].filter((rel) => !local.has(rel) && included(rel))
      : [...local.keys()].filter((rel) => !remote.has(rel) && included(rel))
    : [];

  const totalBytes = plan.reduce((sum, p) => sum + p.size, 0);
  if (result.dryRun) {
    result.transferred = plan.map((p) => (sourceLocal ? prefix + p.rel : p.rel)).sort();
    result.bytes = totalBytes;
    result.deleted = toDelete.map((rel) => (sourceLocal ? prefix + rel : rel));
    return result;
  }

  let doneBytes = 0;
  let doneItems = 0;
  const report = (current?: string) =>
    options.onProgress?.({
      loadedBytes: doneBytes,
      totalBytes,
      completedItems: doneItems,
      totalItems: plan.length,
      ...(current ? { current } : {}),
    });
  const putOptions: PutOptions = {
    ...(options.maxRatio !== undefined ? { maxRatio: options.maxRatio } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.noDelta !== undefined ? { noDelta: options.noDelta } : {}),
    ...(signal ? { signal } : {}),
  };
  await forEachConcurrent(
    plan,
    concurrency,
    async ({ rel, size }) => {
      const key = prefix + rel;
      try {
        if (sourceLocal) {
          await store.put(local.get(rel)!.path, key, putOptions);
          result.transferred.push(key);
        } else {
          const target = resolve(dir, ...rel.split("/"));
          if (!target.startsWith(dir + sep))
            throw new DeltaError("delta.invalidKey", `${key} would be written outside ${dir}.`);
          await store.get(key, target, signal ? { signal } : {});
          result.transferred.push(rel);
        }
        result.bytes += size;
      } catch (error) {
        if (isAbortError(error) || signal?.aborted) throw error;
        result.failed.push({ key, error: (error as Error).message });
      }
      doneBytes += size;
      doneItems++;
      report(key);
    },
    signal ? { signal } : {},
  );

  result.transferred.sort();
  if (toDelete.length > 0) {
    if (sourceLocal) {
      const wanted = new Set(toDelete.map((rel) => prefix + rel));
      const out = await store.deletePrefix(prefix, { filter: (key) => wanted.has(key), ...(signal ? { signal } : {}) });
      result.deleted.push(...out.deleted);
      result.failed.push(...out.failed);
    } else {
      for (const rel of toDelete) {
        signal?.throwIfAborted();
        await rm(local.get(rel)!.path, { force: true });
        result.deleted.push(rel);
      }
    }
  }
  result.deleted.sort();
  result.skipped.sort();
  return result;
}
