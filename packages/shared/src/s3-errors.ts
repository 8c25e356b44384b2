import { ObjectStoreError, type ObjectStoreErrorCode } from "./errors.ts";

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Map an SDK/HTTP failure to an {@link ObjectStoreError} with a one-line message naming the key. */
export function toObjectStoreError(error: unknown, action: string, url: string, key?: string): Error {
  if (error instanceof ObjectStoreError) return error;
  // Only a real abort is `aborted`; the SDK also reports socket timeouts and resets as `TimeoutError`,
  // which are network failures (retryable), not the caller's decision. Callers check their signal first.
  if (error instanceof Error && error.name === "AbortError") {
    return new ObjectStoreError("aborted", `${action} ${url} was aborted.`, { cause: error, ...(key ? { key } : {}) });
  }
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code ?? "";
  let code: ObjectStoreErrorCode = "unknown";
  let hint = "";
  if (name === "NoSuchBucket") {
    code = "noSuchBucket";
    hint = "create the bucket or check the name and endpoint";
  } else if (status === 304 || name === "NotModified") {
    code = "notModified";
  } else if (status === 404 || name === "NoSuchKey" || name === "NotFound") {
    code = "notFound";
  } else if (
    status === 412 ||
    status === 409 ||
    name === "PreconditionFailed" ||
    name === "ConditionalRequestConflict"
  ) {
    code = "preconditionFailed";
    hint = "another writer changed the object; read it again and retry";
  } else if (
    status === 403 ||
    name === "AccessDenied" ||
    name === "InvalidAccessKeyId" ||
    name === "SignatureDoesNotMatch"
  ) {
    code = "accessDenied";
    hint = "check the credentials, profile and bucket policy";
  } else if (status === undefined) {
    code = "network";
    hint = "check the endpoint and the network";
  }
  const detail = e.message && e.message !== name && !/^[A-Za-z]+$/.test(e.message) ? `: ${e.message}` : "";
  const what = code === "unknown" ? `${name || "error"}${status ? ` (HTTP ${status})` : ""}` : code;
  const message = `${action} ${url} failed: ${what}${detail}${hint ? `; ${hint}` : ""}.`;
  return new ObjectStoreError(code, message.replace(/\s+/g, " "), { cause: error, ...(key ? { key } : {}) });
}
