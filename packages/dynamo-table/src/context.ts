import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "@toolkit/shared";

/**
 * What every action of a table handle shares: the clients, the options, one `send` that maps SDK errors to
 * `DynamoTableError`, and the table's index key schemas (one cached DescribeTable). `createTable` builds it
 * once; each action is a function of it (one module per action, as dynamodb-toolbox does).
 */
export interface TableContext {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly logger: Logger;
  /** The table's `consistentRead` default. */
  readonly consistentRead: boolean;
  /** HMAC key of cursors. */
  readonly cursorSecret: string;
  /** A new item id (a monotonic ULID). */
  newId(): string;
  /**
   * Send a document-client command. Conditional failures and cancelled transactions are rethrown as the SDK's
   * errors (the action maps them); everything else becomes `table.request` / `table.itemTooLarge`, and an abort
   * rejects with the signal's reason.
   */
  send<T>(what: string, command: unknown, signal?: AbortSignal): Promise<T>;
  /** Index name → its key attributes (hash, range), from one DescribeTable per handle; `undefined` if denied. */
  describeIndexes(signal?: AbortSignal): Promise<Map<string, string[]> | undefined>;
}
