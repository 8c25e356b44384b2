import { describe, expect, test, vi } from "vitest";
import { ObjectStoreError } from "./errors.ts";
import { isRetryableError, retry } from "./retry.ts";

describe("retry", () => {
  test("retries retryable failures with backoff until success", async () => {
    const onRetry = vi.fn();
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error("slow down"), { $metadata: { httpStatusCode: 503 } });
        return "ok";
      },
      { baseDelayMs: 1, onRetry },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(3);
    expect(onRetry).toHaveBeenCalledTimes(2);
    expect(onRetry.mock.calls[0]![0]).toMatchObject({ attempt: 1 });
  });

  test("does not retry definite failures, and stops after `attempts`", async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new ObjectStoreError("accessDenied", "no");
      }),
    ).rejects.toMatchObject({ code: "accessDenied" });
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
        },
        { attempts: 3, baseDelayMs: 1 },
      ),
    ).rejects.toThrow("reset");
    expect(calls).toBe(3);
  });

  test("an abort during backoff rejects with the signal's reason at once", async () => {
    const controller = new AbortController();
    const reason = new Error("user pressed Ctrl-C");
    const promise = retry(
      async () => {
        throw Object.assign(new Error("500"), { $metadata: { httpStatusCode: 500 } });
      },
      { baseDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal, onRetry: () => controller.abort(reason) },
    );
    await expect(promise).rejects.toBe(reason);
  });

  test("classifies errors", async () => {
    expect(isRetryableError(Object.assign(new Error(), { $metadata: { httpStatusCode: 429 } }))).toBe(true);
    expect(isRetryableError(Object.assign(new Error(), { $metadata: { httpStatusCode: 404 } }))).toBe(false);
    expect(isRetryableError(new DOMException("aborted", "AbortError"))).toBe(false);
    expect(isRetryableError(new ObjectStoreError("network", "down"))).toBe(true);
    await expect(retry(async () => 1, { attempts: 0 })).rejects.toThrow(/`attempts`/);
  });
});
