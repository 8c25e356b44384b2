import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { abortReason, type Logger, type ObjectStore } from "@toolkit/shared";
import { monotonicFactory } from "ulid";
import { DynamoTableError } from "./errors.ts";

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
  /** Key attributes of user indexes learned from a `LastEvaluatedKey` (what a cursor must hold). */
  readonly indexKeys: Map<string, string[]>;
  /** Where blob fields live (`blobStore` of `createTable`). */
  readonly blobStore?: ObjectStore | undefined;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/** The context of one table handle (validated options in). No request is sent until an action runs. */
export function createContext(options: {
  tableName: string;
  client: DynamoDBClient;
  logger: Logger;
  consistentRead: boolean;
  cursorSecret: string;
  blobStore?: ObjectStore | undefined;
}): TableContext {
  const { tableName, client, logger } = options;
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const newId = monotonicFactory();

  async function send<T>(what: string, command: unknown, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return (await doc.send(command as never, signal ? { abortSignal: signal } : undefined)) as T;
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (error instanceof ConditionalCheckFailedException || error instanceof TransactionCanceledException)
        throw error;
      if (error instanceof ResourceNotFoundException) {
        throw new DynamoTableError(
          "table.request",
          `${what}: table ${tableName} does not exist; create it with ensureTable() (or \`s3kit table init\`)`,
          { cause: error },
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      if (/item size/i.test(message)) {
        throw new DynamoTableError(
          "table.itemTooLarge",
          `${what}: ${message}; enable \`compress\` or keep large fields in S3`,
          {
            cause: error,
          },
        );
      }
      throw new DynamoTableError("table.request", `${what}: ${errorName(error)}: ${message}`, { cause: error });
    }
  }

  let tableIndexes: Promise<Map<string, string[]> | undefined> | undefined;

  function describeIndexes(signal: AbortSignal | undefined): Promise<Map<string, string[]> | undefined> {
    tableIndexes ??= send<{
      Table?: { GlobalSecondaryIndexes?: { IndexName?: string; KeySchema?: { AttributeName?: string }[] }[] };
    }>(`describe ${tableName}`, new DescribeTableCommand({ TableName: tableName }), signal).then(
      (out) => {
        const map = new Map<string, string[]>();
        for (const g of out.Table?.GlobalSecondaryIndexes ?? []) {
          const names = (g.KeySchema ?? []).map((k) => k.AttributeName).filter((n): n is string => !!n);
          if (g.IndexName) map.set(g.IndexName, names);
        }
        return map;
      },
      (error: unknown) => {
        // No dynamodb:DescribeTable permission: assume this package's own layout, and do not ask again (each
        // write with GSI keys would pay a failing request). Other failures are asked again next time.
        const denied = (error as { cause?: { name?: unknown } }).cause?.name === "AccessDeniedException";
        if (!denied) tableIndexes = undefined;
        if (signal?.aborted) throw error;
        logger.debug("dynamo-table: DescribeTable failed; assuming the standard index keys", {
          error: String(error),
        });
        return undefined;
      },
    );
    return tableIndexes;
  }

  return {
    tableName,
    client,
    doc,
    logger,
    consistentRead: options.consistentRead,
    cursorSecret: options.cursorSecret,
    newId,
    send,
    describeIndexes,
    indexKeys: new Map(),
    blobStore: options.blobStore,
  };
}
