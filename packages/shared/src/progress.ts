/** Progress of a long operation: bytes and items done so far, and the totals when known. */
export interface Progress {
  /** Bytes transferred so far. */
  loadedBytes: number;
  /** Bytes expected in all, when known. */
  totalBytes?: number;
  /** Items (files, objects, keys) finished so far. */
  completedItems?: number;
  /** Items expected in all, when known. */
  totalItems?: number;
  /** What is being worked on now, e.g. an object key. */
  current?: string;
}

/** Called with progress; must be cheap and must not throw. */
export type ProgressCallback = (progress: Progress) => void;
