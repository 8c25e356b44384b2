import type { Readable } from "node:stream";
import {
  abortReason,
  type ConditionalPutProbe,
  isAbortError,
  isObjectStoreError,
  type Logger,
  type ObjectStore,
  type OpenObjectStoreOptions,
  type PutBody,
  type PutOptions,
} from "@toolkit/shared";
import { KvError } from "./errors.ts";
import { MANIFEST_KEY, type Manifest, parseManifest } from "./remote-format.ts";

/** The remote side of a database: a store, its URL for messages, and a request counter. */
export interface Remote {
  store: ObjectStore;
  url: string;
  /** Requests sent through this remote so far (SDK retries of one request count once). */
  requests: number;
  logger: Logger;
  /** The caller declared one writer: pushes skip the conditional-write check (see store-safety.ts). */
  singleWriter?: boolean;
  /** Client options to probe the endpoint with (the remote's `remoteOptions`). */
  probeOptions?: OpenObjectStoreOptions | undefined;
  /** What the endpoint does with conditional PutObject, once learnt. */
  conditionalPut?: ConditionalPutProbe;
}

/** Turn a store failure into a one-line {@link KvError} (aborts pass through unchanged). */
export function remoteError(remote: Remote, action: string, error: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted) return abortReason(signal);
  if (error instanceof KvError) return error;
  // Someone else's abort (a caller-supplied store, no signal of ours): pass it through unchanged. Socket
  // timeouts and resets are not aborts: the shared store reports them as `network` (handled below).
  if (isAbortError(error) && signal === undefined && !isObjectStoreError(error)) return error as Error;
  if (isObjectStoreError(error)) {
    const hint =
      error.code === "noSuchBucket"
        ? "the bucket does not exist; create it or check the name and endpoint"
        : error.code === "accessDenied"
          ? "access denied; check the credentials, profile and bucket policy"
          : error.code === "network"
            ? "the remote cannot be reached; check the endpoint and the network, or open with offline: true"
            : error.message;
    return new KvError("kv.remote", `Cannot ${action} at ${remote.url}: ${hint}`, { cause: error });
  }
  return new KvError("kv.remote", `Cannot ${action} at ${remote.url}: ${(error as Error)?.message ?? String(error)}.`, {
    cause: error,
  });
}

export function isNetworkFailure(error: unknown): boolean {
  return isKvRemote(error) && isObjectStoreError((error as KvError).cause, "network");
}

function isKvRemote(error: unknown): boolean {
  return error instanceof KvError && error.code === "kv.remote";
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The current manifest and its ETag; `undefined` when there is none; `"notModified"` when `ifNoneMatch` matched. */
export async function readManifest(
  remote: Remote,
  options: { ifNoneMatch?: string | undefined; signal?: AbortSignal | undefined } = {},
): Promise<{ manifest: Manifest; etag: string } | undefined | "notModified"> {
  remote.requests++;
  try {
    const result = await remote.store.get(MANIFEST_KEY, {
      ...(options.ifNoneMatch ? { ifNoneMatch: options.ifNoneMatch } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const body = await drain(result.body);
    return { manifest: parseManifest(body, `${remote.url}${MANIFEST_KEY}`), etag: result.etag };
  } catch (error) {
    if (isObjectStoreError(error, "notFound")) return undefined;
    if (isObjectStoreError(error, "notModified")) return "notModified";
    throw remoteError(remote, "read the manifest", error, options.signal);
  }
}

/** A ranged (or whole) GET of a segment. `notFound` is left to the caller. */
export async function readRange(
  remote: Remote,
  key: string,
  range: { start: number; end?: number } | undefined,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  remote.requests++;
  try {
    return await remote.store.getBytes(key, { ...(range ? { range } : {}), ...(signal ? { signal } : {}) });
  } catch (error) {
    if (isObjectStoreError(error, "notFound")) throw error;
    throw remoteError(remote, `read ${key}`, error, signal);
  }
}

export async function putObject(remote: Remote, key: string, body: PutBody, options: PutOptions): Promise<string> {
  remote.requests++;
  const result = await remote.store.put(key, body, options);
  return result.etag;
}

/** Delete objects, never failing the caller: what cannot be deleted now is swept by a later compaction. */
export async function deleteQuietly(remote: Remote, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  remote.requests += Math.ceil(keys.length / 1000);
  try {
    const result = await remote.store.deleteMany(keys);
    for (const failure of result.errors) {
      remote.logger.warn("kv: could not delete a superseded segment", { key: failure.key, code: failure.code });
    }
    return result.deleted.length;
  } catch (error) {
    remote.logger.warn("kv: could not delete superseded segments", { error: (error as Error).message });
    return 0;
  }
}
