/** Codes of {@link KvError}. Stable strings: match on them, never on messages. */
export type KvErrorCode =
  /** The database (local file or remote) does not exist and the flag does not create it. */
  | "kv.notFound"
  /** The same key changed locally and remotely and `onConflict` is `"error"`. */
  | "kv.conflict"
  /** A key is empty, longer than 1,024 UTF-8 bytes or not well-formed UTF-16. */
  | "kv.invalidKey"
  /** The codec cannot encode (or decode) a value. */
  | "kv.invalidValue"
  /** A write on a database opened with flag `r`. */
  | "kv.readOnly"
  /** An option is missing or malformed. */
  | "kv.invalidOptions"
  /** The remote (or local file) was written with another codec. */
  | "kv.codecMismatch"
  /** A checksum does not match, or an object the manifest names is missing or malformed. */
  | "kv.integrity"
  /** The remote was written by a newer, unknown format version. */
  | "kv.unsupportedFormat"
  /** The remote cannot be reached or refused the request (no such bucket, access denied, network). */
  | "kv.remote"
  /** A remote operation on a database that is offline (or has no remote). */
  | "kv.offline"
  /** The local SQLite file is not a database of this library. */
  | "kv.corruptLocal"
  /** The database was closed. */
  | "kv.closed"
  /** A push to an endpoint that ignores conditional PutObject, without `singleWriter: true`. */
  | "kv.unsafeStore";

/** The one error class of `@toolkit/kv-store`. `code` says what happened; `cause` holds the original error. */
export class KvError extends Error {
  override name = "KvError";
  /** Keys concerned (conflicting keys, the key that failed its checksum), when there are any. */
  readonly keys?: string[];
  constructor(
    readonly code: KvErrorCode,
    message: string,
    options?: ErrorOptions & { keys?: string[] },
  ) {
    super(message, options);
    if (options?.keys !== undefined) this.keys = options.keys;
  }
}

/** True when `error` is a {@link KvError}, optionally with the given code. */
export function isKvError(error: unknown, code?: KvErrorCode): error is KvError {
  return error instanceof KvError && (code === undefined || error.code === code);
}
