/** Codes of {@link PhotoSyncError}. Stable strings: match on them, never on messages. */
export type PhotoSyncErrorCode =
  /** An option is missing or has a bad value (the message names it). */
  | "photoSync.invalidOptions"
  /** The source directory does not exist, is not a directory, or cannot be read at all. */
  | "photoSync.sourceNotFound"
  /** The destination could not be listed (missing bucket, no permission, unreachable endpoint). */
  | "photoSync.destination"
  /** `deleteOrphans` would delete more objects than `maxDelete` allows; nothing was changed. */
  | "photoSync.tooManyDeletes"
  /** `applyPlan` was given something that is not a plan (neither made by `planSync` nor its JSON). */
  | "photoSync.invalidPlan"
  /** The run was interrupted through its `AbortSignal`; `summary` holds what was done so far. */
  | "photoSync.aborted";

/** The one error class of `@toolkit/photo-sync`. `code` says what happened; `cause` holds the original error. */
export class PhotoSyncError extends Error {
  override name = "PhotoSyncError";
  /** For `photoSync.aborted`: the summary of the work done before the interruption. */
  readonly summary?: import("./apply.ts").SyncSummary;
  constructor(
    readonly code: PhotoSyncErrorCode,
    message: string,
    options?: ErrorOptions & { summary?: import("./apply.ts").SyncSummary },
  ) {
    super(message, options);
    if (options?.summary) this.summary = options.summary;
  }
}

/** True when `error` is a {@link PhotoSyncError}, optionally with the given code. */
export function isPhotoSyncError(error: unknown, code?: PhotoSyncErrorCode): error is PhotoSyncError {
  return error instanceof PhotoSyncError && (code === undefined || error.code === code);
}
