import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { z } from "zod";
import { ObjectStoreError } from "./errors.ts";
import type { Logger } from "./logger.ts";

const clientOptionsSchema = z.strictObject({
  region: z
    .string()
    .regex(/^[a-z0-9-]+$/, "a region looks like `eu-west-1`")
    .optional(),
  endpoint: z
    .url({ protocol: /^https?$/, error: "an endpoint is an http(s) URL such as http://127.0.0.1:9000" })
    .optional(),
  profile: z.string().min(1).optional(),
  concurrency: z.number().int().min(1).max(1024).optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
  forcePathStyle: z.boolean().optional(),
  credentials: z
    .object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional() })
    .optional(),
  logger: z.custom<Logger>().optional(),
  socketTimeoutMs: z.number().int().min(1).optional(),
});

/** Options shared by {@link createS3Client} and {@link createDynamoDbClient}. */
export interface ClientOptions {
  /** AWS region. @default `AWS_REGION`, the profile's region, or `us-east-1` with a custom endpoint */
  region?: string;
  /** Custom endpoint URL. @default `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL` */
  endpoint?: string;
  /** Named profile from `~/.aws/config`. @default `AWS_PROFILE` or `default` */
  profile?: string;
  /** Requests the caller keeps in flight; the keep-alive socket pool gets this many sockets. @default 16 */
  concurrency?: number;
  /** Attempts per request, adaptive retry mode. @default 5 */
  maxAttempts?: number;
  /** Path-style addressing. @default true with a custom endpoint, false on AWS */
  forcePathStyle?: boolean;
  /** Static credentials (tests). @default the SDK's default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger?: Logger;
  /** A request whose socket stays idle this long fails with a retryable timeout, in ms. @default 120000 */
  socketTimeoutMs?: number;
}

function validate(options: ClientOptions, fn: string): ClientOptions {
  const parsed = clientOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join(".") || "options";
    const value = issue.path.length > 0 ? (options as Record<string, unknown>)[String(issue.path[0])] : options;
    const shown = path.startsWith("credentials") ? "<redacted>" : JSON.stringify(value);
    throw new ObjectStoreError("invalidOptions", `${fn}: invalid \`${path}\` (${shown}): ${issue.message}`);
  }
  return parsed.data as ClientOptions;
}

/** The endpoint a service would use: explicit option, then the service-specific and global env variables. */
export function resolveEndpoint(service: "S3" | "DYNAMODB", explicit?: string): string | undefined {
  const env = process.env;
  return explicit ?? env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL ?? undefined;
}

function requestHandler(options: ClientOptions): NodeHttpHandler {
  const maxSockets = options.concurrency ?? 16;
  return new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    // An idle timeout, not a total one: a large body may take long, a silent socket may not.
    socketTimeout: options.socketTimeoutMs ?? 120_000,
    connectionTimeout: 10_000,
  });
}

function sdkLogger(logger: Logger | undefined) {
  if (!logger) return undefined;
  // The SDK logs request summaries (never credentials); route them to debug.
  return {
    debug: (...args: unknown[]) => logger.debug("aws-sdk", { args }),
    info: (...args: unknown[]) => logger.debug("aws-sdk", { args }),
    warn: (...args: unknown[]) => logger.warn("aws-sdk", { args }),
    error: (...args: unknown[]) => logger.error("aws-sdk", { args }),
  };
}

function commonConfig(options: ClientOptions, endpoint: string | undefined) {
  const region =
    options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? "us-east-1" : undefined);
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: "adaptive",
    requestHandler: requestHandler(options),
    ...(options.logger ? { logger: sdkLogger(options.logger) } : {}),
  };
}

/**
 * An S3 client with s3kit's defaults: endpoint from options or env, path-style and
 * `requestChecksumCalculation: "WHEN_REQUIRED"` on custom endpoints (emulators reject the newer default
 * checksums), keep-alive sockets sized to `concurrency`, adaptive retries.
 */
export function createS3Client(options: ClientOptions = {}): S3Client {
  const valid = validate(options, "createS3Client");
  const endpoint = resolveEndpoint("S3", valid.endpoint);
  return new S3Client({
    ...commonConfig(valid, endpoint),
    forcePathStyle: valid.forcePathStyle ?? endpoint !== undefined,
    ...(endpoint ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" } : {}),
  });
}

/** A DynamoDB client with the same resolution rules as {@link createS3Client}. */
export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  const valid = validate(options, "createDynamoDbClient");
  const endpoint = resolveEndpoint("DYNAMODB", valid.endpoint);
  return new DynamoDBClient(commonConfig(valid, endpoint));
}
