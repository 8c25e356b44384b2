import { createRequire } from "node:module";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { z } from "zod";
import { ObjectStoreError } from "./errors.ts";
import { FastGetHandler } from "./fast-get.ts";
import { type FastPutLog, installFastPut } from "./fast-put.ts";
import type { Logger } from "./logger.ts";

// node:http and node:https through require(), not `import`: an ES module import of a built-in builds a facade over
// all its exports, and node:http's lazy WebSocket getters then load undici — about 60–90 ms of CPU at every
// start of the CLI (issue 15 (b)), for two Agent classes.
const requireBuiltin = createRequire(import.meta.url);
const { Agent: HttpAgent } = requireBuiltin("node:http") as typeof import("node:http");
const { Agent: HttpsAgent } = requireBuiltin("node:https") as typeof import("node:https");

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
  /** Attempts per request (S3: standard retry mode; DynamoDB: adaptive). @default 5 */
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
    const shown = path.startsWith("credentials") ? "<redacted>" : redactUrlUserInfo(JSON.stringify(value) ?? "");
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

const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/**
 * `text` with the user info of every URL in it replaced (`http://user:secret@host` → `http://***@host`). Use it on
 * anything that may echo an endpoint: messages, logs, JSON output.
 */
export function redactUrlUserInfo(text: string): string {
  return text.replace(USER_INFO, "$1***@");
}

/** `endpoint` without user info (S3 and DynamoDB never use it; the SDK would send it as Basic auth), and whether it had any. */
export function stripEndpointUserInfo(endpoint: string): { endpoint: string; hadUserInfo: boolean } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { endpoint, hadUserInfo: false };
  }
  if (url.username === "" && url.password === "") return { endpoint, hadUserInfo: false };
  url.username = "";
  url.password = "";
  const stripped = url.href;
  // new URL() adds a "/" path to a bare origin; keep the caller's form.
  return { endpoint: endpoint.endsWith("/") ? stripped : stripped.replace(/\/$/, ""), hadUserInfo: true };
}

/**
 * The SDK's own logger prints every command's input and output, request and response bodies included (a
 * 60 MB upload became 240 MB of JSON on stderr). s3kit gives it only warnings and errors, as short strings; the
 * per-request debug line comes from {@link requestLogMiddleware} instead.
 */
function sdkLogger(logger: Logger) {
  const text = (args: unknown[]) =>
    redactUrlUserInfo(
      args
        .filter((a) => typeof a === "string" || a instanceof Error)
        .map((a) => (a instanceof Error ? a.message : (a as string)))
        .join(" ")
        .slice(0, 500),
    );
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    trace: noop,
    // Objects (the middleware's input/output records) are dropped whole; only plain text goes through.
    warn: (...args: unknown[]) => {
      const line = text(args);
      if (line) logger.warn(`aws-sdk: ${line}`);
    },
    error: (...args: unknown[]) => {
      const line = text(args);
      if (line) logger.error(`aws-sdk: ${line}`);
    },
  };
}

/** One HTTP attempt as it went on the wire: never a body, never a header value but the lengths. */
interface RequestLogFields {
  operation: string;
  bucket?: string;
  key?: string;
  table?: string;
  status: number | null;
  sentBytes: number | null;
  receivedBytes: number | null;
  ms: number;
  error?: string;
}

type Headers = Record<string, string | undefined>;
const lengthOf = (headers: Headers | undefined): number | null => {
  const value = headers?.["content-length"] ?? headers?.["Content-Length"];
  return value === undefined || !/^\d+$/.test(value) ? null : Number(value);
};

/**
 * A middleware that logs each HTTP attempt at debug level: operation, bucket and key (S3) or table
 * (DynamoDB; item keys are user data), status, bytes each way and time. Placed after the retry middleware, so
 * a retried request logs once per attempt.
 */
function requestLogMiddleware(logger: Logger, service: "s3" | "dynamodb") {
  return (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
    async (args: unknown): Promise<unknown> => {
      const { input, request } = args as { input?: Record<string, unknown>; request?: { headers?: Headers } };
      const started = performance.now();
      const fields = (): Omit<RequestLogFields, "status" | "receivedBytes"> => ({
        operation: context.commandName?.replace(/Command$/, "") ?? "unknown",
        ...(service === "s3" && typeof input?.Bucket === "string" ? { bucket: input.Bucket } : {}),
        ...(service === "s3" && typeof input?.Key === "string" ? { key: input.Key } : {}),
        ...(service === "dynamodb" && typeof input?.TableName === "string" ? { table: input.TableName } : {}),
        sentBytes: lengthOf(request?.headers),
        ms: Math.round(performance.now() - started),
      });
      try {
        const result = (await next(args)) as { response?: { statusCode?: number; headers?: Headers } };
        const log: RequestLogFields = {
          ...fields(),
          status: result.response?.statusCode ?? null,
          receivedBytes: lengthOf(result.response?.headers),
        };
        logger.debug(`${service} ${log.operation} ${log.status ?? "-"}`, { ...log });
        return result;
      } catch (error) {
        const e = error as {
          name?: string;
          $metadata?: { httpStatusCode?: number };
          $response?: { headers?: Headers };
        };
        const log: RequestLogFields = {
          ...fields(),
          status: e.$metadata?.httpStatusCode ?? null,
          receivedBytes: lengthOf(e.$response?.headers),
          error: e.name ?? "Error",
        };
        logger.debug(`${service} ${log.operation} ${log.status ?? log.error}`, { ...log });
        throw error;
      }
    };
}

function addRequestLog(
  client: { middlewareStack: { add: (mw: never, options: Record<string, unknown>) => void } },
  logger: Logger | undefined,
  service: "s3" | "dynamodb",
): void {
  if (!logger) return;
  client.middlewareStack.add(requestLogMiddleware(logger, service) as never, {
    step: "finalizeRequest",
    priority: "low",
    name: "s3kitRequestLog",
  });
}

type StackClient = {
  middlewareStack: {
    add: (mw: never, options: Record<string, unknown>) => void;
    remove: (name: string) => boolean;
  };
  config: { defaultUserAgentProvider?: () => Promise<[string, string?][]> };
};

/** The `user-agent` and `x-amz-user-agent` headers of a client's requests, built once. */
type UserAgentHeaders = () => Promise<Record<string, string>>;

/** `name/version` pairs as one User-Agent value; anything outside a header token becomes `-`. */
const userAgentOf = (pairs: [string, string?][]) =>
  pairs.map(([name, version]) =>
    [name, version]
      .filter(Boolean)
      .join("/")
      .replace(/[^\w.!#$%&'*+^`|~/-]/g, "-"),
  );

/**
 * Per-request work the SDK does that s3kit has no use for (issue 15: the SDK's middleware is most of a small
 * PUT's CPU). Measured in `bench/put-overhead.mjs` (64 KiB PUTs to moto, 16 in flight):
 * - the user-agent middleware escapes and joins the same strings on every request: the value is built once
 *   per client instead (same `s3kit aws-sdk-js/… os/… lang/…` content, without the per-request feature list);
 * - the logger middleware only feeds the SDK's own `info` log, which s3kit silences (see {@link sdkLogger});
 * - recursion detection only applies inside AWS Lambda (it forwards `_X_AMZN_TRACE_ID`): kept there.
 */
function trimMiddleware(client: StackClient): UserAgentHeaders | undefined {
  const stack = client.middlewareStack;
  stack.remove("loggerMiddleware");
  if (!process.env.AWS_LAMBDA_FUNCTION_NAME) stack.remove("recursionDetectionMiddleware");
  const provider = client.config.defaultUserAgentProvider;
  if (!provider || !stack.remove("getUserAgentMiddleware")) return undefined;
  let values: Promise<Record<string, string>> | undefined;
  const build = async () => {
    const pairs = userAgentOf(await provider());
    return {
      "user-agent": ["s3kit", ...pairs].join(" "),
      "x-amz-user-agent": pairs.filter((pair) => pair.startsWith("aws-sdk-")).join(" ") || "s3kit",
    };
  };
  const headers: UserAgentHeaders = () => {
    values ??= build();
    return values;
  };
  stack.add(
    ((next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const request = (args as { request?: { headers?: Headers } }).request;
      if (request?.headers) Object.assign(request.headers, await headers());
      return next(args);
    }) as never,
    { step: "build", priority: "low", name: "s3kitUserAgent" },
  );
  return headers;
}

/** The small-PUT fast path ({@link installFastPut}); its requests log the same debug line as the SDK's. */
function addFastPut(client: S3Client, logger: Logger | undefined, userAgent: UserAgentHeaders | undefined): void {
  const log = logger
    ? ({ bucket, key, status, sentBytes, ms, error }: FastPutLog) => {
        const fields: RequestLogFields = {
          operation: "PutObject",
          bucket,
          key,
          status,
          sentBytes,
          receivedBytes: null,
          ms: Math.round(ms),
          ...(error ? { error } : {}),
        };
        logger.debug(`s3 PutObject ${status ?? error}`, { ...fields });
      }
    : undefined;
  installFastPut(client, { log, userAgent });
}

/**
 * Retries: `standard` for S3 (exponential backoff with jitter on throttling, 5xx, timeouts and resets, and a retry
 * quota), `adaptive` for DynamoDB, where throttling of a provisioned table is common and a client-side send rate
 * pays. Adaptive mode's rate limiter runs on every request: ~8 % of a small PUT's client CPU
 * (`bench/put-overhead.mjs`), for S3's rare SlowDown, which the sync engine's per-file attempts back off from too.
 */
function commonConfig(options: ClientOptions, endpoint: string | undefined, retryMode: "standard" | "adaptive") {
  const region =
    options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? "us-east-1" : undefined);
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 5,
    retryMode,
    requestHandler: requestHandler(options),
    ...(options.logger ? { logger: sdkLogger(options.logger) } : {}),
  };
}

/**
 * An S3 client with s3kit's defaults: endpoint from options or env, path-style and
 * `requestChecksumCalculation: "WHEN_REQUIRED"` on custom endpoints (emulators reject the newer default
 * checksums), keep-alive sockets sized to `concurrency`, standard retries.
 */
export function createS3Client(options: ClientOptions = {}): S3Client {
  const valid = validate(options, "createS3Client");
  const endpoint = clientEndpoint("S3", valid);
  const common = commonConfig(valid, endpoint, "standard");
  const client = new S3Client({
    ...common,
    // GetObject bodies read into pooled buffers (fast-get.ts); every other request through the SDK's handler.
    requestHandler: new FastGetHandler(common.requestHandler, {
      socketTimeoutMs: valid.socketTimeoutMs ?? 120_000,
      connectionTimeoutMs: 10_000,
      maxIdlePerOrigin: valid.concurrency ?? 16,
    }) as never,
    forcePathStyle: valid.forcePathStyle ?? endpoint !== undefined,
    ...(endpoint ? { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" } : {}),
  });
  const userAgent = trimMiddleware(client as unknown as StackClient);
  addRequestLog(client, valid.logger, "s3");
  addFastPut(client, valid.logger, userAgent);
  return client;
}

/**
 * A DynamoDB client with the same resolution rules as {@link createS3Client}. `@aws-sdk/client-dynamodb` is an
 * optional peer of this package (only DynamoDB users install it; `@toolkit/dynamo-table` depends on it), so it
 * is loaded on the first call. Prefer the `@toolkit/shared/dynamodb` entry point, which imports it statically.
 */
export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return createDynamoDbClientWith(loadDynamoDbSdk().DynamoDBClient, options);
}

/** @internal The factory behind both entry points, given the SDK's client class. */
export function createDynamoDbClientWith(Client: typeof DynamoDBClient, options: ClientOptions = {}): DynamoDBClient {
  const valid = validate(options, "createDynamoDbClient");
  const endpoint = clientEndpoint("DYNAMODB", valid);
  const client = new Client(commonConfig(valid, endpoint, "adaptive"));
  trimMiddleware(client as unknown as StackClient);
  addRequestLog(client, valid.logger, "dynamodb");
  return client;
}

function clientEndpoint(service: "S3" | "DYNAMODB", options: ClientOptions): string | undefined {
  const resolved = resolveEndpoint(service, options.endpoint);
  if (resolved === undefined) return undefined;
  const { endpoint, hadUserInfo } = stripEndpointUserInfo(resolved);
  if (hadUserInfo) {
    options.logger?.warn(
      `the ${service === "S3" ? "S3" : "DynamoDB"} endpoint URL carries user info, which is ignored (credentials come from the profile or environment): ${endpoint}`,
    );
  }
  return endpoint;
}

function loadDynamoDbSdk(): typeof import("@aws-sdk/client-dynamodb") {
  try {
    return createRequire(import.meta.url)("@aws-sdk/client-dynamodb") as typeof import("@aws-sdk/client-dynamodb");
  } catch (error) {
    if ((error as { code?: unknown }).code !== "MODULE_NOT_FOUND") throw error;
    throw new ObjectStoreError(
      "invalidOptions",
      "createDynamoDbClient needs @aws-sdk/client-dynamodb, an optional peer of @toolkit/shared: install it (npm i @aws-sdk/client-dynamodb), or install @toolkit/dynamo-table, which depends on it.",
      { cause: error },
    );
  }
}
