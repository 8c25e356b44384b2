import pLimit from "p-limit";
import { abortReason } from "./errors.ts";

/** A function that runs at most `concurrency` tasks at once (p-limit). */
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/** A bounded pool: `const limit = createLimit(8); await Promise.all(items.map((x) => limit(() => work(x))))`. */
export function createLimit(concurrency: number): Limit {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`Expected \`concurrency\` to be an integer >= 1, got \`${concurrency}\``);
  }
  const limit = pLimit(concurrency);
  return (fn) => limit(fn);
}

/**
 * Run `fn` over every item with at most `concurrency` in flight, streaming through an (async) iterable
 * without materialising it. Results come back in completion order via `onResult`. Stops starting new work
 * when the signal aborts (and rejects with its reason after in-flight work settles).
 * The first error thrown by `fn` rejects the whole run unless `fn` catches it itself.
 */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`Expected \`concurrency\` to be an integer >= 1, got \`${concurrency}\``);
  }
  const { signal } = options;
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let index = 0;
  for await (const item of items) {
    if (failure || signal?.aborted) break;
    const task = fn(item, index++).then(
      () => {
        inFlight.delete(task);
      },
      (error: unknown) => {
        inFlight.delete(task);
        failure ??= { error };
      },
    );
    inFlight.add(task);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  if (signal?.aborted) throw abortReason(signal);
}
