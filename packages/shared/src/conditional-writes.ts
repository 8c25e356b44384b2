import { Readable } from "node:stream";
import { resolveEndpoint, stripEndpointUserInfo } from "./clients.ts";
import { abortReason, isAbortError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { DeleteOptions, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult } from "./object-store.ts";
import { type ConditionalPutProbe, type ProbeStoreOptions, probeConditionalPut } from "./probe.ts";
import { toObjectStoreError } from "./s3-errors.ts";
import { cacheDirectory } from "./sync/cache-dir.ts";

// A store that silently ignores If-Match / If-None-Match on PutObject turns every compare-and-swap into
// last-writer-wins. Where that is the case (or asked for), a HEAD before the conditional write refuses the
// write that would overwrite a changed object, as S3 would (a race window between the HEAD and the write
// remains, and is said once).

/**
 * How conditional writes (`put`/`delete` with `ifMatch` / `ifNoneMatch`) are checked:
 * - `native`: the headers alone (the endpoint enforces them);
 * - `headFirst`: HEAD the key first and fail with `preconditionFailed` (or `notFound` for `ifMatch` on a missing
 *   key) as S3 would, then still send the headers;
 * - `probe` (`s3://` only; `native` elsewhere): before the first conditional write, learn with
 *   `probeConditionalPut` whether PutObject honours them; honoured → `native`, otherwise `headFirst` and one
 *   warning.
 */
export type ConditionalWritesMode = "native" | "headFirst" | "probe";

/** The connection and cache options the `probe` mode passes to `probeConditionalPut`. */
export type ConditionalWritesProbeOptions = Pick<
  ProbeStoreOptions,
  "client" | "endpoint" | "region" | "profile" | "credentials" | "cache" | "cacheDir" | "maxAgeMs"
>;

/** Options of {@link withConditionalWrites}. */
export interface ConditionalWritesOptions {
  /** @default "native" */
  mode?: ConditionalWritesMode;
  /** How to reach the endpoint for the probe (the store's own connection options). */
  probe?: ConditionalWritesProbeOptions;
  /** Called once with a one-line message when conditional writes fall back to a HEAD check. */
  onWarning?: (message: string) => void;
  /** Gets the same warning at `warn` (once per logger). */
  logger?: Logger;
}

/** The decision for a store: enforce with the headers alone, or HEAD first. */
type Decision = "native" | "headFirst";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Probes in flight or done in this process, per endpoint, bucket and cache directory: many stores opened on
 * one bucket (a manager's files) share one probe. A failed probe is forgotten (the next store tries again).
 */
const probes = new Map<string, { at: number; probe: Promise<ConditionalPutProbe> }>();
/** Warnings already given, per callback and per logger: one line per endpoint, not one per store. */
const warnedCallbacks = new WeakMap<object, Set<string>>();

const clientIds = new WeakMap<object, string>();
let nextClientId = 0;
/** A stable id per client object (a given client may point anywhere: its probes are its own). */
function clientId(client: object): string {
  let id = clientIds.get(client);
  if (!id) {
    id = `client#${++nextClientId}`;
    clientIds.set(client, id);
  }
  return id;
}

function once(target: object | undefined, message: string, say: () => void): void {
  if (!target) return;
  let seen = warnedCallbacks.get(target);
  if (!seen) {
    seen = new Set();
    warnedCallbacks.set(target, seen);
  }
  if (seen.has(message)) return;
  seen.add(message);
  say();
}

function describeProbe(p: ConditionalPutProbe["ifMatch"]): string {
  return p.status === null ? p.result : `${p.result}, HTTP ${p.status}`;
}

/** The one-line warning for an endpoint that does not honour conditional PutObject. */
export function conditionalWritesWarning(storeUrl: string, probe: ConditionalPutProbe): string {
  return `the endpoint ${probe.endpoint} does not honour conditional PutObject (If-None-Match: ${describeProbe(probe.ifNoneMatch)}; If-Match: ${describeProbe(probe.ifMatch)}), so conditional writes to ${storeUrl} are checked with a HEAD first: a race window remains between the HEAD and the write (see \`s3kit doctor ${storeUrl}\`)`;
}

function probeFailedMessage(storeUrl: string, endpoint: string, error: unknown): string {
  const why = (error as Error)?.message ?? String(error);
  return `could not learn whether the endpoint ${endpoint} honours conditional PutObject (${why.replace(/\.$/, "")}); this conditional write to ${storeUrl} is checked with a HEAD first`;
}

/**
 * Check a conditional write against the object's current state with one HEAD, as S3 would: `ifNoneMatch: "*"` on
 * an existing key and `ifMatch` on another ETag are `preconditionFailed`; `ifMatch` on a missing key is `notFound`
 * (the `file://` store answers the same; the S3 store's multipart path checks with this before it sends parts).
 * Nothing is checked without a condition.
 * @throws ObjectStoreError `preconditionFailed` / `notFound` naming the key.
 */
export async function checkConditionWithHead(
  store: Pick<ObjectStore, "head" | "url">,
  key: string,
  condition: { ifMatch?: string | undefined; ifNoneMatch?: "*" | undefined; signal?: AbortSignal | undefined },
  action: "Put" | "Upload" | "Delete" = "Put",
): Promise<void> {
  if (!condition.ifMatch && !condition.ifNoneMatch) return;
  const info: ObjectInfo | undefined = await store.head(key, condition.signal ? { signal: condition.signal } : {});
  const fail = (name: string, status: number) =>
    toObjectStoreError({ name, $metadata: { httpStatusCode: status } }, action, `${store.url}${key}`, key);
  if (condition.ifNoneMatch === "*" && info) throw fail("PreconditionFailed", 412);
  if (condition.ifMatch && info?.etag !== condition.ifMatch) {
    throw info ? fail("PreconditionFailed", 412) : fail("NoSuchKey", 404);
  }
}

/**
 * Wrap a store so its conditional writes are checked as `options.mode` says (see {@link ConditionalWritesMode}).
 * `native` (and `probe` on a `file://` store, which enforces conditions with lock files) returns the store as it
 * is. Everything but `put` and `delete` with a condition passes straight through.
 */
export function withConditionalWrites(store: ObjectStore, options: ConditionalWritesOptions = {}): ObjectStore {
  const mode = options.mode ?? "native";
  if (mode === "native" || (mode === "probe" && store.location.kind !== "s3")) return store;
  let decided: Decision | undefined = mode === "headFirst" ? "headFirst" : undefined;
  let deciding: Promise<Decision | "unknown"> | undefined;

  const warn = (message: string) => {
    once(options.onWarning, message, () => options.onWarning?.(message));
    once(options.logger, message, () => options.logger?.warn(`conditional writes: ${message}`));
  };

  /** `unknown`: the probe failed (this write HEADs first; the next one probes again). */
  async function learn(signal: AbortSignal | undefined): Promise<Decision | "unknown"> {
    const location = store.location;
    if (location.kind !== "s3") return "native";
    const p = options.probe ?? {};
    const rawEndpoint = resolveEndpoint("S3", p.endpoint);
    const endpoint = rawEndpoint ? stripEndpointUserInfo(rawEndpoint).endpoint : "AWS S3";
    const memoKey = [
      p.client ? clientId(p.client) : endpoint,
      p.region ?? "",
      location.bucket,
      p.cacheDir ?? cacheDirectory(["probe"]),
    ].join("\n");
    const maxAgeMs = p.maxAgeMs ?? DAY_MS;
    let entry = probes.get(memoKey);
    if (!entry || p.cache === false || Date.now() - entry.at >= maxAgeMs) {
      const probe = probeConditionalPut(location, {
        ...p,
        ...(options.logger ? { logger: options.logger } : {}),
        // Not the caller's signal: the probe is shared, and one caller giving up must not fail the others.
      });
      entry = { at: Date.now(), probe };
      probes.set(memoKey, entry);
      const mine = entry;
      probe.catch(() => {
        if (probes.get(memoKey) === mine) probes.delete(memoKey);
      });
    }
    let probe: ConditionalPutProbe;
    try {
      probe = await abortable(entry.probe, signal);
    } catch (error) {
      if (signal?.aborted || isAbortError(error)) throw error;
      // No bucket, no access to the probe key, no network: the write itself will most likely fail the same way,
      // so no user-facing warning; this write is checked with a HEAD first and the next one probes again.
      options.logger?.warn(`conditional writes: ${probeFailedMessage(store.url, endpoint, error)}`);
      return "unknown";
    }
    if (probe.honoured) return "native";
    warn(conditionalWritesWarning(store.url, probe));
    return "headFirst";
  }

  async function decide(signal: AbortSignal | undefined): Promise<Decision> {
    if (decided) return decided;
    for (;;) {
      deciding ??= learn(signal).finally(() => {
        deciding = undefined;
      });
      try {
        const learnt = await abortable(deciding, signal);
        if (learnt === "unknown") return "headFirst";
        decided = learnt;
        return decided;
      } catch (error) {
        // Another caller's abort ended the shared decision: decide again under our own signal.
        if (signal?.aborted || !isAbortError(error)) throw error;
      }
    }
  }

  const wrapped: ObjectStore = {
    location: store.location,
    url: store.url,
    head: (key, o) => store.head(key, o),
    get: (key, o) => store.get(key, o),
    getBytes: (key, o) => store.getBytes(key, o),
    async put(key: string, body: PutBody, o: PutOptions = {}): Promise<PutResult> {
      if (o.ifMatch || o.ifNoneMatch) {
        try {
          if ((await decide(o.signal)) === "headFirst") await checkConditionWithHead(store, key, o, "Put");
        } catch (error) {
          // The store owns the body once `put` is called: a refused write does not leave a stream open.
          if (body instanceof Readable) body.destroy();
          throw error;
        }
      }
      return store.put(key, body, o);
    },
    async delete(key: string, o: DeleteOptions = {}): Promise<void> {
      if (o.ifMatch && (await decide(o.signal)) === "headFirst") {
        await checkConditionWithHead(store, key, o, "Delete");
      }
      return store.delete(key, o);
    },
    deleteMany: (keys, o) => store.deleteMany(keys, o),
    list: (o) => store.list(o),
    copy: (from, to, o) => store.copy(from, to, o),
    close: () => store.close(),
  };
  if (store.listMultipartUploads) wrapped.listMultipartUploads = (o) => store.listMultipartUploads!(o);
  if (store.abortMultipartUpload) {
    wrapped.abortMultipartUpload = (key, uploadId, o) => store.abortMultipartUpload!(key, uploadId, o);
  }
  return wrapped;
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
