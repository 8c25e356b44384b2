import { crc32 } from "node:zlib";
import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from "@aws-sdk/client-s3";
import { directRequests, encodeRfc3986 } from "./direct-request.ts";
import { META_SHA256 } from "./sync/metadata.ts";
import { isSha256Hex } from "./trust/remote-input.ts";

/**
 * The small-PUT fast path (issue 15 (a)): a `PutObjectCommand` with a body in memory and only the fields the sync
 * engine and the stores use is signed and sent without the SDK's middleware chain, which costs about twice the
 * request itself (`bench/put-overhead.mjs`: 64 KiB PUTs to moto, 1.61 ms of client CPU through the SDK, 0.86 ms
 * signed and sent directly). It is the SDK's own parts, called in the same way: the endpoint from the command's
 * endpoint rules (`getEndpointFromInstructions`), credentials, region, clock offset and hash from the client's
 * config, SigV4 from `@smithy/signature-v4`, the client's own HTTP handler (sockets, timeouts, abort).
 *
 * Anything it does not handle goes through the SDK untouched: a field other than those in {@link HANDLED}, a
 * stream body, an endpoint whose auth scheme is not plain SigV4 (S3 Express, multi-region access points), a
 * response other than 200, a network error, and conditional writes (`IfMatch` / `IfNoneMatch`: their 412 is an
 * answer, not a failure, and must cost one request). A failure is then simply retried by the SDK path, with the
 * SDK's retries, redirects, clock-skew correction and error types, so callers see exactly the SDK's errors; after
 * one, the client stops trying the fast path. `S3KIT_FAST_PUT=0` turns it off.
 */
const HANDLED = new Set<string>(["Bucket", "Key", "Body", "ContentLength", "ContentType", "Metadata", "StorageClass"]);

/** What one fast request reports to the caller's request log (never a body or a header value). */
export interface FastPutLog {
  bucket: string;
  key: string;
  status: number | null;
  sentBytes: number;
  ms: number;
  error?: string;
}

type Headers = Record<string, string>;

function bodyBytes(body: unknown): Uint8Array | undefined {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return body instanceof Uint8Array ? body : undefined;
}

/**
 * Install the fast path on an {@link S3Client} made by `createS3Client`: its `send` takes the PutObject commands it
 * can before the SDK builds and resolves its middleware stack for them (that alone was ~0.15 ms of a 1.2 ms PUT,
 * `bench/put-overhead.mjs`); every other command, and a `send` with a callback, goes to the SDK's `send`.
 */
export function installFastPut(
  client: S3Client,
  options: { log?: ((entry: FastPutLog) => void) | undefined; userAgent?: (() => Promise<Headers>) | undefined } = {},
): void {
  const { log, userAgent } = options;
  const direct = directRequests(client);
  let enabled = process.env.S3KIT_FAST_PUT !== "0";

  /** The response when the request was sent and answered 200; undefined to leave it to the SDK. */
  async function send(input: PutObjectCommandInput, body: Uint8Array, signal: AbortSignal | undefined) {
    const target = await direct.target(input, PutObjectCommand);
    if (!target) return undefined;
    const { url } = target;
    const path = `${target.basePath}/${String(input.Key).split("/").map(encodeRfc3986).join("/")}`;
    const headers: Headers = {
      host: url.host,
      "content-type": input.ContentType ?? "application/octet-stream",
      "content-length": String(body.byteLength),
      ...(userAgent ? await userAgent() : {}),
    };
    for (const [name, value] of Object.entries(input.Metadata ?? {}))
      headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    if (input.StorageClass) headers["x-amz-storage-class"] = input.StorageClass;
    // Hash each byte once: the body's SHA-256 is in our metadata when the caller has it (S3 checks it, 400 on a
    // mismatch); else the signer hashes it. The CRC32 the SDK adds by default on AWS (WHEN_SUPPORTED) is added too.
    const sha256 = input.Metadata?.[META_SHA256];
    if (isSha256Hex(sha256)) headers["x-amz-content-sha256"] = sha256;
    if ((await direct.config.requestChecksumCalculation()) !== "WHEN_REQUIRED") {
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      headers["x-amz-checksum-crc32"] = crc.toString("base64");
      headers["x-amz-sdk-checksum-algorithm"] = "CRC32";
    }
    const request = {
      method: "PUT",
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path,
      query: {},
      headers,
      body,
    };
    const { response } = await direct.send(await direct.sign(request, target), signal);
    response.body?.resume?.();
    return response;
  }

  const sdkSend = client.send.bind(client) as (command: unknown, ...rest: unknown[]) => Promise<unknown>;
  const fastSend = async (command: PutObjectCommand, sendOptions: { abortSignal?: AbortSignal } | undefined) => {
    const input = command.input;
    const body = bodyBytes(input.Body)!;
    const signal = sendOptions?.abortSignal;
    const started = performance.now();
    let status: number | null = null;
    const report = (error?: string) =>
      log?.({
        bucket: String(input.Bucket),
        key: String(input.Key),
        status,
        sentBytes: body.byteLength,
        ms: performance.now() - started,
        ...(error ? { error } : {}),
      });
    try {
      const response = await send(input, body, signal);
      if (response === undefined) return sdkSend(command, sendOptions);
      status = response.statusCode;
      report();
      if (status === 200) {
        const h = response.headers;
        return {
          $metadata: {
            httpStatusCode: 200,
            requestId: h["x-amz-request-id"],
            extendedRequestId: h["x-amz-id-2"],
            attempts: 1,
            totalRetryDelay: 0,
          },
          ...(h.etag ? { ETag: h.etag } : {}),
          ...(h["x-amz-version-id"] ? { VersionId: h["x-amz-version-id"] } : {}),
          ...(h["x-amz-server-side-encryption"] ? { ServerSideEncryption: h["x-amz-server-side-encryption"] } : {}),
        };
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      report((error as Error).name ?? "Error");
    }
    // Not answered 200: the SDK sends it again and reports its outcome in its own terms.
    enabled = false;
    return sdkSend(command, sendOptions);
  };
  client.send = ((command: unknown, ...rest: unknown[]) => {
    const [sendOptions, callback] = rest;
    const takes =
      enabled &&
      command instanceof PutObjectCommand &&
      callback === undefined &&
      typeof sendOptions !== "function" &&
      bodyBytes(command.input.Body) !== undefined &&
      Object.keys(command.input).every((field) => HANDLED.has(field));
    return takes
      ? fastSend(command as PutObjectCommand, sendOptions as { abortSignal?: AbortSignal } | undefined)
      : sdkSend(command, ...rest);
  }) as S3Client["send"];
}
