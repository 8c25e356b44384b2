import { isAbortError, isObjectStoreError, isRetryableError } from "@toolkit/shared";

/** Codes of {@link S3ObjectError}. Stable strings: match on them, never on messages. */
export type S3ObjectErrorCode =
  /** An option or argument is invalid (the message names it). */
  | "object.invalidOptions"
  /** The object URL is not `s3://bucket/key` / `file:///path`, or a key would escape the cache or target directory. */
  | "object.invalidUrl"
  /** The remote object (or the bucket, or the local file to upload) does not exist. */
  | "object.notFound"
  /** The remote changed since we last saw it; nothing was overwritten. Download first, or pass `force`. */
  | "object.conflict"
  /** The local copy has changes not uploaded yet; a download would destroy them. Upload first, or pass `force`. */
  | "object.localChanges"
  /** Downloaded bytes do not match the object's hash, its metadata is malformed or it is longer than declared (corrupt or hostile), or an upload did not store what was hashed. */
  | "object.integrity"
  /** The credentials or the bucket policy do not allow the request. */
  | "object.accessDenied"
  /** The network failed (after retries): connection refused or reset, body cut short, throttled. */
  | "object.network"
  /** A local file-system operation failed. */
  | "object.io"
  /** Any other failure reported by the store. */
  | "object.remote";

/** The one error class of `@toolkit/s3-object`. `code` says what happened; `cause` holds the original error. */
export class S3ObjectError extends Error {
  override name = "S3ObjectError";
  constructor(
    readonly code: S3ObjectErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** True when `error` is an {@link S3ObjectError}, optionally with the given code. */
export function isS3ObjectError(error: unknown, code?: S3ObjectErrorCode): error is S3ObjectError {
  return error instanceof S3ObjectError && (code === undefined || error.code === code);
}

/**
 * Map a failure of the store or the file system to an {@link S3ObjectError}. Abort errors pass through
 * unchanged (operations reject with `signal.reason`).
 */
export function toS3ObjectError(error: unknown, what: string): unknown {
  if (error instanceof S3ObjectError) return error;
  // Callers check their own signal first, so an abort seen here was not the caller's: treat it as a dropped
  // connection. (The shared store now maps the SDK's socket `TimeoutError` to `network` itself.)
  if (isObjectStoreError(error, "aborted") || (isAbortError(error) && !isObjectStoreError(error))) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : (error as Error).message;
    return new S3ObjectError(
      "object.network",
      `${what}: the connection failed (${cause}); check the network and retry.`,
      {
        cause: error,
      },
    );
  }
  if (isObjectStoreError(error)) {
    const detail = error.message.replace(/\.$/, "");
    switch (error.code) {
      case "notFound":
      case "noSuchBucket":
        return new S3ObjectError("object.notFound", `${what}: ${detail}.`, { cause: error });
      case "preconditionFailed":
        return new S3ObjectError(
          "object.conflict",
          `${what}: the remote object changed since it was last downloaded; download it again (or pass force) and retry.`,
          { cause: error },
        );
      case "accessDenied":
        return new S3ObjectError("object.accessDenied", `${what}: ${detail}.`, { cause: error });
      case "network":
        return new S3ObjectError("object.network", `${what}: ${detail}.`, { cause: error });
      case "invalidRemoteData":
        // Lying metadata, a body longer than its declared size: the stored object is corrupt or crafted.
        return new S3ObjectError("object.integrity", `${what}: ${detail}.`, { cause: error });
      case "invalidKey":
      case "invalidLocation":
        return new S3ObjectError("object.invalidUrl", `${what}: ${detail}.`, { cause: error });
      default:
        return new S3ObjectError("object.remote", `${what}: ${detail}.`, { cause: error });
    }
  }
  // Sockets reset mid-body surface as plain errors (`aborted`, ECONNRESET, premature close): network.
  if (isRetryableError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new S3ObjectError("object.network", `${what}: ${message}; check the network and retry.`, { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ECHANGED") {
    // The store saw the local file change while it read it (or differ from the hash taken before); a body that did
    // not match never completes, so nothing was stored.
    return new S3ObjectError(
      "object.integrity",
      `${what}: the local file changed while it was being sent; nothing was stored; upload again (${(error as Error).message}).`,
      { cause: error },
    );
  }
  if (typeof code === "string" && /^E[A-Z]+$/.test(code) && (error as { syscall?: unknown }).syscall) {
    if (code === "ECONNRESET" || code === "ECONNREFUSED" || code === "EPIPE" || code === "ETIMEDOUT") {
      return new S3ObjectError("object.network", `${what}: ${(error as Error).message}; check the network and retry.`, {
        cause: error,
      });
    }
    return new S3ObjectError("object.io", `${what}: ${(error as Error).message}.`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new S3ObjectError("object.remote", `${what}: ${message}.`, { cause: error });
}
