import { isSyncError, type SyncErrorCode, type SyncSummary } from "@toolkit/shared";

/** Codes of {@link PhotoSyncError}. Stable strings: match on them, never on messages. */
export type PhotoSyncErrorCode =
  /** An option is missing or has a bad value (the message names it). */
  | "photoSync.invalidOptions"
  /** The source (a local folder, or for a restore the backup's listing) is missing or cannot be read. Nothing changed. */
  | "photoSync.sourceNotFound"
  /** The destination could not be listed or read (missing bucket, no permission, unreachable endpoint). */
  | "photoSync.destination"
  /** The source is empty and the destination is not: deleting would empty it. Nothing changed. */
  | "photoSync.emptySource"
  /** The deletes exceed `maxDelete` or `maxDeletePercent` of the destination. Nothing changed. */
  | "photoSync.tooManyDeletes"
  /** `applyPlan` was given something that is not a plan (neither made by `planSync` nor its JSON). */
  | "photoSync.invalidPlan"
  /** The run was interrupted through its `AbortSignal`; `summary` holds what was done so far. */
  | "photoSync.aborted";

/** The one error class of `@toolkit/photo-sync`. `code` says what happened; `cause` holds the original error. */
export class PhotoSyncError extends Error {
  override name = "PhotoSyncError";
  /** For `photoSync.aborted`: the summary of the work done before the interruption. */
  readonly summary?: SyncSummary;
  constructor(
    readonly code: PhotoSyncErrorCode,
    message: string,
    options?: ErrorOptions & { summary?: SyncSummary },
  ) {
    super(message, options);
    if (options?.summary) this.summary = options.summary;
  }
}

/** True when `error` is a {@link PhotoSyncError}, optionally with the given code. */
export function isPhotoSyncError(error: unknown, code?: PhotoSyncErrorCode): error is PhotoSyncError {
  return error instanceof PhotoSyncError && (code === undefined || error.code === code);
}

const FROM_ENGINE: Record<SyncErrorCode, PhotoSyncErrorCode> = {
  "sync.invalidOptions": "photoSync.invalidOptions",
  "sync.sourceNotFound": "photoSync.sourceNotFound",
  "sync.destination": "photoSync.destination",
  "sync.emptySource": "photoSync.emptySource",
  "sync.tooManyDeletes": "photoSync.tooManyDeletes",
  "sync.invalidPlan": "photoSync.invalidPlan",
  "sync.aborted": "photoSync.aborted",
};

/** Run `fn`, turning the sync engine's errors into this package's (same message, the engine's as `cause`). */
export async function asPhotoSyncErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!isSyncError(error)) throw error;
    throw new PhotoSyncError(FROM_ENGINE[error.code], error.message, {
      cause: error,
      ...(error.summary ? { summary: error.summary } : {}),
    });
  }
}
