import type { SyncSummary } from "./summary.ts";

/** Codes of {@link SyncError}. Stable strings: match on them, never on messages. */
export type SyncErrorCode =
  /** An option is missing or has a bad value (the message names it). */
  | "sync.invalidOptions"
  /** Delete rail 1: the source (a local folder, or a store listing) is missing or cannot be read. Nothing changed. */
  | "sync.sourceNotFound"
  /** The destination cannot be listed or scanned (missing bucket, no permission, unreachable endpoint). */
  | "sync.destination"
  /** Delete rail 2: the source is empty and the destination is not; deleting would empty it. Nothing changed. */
  | "sync.emptySource"
  /** Delete rail 3: the plan deletes more than `maxDelete` objects or more than `maxDeletePercent` of the destination. Nothing changed. */
  | "sync.tooManyDeletes"
  /** `applySyncPlan` was given something that is not a plan made by `planSync`. */
  | "sync.invalidPlan"
  /** The run was interrupted through its `AbortSignal`; `summary` holds what was done so far. */
  | "sync.aborted";

/** The error class of the sync engine. `code` says what happened; `cause` holds the original error. */
export class SyncError extends Error {
  override name = "SyncError";
  /** For `sync.aborted`: the summary of the work done before the interruption. */
  readonly summary?: SyncSummary;
  constructor(
    readonly code: SyncErrorCode,
    message: string,
    options?: ErrorOptions & { summary?: SyncSummary },
  ) {
    super(message, options);
    if (options?.summary) this.summary = options.summary;
  }
}

/** True when `error` is a {@link SyncError}, optionally with the given code. */
export function isSyncError(error: unknown, code?: SyncErrorCode): error is SyncError {
  return error instanceof SyncError && (code === undefined || error.code === code);
}
