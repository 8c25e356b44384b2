/** Codes of {@link DynamoTableError}. Stable strings: match on them, never on messages. */
export type DynamoTableErrorCode =
  | "table.validation"
  | "table.corruptItem"
  | "table.notFound"
  | "table.alreadyExists"
  | "table.versionConflict"
  | "table.conflict"
  | "table.invalidCursor"
  | "table.itemTooLarge"
  | "table.transactionTooLarge"
  | "table.transactionFailed"
  | "table.invalidOptions"
  | "table.invalidResource"
  | "table.aborted"
  | "table.request";

/** The one error class of `@toolkit/dynamo-table`. `code` says what happened; `cause` holds the original error. */
export class DynamoTableError extends Error {
  override name = "DynamoTableError";
  /** The stored item concerned (`table.corruptItem`), by its table keys. */
  readonly key?: { pk: string; sk: string };
  constructor(
    readonly code: DynamoTableErrorCode,
    message: string,
    options?: ErrorOptions & { key?: { pk: string; sk: string } },
  ) {
    super(message, options);
    if (options?.key !== undefined) this.key = options.key;
  }
}

/** True when `error` is a {@link DynamoTableError}, optionally with the given code. */
export function isDynamoTableError(error: unknown, code?: DynamoTableErrorCode): error is DynamoTableError {
  return error instanceof DynamoTableError && (code === undefined || error.code === code);
}
