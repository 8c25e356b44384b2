/** One item that failed; the run went on without it. */
export interface SyncFailure {
  /** `scan`: a local path could not be read; `list`: a listed key cannot be used here (e.g. not a safe local path). */
  action: "scan" | "list" | "upload" | "download" | "delete";
  /** The object key (listing, transfers, deletes). */
  key?: string;
  /** The local path relative to the local folder (scan errors). */
  path?: string;
  code: string;
  message: string;
}

/** What a sync run did (or, on a dry run, would do). `failed > 0` means a partial failure (the CLI exits with 3). */
export interface SyncSummary {
  direction: "upload" | "download";
  /** The local folder (upload) or the store URL (download). */
  source: string;
  /** The store URL (upload) or the local folder (download). */
  destination: string;
  dryRun: boolean;
  /** True when the run was interrupted; counts are what was done until then. */
  aborted: boolean;
  /** Source files or objects that take part (after filters). */
  scanned: number;
  scannedBytes: number;
  transferred: number;
  transferredBytes: number;
  skipped: number;
  skippedBytes: number;
  deleted: number;
  /** Scan and listing errors + failed transfers + failed deletes. */
  failed: number;
  /** Local files and folders left out by the filters. */
  excluded: number;
  /** Symbolic links skipped. */
  symlinks: number;
  /** Destination items with no source item (deleted only with `delete`). */
  extraneous: number;
  /** Why extraneous items were not deleted, when `delete` was asked for and deletion was blocked (rail 4). */
  deleteBlocked?: string;
  /** Partial files of interrupted downloads removed from the local folder. */
  partialsRemoved: number;
  /** Incomplete multipart uploads of interrupted runs aborted under the prefix (uploads). */
  multipartUploadsAborted: number;
  /** Downloads written without a checksum to verify them against (no SHA-256 metadata, ETag not an MD5). */
  unverified: number;
  failures: SyncFailure[];
  warnings: string[];
  durationMs: number;
}
