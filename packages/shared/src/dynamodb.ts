/**
 * `@toolkit/shared/dynamodb`: the DynamoDB client factory. A separate entry point so that only packages that
 * use DynamoDB load (and install) `@aws-sdk/client-dynamodb`, an optional peer dependency of `@toolkit/shared`.
 *
 * ```ts
 * import { createDynamoDbClient } from "@toolkit/shared/dynamodb";
 * const client = createDynamoDbClient({ region: "eu-west-1" });
 * ```
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type ClientOptions, createDynamoDbClientWith } from "./clients.ts";

export type { ClientOptions } from "./clients.ts";

/** A DynamoDB client with the same resolution rules (endpoint, region, profile, retries, logger) as `createS3Client`. */
export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return createDynamoDbClientWith(DynamoDBClient, options);
}
