// Helpers shared by `s3kit mb` and `s3kit rb` (outside commands/, where oclif would take every module for a
// command).
import type { S3Client } from "@aws-sdk/client-s3";
import { ObjectStoreError, parseLocation } from "@toolkit/shared";

/** Codes of {@link BucketError}. `bucket.exists` and `bucket.notEmpty` exit 1; `bucket.invalidUrl` exits 2. */
export type BucketErrorCode = "bucket.invalidUrl" | "bucket.exists" | "bucket.notEmpty" | "bucket.request";

/** An error of `s3kit mb` / `s3kit rb`. */
export class BucketError extends Error {
  override name = "BucketError";
  constructor(
    readonly code: BucketErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The bucket of an `s3://bucket` argument (a trailing `/` is fine; a prefix or a file:// URL is refused). */
export function bucketOf(input: string, command: "mb" | "rb"): string {
  if (!input.startsWith("s3://")) {
    throw new BucketError(
      "bucket.invalidUrl",
      `${command} takes s3://bucket, not ${input}${input.startsWith("file:") ? " (a file:// store is a folder: create or remove it as one)" : ""}.`,
    );
  }
  const location = parseLocation(input);
  if (location.kind !== "s3") throw new BucketError("bucket.invalidUrl", `${command} takes s3://bucket, not ${input}.`);
  if (location.prefix !== "") {
    throw new BucketError(
      "bucket.invalidUrl",
      `${command} takes a bucket without a prefix: s3://${location.bucket}, not ${input}.`,
    );
  }
  return location.bucket;
}

interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** One line for an SDK failure of a bucket request; credentials errors pass through (the CLI names the fix). */
export function bucketRequestError(error: unknown, action: string, bucket: string): Error {
  if (error instanceof BucketError || error instanceof ObjectStoreError) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkError;
  if (e.name === "CredentialsProviderError" || e.name === "AbortError") return error as Error;
  const name = e.name ?? e.Code ?? "error";
  const status = e.$metadata?.httpStatusCode;
  if (name === "NoSuchBucket" || status === 404) {
    return new ObjectStoreError("noSuchBucket", `s3://${bucket} does not exist; check the name and --endpoint-url.`, {
      cause: error,
    });
  }
  if (status === 403 || name === "AccessDenied") {
    return new ObjectStoreError(
      "accessDenied",
      `${action} s3://${bucket} was refused (access denied); check the credentials, --profile and the bucket policy.`,
      { cause: error },
    );
  }
  if (status === undefined) {
    return new ObjectStoreError(
      "network",
      `${action} s3://${bucket}: the endpoint cannot be reached (${e.message ?? name}); check --endpoint-url and the network.`,
      { cause: error },
    );
  }
  const detail = e.message && e.message !== name ? `: ${e.message}` : "";
  return new BucketError("bucket.request", `${action} s3://${bucket} failed: ${name} (HTTP ${status})${detail}.`, {
    cause: error,
  });
}

/** Keep the client's socket pool from holding the process open. */
export function closeClient(client: S3Client): void {
  client.destroy();
}
