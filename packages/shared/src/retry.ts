import { setTimeout as sleep } from "node:timers/promises";
import { abortReason, isAbortError, isObjectStoreError } from "./errors.ts";

export interface RetryOptions {
  /** Attempts in all, the first included. @default 5 */
  attempts?: number;
  /** Upper bound of the first backoff, in ms; it doubles each attempt. @default 100 */
  baseDelayMs?: number;
  /** Cap of one backoff, in ms. @default 10000 */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Whether an error is worth another attempt. @default {@link isRetryableError} */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each new attempt, with the error and the delay chosen. */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
}

const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/**
 * Default retry policy: network failures, throttling and 5xx are retryable; 4xx, aborts and our
 * definite codes (`notFound`, `preconditionFailed`, `accessDenied`, …) are not.
 */
export function isRetryableError(error: unknown): boolean {
  if (isAbortError(error)) return false;
  if (isObjectStoreError(error)) {
    if (error.code === "network" || error.code === "unknown")
      return error.cause === undefined || isRetryableError(error.cause);
    return false;
  }
  if (typeof error !== "object" || error === null) return false;
  const e = error as {
    code?: string;
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    cause?: unknown;
  };
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  if (e.code !== undefined && RETRYABLE_CODES.has(e.code)) return true;
  if (e.name === "TimeoutError" || e.name === "SlowDown" || e.name === "InternalError") return true;
  return e.cause !== undefined && e.cause !== error ? isRetryableError(e.cause) : false;
}

/**
 * Run `fn` until it succeeds, with full-jitter exponential backoff
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). For whole operations the SDK
 * cannot replay (a streamed body, a multi-request step); single SDK calls already retry on their own.
 * On abort it rejects with `signal.reason` at once, also during a backoff.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const {
    attempts = 5,
    baseDelayMs = 100,
    maxDelayMs = 10_000,
    signal,
    isRetryable = isRetryableError,
    onRetry,
  } = options;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new TypeError(`Expected \`attempts\` to be an integer >= 1, got \`${attempts}\``);
  }
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      if (attempt >= attempts || !isRetryable(error)) throw error;
      const delayMs = Math.floor(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      onRetry?.({ error, attempt, delayMs });
      await sleep(delayMs, undefined, signal ? { signal } : undefined).catch(() => {
        throw abortReason(signal!);
      });
    }
  }
}
