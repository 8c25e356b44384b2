import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { abortReason, type Logger } from "@toolkit/shared";
import { DynamoTableError } from "./errors.ts";

export interface EnsureTableOptions {
  /** Enable DynamoDB TTL on this attribute (use the `ttl.attribute` of your resources). */
  ttlAttribute?: string;
  /** How long to wait for the table and new indexes to become ACTIVE, in ms. @default 300000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EnsureTableResult {
  created: boolean;
  /** GSIs that were missing and have been added. */
  addedIndexes: string[];
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/**
 * Create the table in simplesingletable's standard layout (pk/sk; GSIs `gsitype`, `gsi1`…`gsi5`, projection
 * ALL, on demand) or add the indexes it lacks, one UpdateTable at a time; optionally enable TTL.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  logger: Logger,
  opts: EnsureTableOptions = {},
): Promise<EnsureTableResult> {
  const { signal } = opts;
  const wrap = (error: unknown, what: string): Error => {
    if (signal?.aborted) return abortReason(signal);
    return new DynamoTableError(
      "table.request",
      `ensureTable ${tableName}: ${what}: ${errorName(error)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  };
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const indexNames = ["gsitype", "gsi1", "gsi2", "gsi3", "gsi4", "gsi5"];
  const indexKeys = (name: string) => (name === "gsitype" ? ["gsitype", "gsitypesk"] : [`${name}pk`, `${name}sk`]);
  const gsi = (name: string): GlobalSecondaryIndex => {
    const [hash, range] = indexKeys(name) as [string, string];
    return {
      IndexName: name,
      KeySchema: [
        { AttributeName: hash, KeyType: "HASH" },
        { AttributeName: range, KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "ALL" },
    };
  };
  const attr = (name: string): AttributeDefinition => ({ AttributeName: name, AttributeType: "S" });
  const describe = async () => {
    try {
      const out = await client.send(
        new DescribeTableCommand({ TableName: tableName }),
        signal ? { abortSignal: signal } : undefined,
      );
      return out.Table;
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (error instanceof ResourceNotFoundException) return undefined;
      throw new DynamoTableError(
        "table.request",
        `ensureTable ${tableName}: ${errorName(error)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  const waitActive = async () => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const table = await describe();
      const busy =
        table?.TableStatus !== "ACTIVE" ||
        (table?.GlobalSecondaryIndexes ?? []).some((g) => g.IndexStatus !== "ACTIVE");
      if (!busy) return table;
      if (Date.now() > deadline) {
        throw new DynamoTableError(
          "table.request",
          `ensureTable ${tableName}: not ACTIVE after ${timeoutMs} ms; try again later`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  let table = await describe();
  let created = false;
  const added: string[] = [];
  if (!table) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
          AttributeDefinitions: ["pk", "sk", ...indexNames.flatMap(indexKeys)].map(attr),
          GlobalSecondaryIndexes: indexNames.map(gsi),
        }),
        signal ? { abortSignal: signal } : undefined,
      );
      created = true;
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (errorName(error) !== "ResourceInUseException") {
        throw new DynamoTableError(
          "table.request",
          `ensureTable ${tableName}: ${errorName(error)}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    table = await waitActive();
  } else {
    const keys = Object.fromEntries((table.KeySchema ?? []).map((k) => [k.KeyType, k.AttributeName]));
    if (keys.HASH !== "pk" || keys.RANGE !== "sk") {
      throw new DynamoTableError(
        "table.invalidOptions",
        `ensureTable ${tableName}: the table's key schema is ${keys.HASH}/${keys.RANGE}, not pk/sk; use a table made for this layout`,
      );
    }
    const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    for (const name of indexNames.filter((n) => !existing.has(n))) {
      // One index per UpdateTable call: DynamoDB builds them one at a time.
      await client
        .send(
          new UpdateTableCommand({
            TableName: tableName,
            AttributeDefinitions: indexKeys(name).map(attr),
            GlobalSecondaryIndexUpdates: [{ Create: gsi(name) }],
          }),
          signal ? { abortSignal: signal } : undefined,
        )
        .catch((error: unknown) => {
          throw wrap(error, `add index ${name}`);
        });
      added.push(name);
      await waitActive();
    }
  }
  if (opts.ttlAttribute) {
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: opts.ttlAttribute, Enabled: true },
        }),
        signal ? { abortSignal: signal } : undefined,
      );
    } catch (error) {
      // Already enabled (on this or another attribute) answers ValidationException; reads hide expired items anyway.
      if (errorName(error) !== "ValidationException") throw wrap(error, `enable TTL on ${opts.ttlAttribute}`);
      logger.debug("dynamo-table: TTL not changed", { error: String(error) });
    }
  }
  return { created, addedIndexes: added };
}
