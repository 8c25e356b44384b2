/** Codes of {@link ObjectStoreError}. Stable strings: match on them, never on messages. */
export type ObjectStoreErrorCode =
  | "notFound"
  | "notModified"
  | "preconditionFailed"
  | "accessDenied"
  | "noSuchBucket"
  | "invalidLocation"
  | "invalidKey"
  | "invalidRemoteData"
  | "invalidOptions"
  | "aborted"
  | "network"
  | "unknown";

/** The one error class of `@toolkit/shared`. `code` says what happened; `cause` holds the original error. */
export class ObjectStoreError extends Error {
  override name = "ObjectStoreError";
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    options?: ErrorOptions & { key?: string },
  ) {
    super(message, options);
    if (options?.key !== undefined) this.key = options.key;
  }
  /** The object key the failure concerns, when there is one. */
  readonly key?: string;
}

/** True when `error` is an {@link ObjectStoreError}, optionally with the given code. */
export function isObjectStoreError(error: unknown, code?: ObjectStoreErrorCode): error is ObjectStoreError {
  return error instanceof ObjectStoreError && (code === undefined || error.code === code);
}

/** The reason an aborted signal carries, as an Error (AbortSignal.abort() gives a DOMException named AbortError). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException("This operation was aborted", "AbortError");
}

/** True for the errors an aborted operation rejects with (DOMException AbortError, SDK AbortError, our `aborted`); not timeouts. */
export function isAbortError(error: unknown): boolean {
  if (isObjectStoreError(error, "aborted")) return true;
  return error instanceof Error && error.name === "AbortError";
}
