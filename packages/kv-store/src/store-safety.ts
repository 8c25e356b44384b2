import { type ConditionalPutProbe, isAbortError, probeConditionalPut } from "@toolkit/shared";
import { KvError } from "./errors.ts";
import type { Remote } from "./remote.ts";

// kv-store's push is a compare-and-swap of the manifest (a conditional PUT). On an endpoint that ignores
// If-Match / If-None-Match the swap always "wins" and two writers silently overwrite each other: such a push is
// refused (`kv.unsafeStore`) unless the caller declared a single writer.

/**
 * Learn, once, whether the remote's endpoint honours conditional PutObject (`probeConditionalPut`: four requests
 * the first time, then a day-long cache). Called when a writable database opens, so pushes add no request.
 * Never throws for the probe itself: when it cannot run, the push asks again and, failing that, goes ahead with
 * a warning.
 */
export async function learnConditionalPut(remote: Remote, signal?: AbortSignal): Promise<void> {
  if (remote.singleWriter || remote.conditionalPut || remote.store.location.kind !== "s3") return;
  try {
    remote.conditionalPut = await probeConditionalPut(remote.store.location, {
      ...probeClientOptions(remote),
      logger: remote.logger,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted || isAbortError(error)) throw error;
    remote.logger.warn("kv: could not probe the endpoint's conditional writes", {
      url: remote.url,
      error: (error as Error).message,
    });
  }
}

/**
 * Called before the first remote write of a push or a compaction (both swap the manifest conditionally).
 * @throws KvError `kv.unsafeStore` when the endpoint ignores conditional PutObject and no single writer was
 * declared, naming the endpoint and the way out.
 */
export async function assertSafeToPush(
  remote: Remote,
  signal?: AbortSignal,
  what: "push" | "compact" = "push",
): Promise<void> {
  if (remote.singleWriter || remote.store.location.kind !== "s3") return;
  await learnConditionalPut(remote, signal);
  const probe: ConditionalPutProbe | undefined = remote.conditionalPut;
  if (!probe || probe.honoured) return;
  throw new KvError(
    "kv.unsafeStore",
    `Refusing to ${what === "push" ? "push to" : "compact"} ${remote.url}: the endpoint ${probe.endpoint} ignores conditional PutObject (If-None-Match: ${probe.ifNoneMatch.result}, If-Match: ${probe.ifMatch.result}), so two writers could overwrite each other's changes. If only one process ever writes there, declare it: singleWriter: true (CLI: --single-writer). Check with \`s3kit doctor ${remote.url}\`.`,
  );
}

function probeClientOptions(remote: Remote) {
  const o = remote.probeOptions ?? {};
  return {
    ...(o.client ? { client: o.client } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.region ? { region: o.region } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  };
}
