/**
 * DeltaGlider's `x-amz-meta-dg-*` metadata: what we write (canonical `dg-*` keys only) and what we read
 * (also the legacy spellings `dg_x_y`, `x_y` and `x-y` older DeltaGlider versions wrote).
 */

/** Written into `dg-tool`. DeltaGlider writes `deltaglider/<version>`. */
export const TOOL = "s3kit-delta-store/0.1.0";

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
  fileSha256: string;
  fileSize: number;
  refKey: string;
  refSha256: string;
  deltaSize: number;
  /** The engine that made the delta: `dg-engine`, or `xdelta3` when absent (a DeltaGlider delta). */
  engine: EngineName;
  /** Engine parameters needed to decode (zstd window log). */
  zstdWindowLog?: number;
  note?: string;
}

/** Parse the metadata of a `*.delta` object; `undefined` when required fields are missing. */
export function parseDeltaMeta(metadata: Record<string, string>): DeltaMeta | undefined {
  const fileSha256 = readMeta(metadata, "file-sha256");
  const fileSize = Number(readMeta(metadata, "file-size"));
  const refKey = readMeta(metadata, "ref-key");
  const refSha256 = readMeta(metadata, "ref-sha256");
  if (!fileSha256 || !refKey || !refSha256 || !Number.isFinite(fileSize)) return undefined;
  const engine = (readMeta(metadata, "engine") ?? "xdelta3") as EngineName;
  const windowLog = readMeta(metadata, "zstd-window-log");
  const note = readMeta(metadata, "note");
  return {
    fileSha256,
    fileSize,
    refKey,
    refSha256,
    deltaSize: Number(readMeta(metadata, "delta-size") ?? Number.NaN),
    engine,
    ...(windowLog ? { zstdWindowLog: Number(windowLog) } : {}),
    ...(note ? { note } : {}),
  };
}

export function referenceMetadata(sourceName: string, sha256: string, size: number): Record<string, string> {
  return {
    "dg-tool": TOOL,
    "dg-source-name": sourceName,
    "dg-file-sha256": sha256,
    "dg-file-size": String(size),
    "dg-created-at": nowIso(),
    "dg-note": "reference",
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
  };
}

export function directMetadata(originalName: string, sha256: string, size: number): Record<string, string> {
  return {
    "dg-tool": TOOL,
    "dg-original-name": originalName,
    "dg-file-sha256": sha256,
    "dg-file-size": String(size),
    "dg-created-at": nowIso(),
    "dg-compression": "none",
  };
}
