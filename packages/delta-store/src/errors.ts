import { isAbortError, isObjectStoreError } from "@toolkit/shared";

/** Codes of {@link DeltaError}. Stable strings: match on them, never on messages. */
export type DeltaErrorCode =
  /** A delta, reference or direct object does not reconstruct to its recorded SHA-256 (or cannot be decoded). */
  | "delta.integrity"
  /** No file is stored under the key. */
  | "delta.notFound"
  /** The key cannot be stored (too long, reserved name, `.delta` suffix, bad path segments). */
  | "delta.invalidKey"
  /** An option has an invalid value. */
  | "delta.invalidOptions"
  /** The engine a delta needs (or the one asked for) is not available here. */
  | "delta.engineUnavailable"
  /** An engine failed for another reason than corrupt input (out of memory, crashed). */
  | "delta.engineFailed"
  /** The object store failed (network, access denied, missing bucket); `cause` has the store's error. */
  | "delta.storage"
  /** Another writer changed an object this operation depends on; try again. */
  | "delta.conflict";

/** The one error class of `@toolkit/delta-store`. `code` says what happened; `cause` holds the original error. */
export class DeltaError extends Error {
  override name = "DeltaError";
  constructor(
    readonly code: DeltaErrorCode,
    message: string,
    options?: ErrorOptions & { key?: string },
  ) {
    super(message, options);
    if (options?.key !== undefined) this.key = options.key;
  }
  /** The logical key the failure concerns, when there is one. */
  readonly key?: string;
}

/** True when `error` is a {@link DeltaError}, optionally with the given code. */
export function isDeltaError(error: unknown, code?: DeltaErrorCode): error is DeltaError {
  return error instanceof DeltaError && (code === undefined || error.code === code);
}

/** Wrap a store error (keeps aborts and our own errors as they are). */
export function wrapStoreError(error: unknown, what: string, key?: string): unknown {
  if (error instanceof DeltaError || isAbortError(error)) return error;
  if (isObjectStoreError(error)) {
    if (error.code === "aborted") return error;
    if (error.code === "invalidRemoteData") {
      // Hostile or corrupt remote data (a path as a hash, a body longer than declared): the item is corrupt.
      return new DeltaError("delta.integrity", `${key !== undefined ? `${key}: ` : ""}${error.message}`, {
        cause: error,
        ...(key !== undefined ? { key } : {}),
      });
    }
    if (error.code === "invalidKey") {
      return new DeltaError("delta.invalidKey", `${what} failed: ${error.message}`, {
        cause: error,
        ...(key !== undefined ? { key } : {}),
      });
    }
    return new DeltaError("delta.storage", `${what} failed: ${error.message}`, {
      cause: error,
      ...(key !== undefined ? { key } : {}),
    });
  }
  return error;
}
