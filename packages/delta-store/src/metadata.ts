import { isObjectStoreError, isSha256Hex, parseSha256Hex, parseSize, type Sha256Hex } from "@toolkit/shared";
import { DeltaError } from "./errors.ts";

/**
 * DeltaGlider's `x-amz-meta-dg-*` metadata: what we write (canonical `dg-*` keys only) and what we read
 * (also the legacy spellings `dg_x_y`, `x_y` and `x-y` older DeltaGlider versions wrote).
 */

/** Written into `dg-tool`. DeltaGlider writes `deltaglider/<version>`. */
export const TOOL = "s3kit-delta-store/0.1.0";

/**
 * `dg-generation`: 1 + the highest generation among the objects stored for the key when it was written
 * (both forms; absent = 0). Readers take the form with the higher generation (see README, "Write ordering").
 */
export const GENERATION_META = "dg-generation";

export type EngineName = "xdelta3" | "xdelta3-wasm" | "zstd";

/** Read one `dg-*` field, accepting the legacy spellings. */
export function readMeta(metadata: Record<string, string>, field: string): string | undefined {
  const dashed = field.replaceAll("_", "-");
  const underscored = field.replaceAll("-", "_");
  for (const name of [`dg-${dashed}`, `dg_${underscored}`, `dg-${underscored}`, underscored, dashed]) {
    const value = metadata[name];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

/** ISO time ending in `Z` (DeltaGlider's `created-at`). */
export function nowIso(): string {
  return new Date().toISOString();
}

/** What kind of stored object this is, from its key and metadata. */
export type StoredKind = "reference" | "delta" | "direct";

export interface DeltaMeta {
  fileSha256: Sha256Hex;
  fileSize: number;
  refKey: string;
  refSha256: Sha256Hex;
  /** `dg-delta-size`, when recorded. */
  deltaSize?: number;
  /** The engine that made the delta: `dg-engine`, or `xdelta3` when absent (a DeltaGlider delta). */
  engine: EngineName;
  /** Engine parameters needed to decode (zstd window log). */
  zstdWindowLog?: number;
  note?: string;
}

/** Largest zstd window log a delta may ask for (zstd's limit on 64-bit builds). */
const MAX_ZSTD_WINDOW_LOG = 31;

/**
 * Run a trust-boundary parser from `@toolkit/shared` and turn its `invalidRemoteData` error into one
 * `delta.integrity` error naming the object: hostile or corrupt metadata is a failed item, never a path.
 */
function untrusted<T>(parse: () => T, key: string | undefined): T {
  try {
    return parse();
  } catch (error) {
    if (isObjectStoreError(error, "invalidRemoteData")) {
      throw new DeltaError(
        "delta.integrity",
        `${error.message} The object's metadata is corrupt or hostile; it was not used.`,
        {
          cause: error,
          ...(key !== undefined ? { key } : {}),
        },
      );
    }
    throw error;
  }
}

/**
 * Parse the metadata of a `*.delta` object: hashes must be 64 lowercase hex characters, sizes safe
 * non-negative integers. `undefined` when a required field is missing (not a delta we can decode).
 * @param where names the object in errors, e.g. `s3://b/app/x.zip.delta`.
 * @throws DeltaError `delta.integrity` when a field is present but invalid (a path as a hash, a negative size).
 */
export function parseDeltaMeta(
  metadata: Record<string, string>,
  where = "the delta",
  key?: string,
): DeltaMeta | undefined {
  const rawFileSha = readMeta(metadata, "file-sha256");
  const rawFileSize = readMeta(metadata, "file-size");
  const refKey = readMeta(metadata, "ref-key");
  const rawRefSha = readMeta(metadata, "ref-sha256");
  if (!rawFileSha || !refKey || !rawRefSha || rawFileSize === undefined) return undefined;
  return untrusted(() => {
    const fileSha256 = parseSha256Hex(rawFileSha, `dg-file-sha256 of ${where}`);
    const refSha256 = parseSha256Hex(rawRefSha, `dg-ref-sha256 of ${where}`);
    const fileSize = parseSize(rawFileSize, `dg-file-size of ${where}`);
    const rawDeltaSize = readMeta(metadata, "delta-size");
    const deltaSize = rawDeltaSize === undefined ? undefined : parseSize(rawDeltaSize, `dg-delta-size of ${where}`);
    const engine = (readMeta(metadata, "engine") ?? "xdelta3") as EngineName;
    const rawWindowLog = readMeta(metadata, "zstd-window-log");
    const windowLog =
      rawWindowLog === undefined
        ? undefined
        : parseSize(rawWindowLog, `dg-zstd-window-log of ${where}`, MAX_ZSTD_WINDOW_LOG);
    const note = readMeta(metadata, "note");
    return {
      fileSha256,
      fileSize,
      refKey,
      refSha256,
      ...(deltaSize !== undefined ? { deltaSize } : {}),
      engine,
      ...(windowLog !== undefined ? { zstdWindowLog: windowLog } : {}),
      ...(note ? { note } : {}),
    };
  }, key);
}

/** What a direct (or plain) object declares about itself; both optional (plain objects have neither). */
export interface DirectMeta {
  fileSha256?: Sha256Hex;
  fileSize?: number;
}

/**
 * Parse a direct object's `dg-file-sha256` / `dg-file-size`.
 * @throws DeltaError `delta.integrity` when one is present but invalid.
 */
export function parseDirectMeta(metadata: Record<string, string>, where: string, key?: string): DirectMeta {
  const rawSha = readMeta(metadata, "file-sha256");
  const rawSize = readMeta(metadata, "file-size");
  return untrusted(
    () => ({
      ...(rawSha !== undefined ? { fileSha256: parseSha256Hex(rawSha, `dg-file-sha256 of ${where}`) } : {}),
      ...(rawSize !== undefined ? { fileSize: parseSize(rawSize, `dg-file-size of ${where}`) } : {}),
    }),
    key,
  );
}

/** A reference's `dg-file-sha256` when it is a valid SHA-256 (else `undefined`: the reference is unusable). */
export function referenceSha256(metadata: Record<string, string>): Sha256Hex | undefined {
  const raw = readMeta(metadata, "file-sha256");
  return isSha256Hex(raw) ? raw : undefined;
}

/**
 * Metadata of a deltaspace's `reference.bin`. `dg-engine` records the engine of the deltaspace's first delta,
 * so that `auto` keeps one delta format per deltaspace (DeltaGlider ignores the extra key).
 */
export function referenceMetadata(
  sourceName: string,
  sha256: string,
  size: number,
  engine: EngineName,
): Record<string, string> {
  return {
    "dg-tool": TOOL,
    "dg-source-name": sourceName,
    "dg-file-sha256": sha256,
    "dg-file-size": String(size),
    "dg-created-at": nowIso(),
    "dg-note": "reference",
    "dg-engine": engine,
  };
}

export function deltaMetadata(input: {
  originalName: string;
  fileSha256: string;
  fileSize: number;
  refKey: string;
  refSha256: string;
  deltaSize: number;
  engine: EngineName;
  deltaCmd: string;
  zstdWindowLog?: number;
  note?: string;
  generation: number;
}): Record<string, string> {
  return {
    "dg-tool": TOOL,
    "dg-original-name": input.originalName,
    "dg-file-sha256": input.fileSha256,
    "dg-file-size": String(input.fileSize),
    "dg-created-at": nowIso(),
    "dg-ref-key": input.refKey,
    "dg-ref-sha256": input.refSha256,
    "dg-delta-size": String(input.deltaSize),
    "dg-delta-cmd": input.deltaCmd,
    "dg-engine": input.engine,
    ...(input.zstdWindowLog !== undefined ? { "dg-zstd-window-log": String(input.zstdWindowLog) } : {}),
    ...(input.note ? { "dg-note": input.note } : {}),
    [GENERATION_META]: String(input.generation),
  };
}

export function directMetadata(
  originalName: string,
  sha256: string,
  size: number,
  generation: number,
): Record<string, string> {
  return {
    "dg-tool": TOOL,
    "dg-original-name": originalName,
    "dg-file-sha256": sha256,
    "dg-file-size": String(size),
    "dg-created-at": nowIso(),
    "dg-compression": "none",
    [GENERATION_META]: String(generation),
  };
}

/** The `dg-generation` of a stored form; 0 when absent (DeltaGlider, older s3kit) or not a safe integer. */
export function generationOf(metadata: Record<string, string>): number {
  const raw = readMeta(metadata, "generation");
  return raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
}
