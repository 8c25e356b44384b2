import type { CompareMode, SyncDirection } from "./options.ts";
import type { SyncFailure } from "./summary.ts";

/** Why an item is transferred. */
export type TransferReason = "new" | "size" | "modified" | "checksum";

/** One item to copy from the source to the destination. */
export interface PlannedTransfer {
  /** The object key, relative to the store's location. */
  key: string;
  /** Absolute local path: read from (upload) or written to (download). */
  path: string;
  /** Size of the source item in bytes. */
  size: number;
  /** mtime of the source item (the local file's for an upload; the object's LastModified for a download), ms. */
  mtimeMs: number;
  /** The listed ETag of the source object (downloads). */
  etag?: string;
  reason: TransferReason;
  /** Hex SHA-256 of the local content, when the plan computed it (`checksum` uploads). */
  sha256?: string;
}

/** One item left as it is: the destination already holds it. */
export interface PlannedSkip {
  key: string;
  size: number;
}

/** One destination item with no source item. */
export interface PlannedDelete {
  key: string;
  size: number;
  /** Absolute local path (downloads: the local file to remove). */
  path?: string;
}

/** Why the plan's deletes cannot all be applied. */
export interface DeleteBlock {
  /**
   * `scanErrors` (rail 4): some source or destination items could not be read, so deletes are dropped and
   * transfers go on. `emptySource` (rail 2) and `tooManyDeletes` (rail 3) stop the whole run before any change.
   */
  code: "scanErrors" | "emptySource" | "tooManyDeletes";
  /** One line: the cause, the numbers, and the option and flag that would allow it. */
  message: string;
}

export interface PlanTotals {
  /** Source items that take part (after filters). */
  sourceFiles: number;
  sourceBytes: number;
  /** Destination items that take part (after filters). */
  destinationFiles: number;
  transferFiles: number;
  transferBytes: number;
  skipFiles: number;
  skipBytes: number;
  deleteFiles: number;
  deleteBytes: number;
  /** Destination items with no source item (deleted only with `delete`). */
  extraneous: number;
  /** Local files and folders left out by the filters. */
  excluded: number;
  /** Symbolic links skipped. */
  symlinks: number;
  /** Paths or keys that could not be read or used. */
  errors: number;
}

/** What a sync would do. Plain data: it serialises to JSON (`--dry-run --json`). */
export interface SyncPlan {
  direction: SyncDirection;
  /** Absolute local folder. */
  local: string;
  /** URL of the store location, e.g. `s3://bucket/Lightroom/` or `file:///backup`. */
  remote: string;
  compare: CompareMode;
  delete: boolean;
  /** The delete limits the plan was checked against. */
  maxDelete?: number;
  maxDeletePercent?: number;
  /** Whether an empty source may delete every destination item (rail 2 lifted). */
  allowEmptySource: boolean;
  exclude: string[];
  include: string[];
  transfers: PlannedTransfer[];
  skips: PlannedSkip[];
  /** What will be deleted (empty unless `delete`; kept when blocked, to show what would have been). */
  deletes: PlannedDelete[];
  /** Source and destination items that could not be read or used (`scan` and `list` failures). */
  errors: SyncFailure[];
  warnings: string[];
  deleteBlocked?: DeleteBlock;
  /** Partial files of interrupted downloads found in the local folder (removed when the plan is applied). */
  partials: string[];
  totals: PlanTotals;
  statePath?: string;
  createdAt: string;
}
