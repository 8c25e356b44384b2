import type { S3Client } from "@aws-sdk/client-s3";
import { type ConditionalWritesMode, type Logger, MIN_PART_SIZE_BYTES, type ProgressCallback } from "@toolkit/shared";
import { z } from "zod";
import { S3ObjectError } from "./errors.ts";

export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PART_CONCURRENCY = 4;
export const DEFAULT_ATTEMPTS = 4;
/** S3's largest part: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MAX_PART_SIZE_BYTES = 5 * 1024 * 1024 * 1024;

/** How downloads are checked. */
export type VerifyMode =
  /** SHA-256 from our metadata, else the ETag (MD5, or the multipart ETag for the recorded or an inferred part size); unverifiable objects are accepted and reported as `verified: "none"`. */
  | "auto"
  /** As `auto`, but an object that cannot be verified is an `object.integrity` error. */
  | "strict"
  /** No hash check (objects encrypted with SSE-KMS/SSE-C, whose ETag is not an MD5). Length is still checked. */
  | "none";

/** Connection options shared by {@link S3File} and {@link S3FileManager}. */
export interface ConnectionOptions {
  /** An S3 client to use (from `createS3Client`); shared, never destroyed by us. */
  client?: S3Client;
  /** S3 endpoint URL (MinIO, LocalStack). @default `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` */
  endpoint?: string;
  /** @default `AWS_REGION` or the profile's region */
  region?: string;
  /** Named profile of `~/.aws/config`. @default `AWS_PROFILE` */
  profile?: string;
  /** Static credentials (tests, embedded use); never shown in `toString`, `toJSON`, errors or logs. @default the SDK provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK attempts per request (standard retries: throttling, 5xx, timeouts, resets). @default 5 */
  maxAttempts?: number;
  logger?: Logger;
  /**
   * How `If-Match` / `If-None-Match` writes are enforced. `probe`: learn once per endpoint and bucket whether
   * PutObject honours them (`probeConditionalPut`: four requests on `.s3kit/probe/…` before the first
   * conditional write, then cached a day) and, where it does not, HEAD the object before each conditional
   * write (a race window remains) and warn once. `headFirst`: always HEAD first. `native`: the headers alone.
   * `file://` objects are always exact. @default "probe"
   */
  conditionalWrites?: ConditionalWritesMode;
  /** Called once per endpoint with a one-line warning (conditional writes fall back to a HEAD check). Also logged at `warn`. */
  onWarning?: (message: string) => void;
}

/** Options of one {@link S3File}. */
export interface S3FileOptions extends ConnectionOptions {
  /** Root of the local cache; the object is kept at `<cacheDir>/<bucket>/<key>`. @default `$XDG_CACHE_HOME/s3kit/objects` (else `~/.cache/s3kit/objects`) */
  cacheDir?: string;
  /** Bind the object to this local file instead of its place in the cache. @default `<cacheDir>/<bucket>/<key>` */
  localPath?: string;
  /** How downloads are verified. @default "auto" */
  verify?: VerifyMode;
  /** Bytes per ranged GET and per multipart part (at least 5 MiB). @default 8 MiB */
  partSizeBytes?: number;
  /** Files larger than this are uploaded in parts and downloaded with parallel ranged GETs. @default 16 MiB */
  multipartThresholdBytes?: number;
  /** Ranged GETs (or parts) in flight for one object. Download memory is at most `2 * concurrency * partSizeBytes`. @default 4 */
  partConcurrency?: number;
  /** Attempts for a part or a body whose transfer fails mid-way (reset, truncated body), on top of the SDK's own retries. @default 4 */
  attempts?: number;
  /** Content type for uploads. @default the remote's, else none */
  contentType?: string;
}

/** Options of {@link S3FileManager}. */
export interface S3FileManagerOptions extends Omit<S3FileOptions, "localPath"> {
  /** Objects transferred at once. @default 8 */
  concurrency?: number;
  /** Called with the bytes and objects done so far. */
  onProgress?: ProgressCallback;
}

const credentialsSchema = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string().optional(),
});

const connectionShape = {
  client: z.custom<S3Client>((v) => typeof v === "object" && v !== null && "send" in v).optional(),
  endpoint: z.url({ protocol: /^https?$/, error: "an endpoint is an http(s) URL" }).optional(),
  region: z.string().min(1).optional(),
  profile: z.string().min(1).optional(),
  credentials: credentialsSchema.optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
  logger: z
    .custom<Logger>((v) => typeof v === "object" && v !== null && typeof (v as Logger).warn === "function")
    .optional(),
  conditionalWrites: z.enum(["native", "headFirst", "probe"]).optional(),
  onWarning: z.function().optional(),
};

const fileShape = {
  ...connectionShape,
  cacheDir: z.string().min(1).optional(),
  verify: z.enum(["auto", "strict", "none"]).optional(),
  partSizeBytes: z.number().int().min(MIN_PART_SIZE_BYTES).max(MAX_PART_SIZE_BYTES).optional(),
  multipartThresholdBytes: z.number().int().min(MIN_PART_SIZE_BYTES).optional(),
  partConcurrency: z.number().int().min(1).max(64).optional(),
  attempts: z.number().int().min(1).max(20).optional(),
  contentType: z.string().min(1).optional(),
};

const fileSchema = z.strictObject({ ...fileShape, localPath: z.string().min(1).optional() });
const managerSchema = z.strictObject({
  ...fileShape,
  concurrency: z.number().int().min(1).max(256).optional(),
  onProgress: z.function().optional(),
});

function check<T>(schema: z.ZodType, options: T, where: string): T {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = issue.path.join(".") || "options";
    const raw = issue.path.length > 0 ? (options as Record<string, unknown>)[String(issue.path[0])] : options;
    const shown =
      name.startsWith("credentials") || name === "client" || name === "logger"
        ? "<redacted>"
        : typeof raw === "function"
          ? "a function"
          : JSON.stringify(raw);
    throw new S3ObjectError("object.invalidOptions", `${where}: invalid \`${name}\` (${shown}): ${issue.message}.`);
  }
  const o = options as { partSizeBytes?: number; multipartThresholdBytes?: number };
  const part = o.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
  const threshold = o.multipartThresholdBytes ?? Math.max(DEFAULT_MULTIPART_THRESHOLD_BYTES, part);
  if (threshold < part) {
    throw new S3ObjectError(
      "object.invalidOptions",
      `${where}: \`multipartThresholdBytes\` (${threshold}) must be at least \`partSizeBytes\` (${part}).`,
    );
  }
  return (options ?? {}) as T;
}

export function validateFileOptions(options: S3FileOptions | undefined): S3FileOptions {
  return check(fileSchema, options ?? {}, "S3File");
}

export function validateManagerOptions(options: S3FileManagerOptions | undefined): S3FileManagerOptions {
  return check(managerSchema, options ?? {}, "S3FileManager");
}
