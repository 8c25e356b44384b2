import { type Location, type ObjectStore, openObjectStore, parseLocationOrPath } from "@toolkit/shared";
import { PhotoSyncError } from "./errors.ts";
import type { ConnectionOptions } from "./options.ts";

/** The connection options of a larger options object (what `applyPlan` needs again). */
export function connectionOf(options: ConnectionOptions): ConnectionOptions {
  const out: ConnectionOptions = {};
  if (options.store) out.store = options.store;
  if (options.endpoint) out.endpoint = options.endpoint;
  if (options.region) out.region = options.region;
  if (options.profile) out.profile = options.profile;
  if (options.credentials) out.credentials = options.credentials;
  if (options.logger) out.logger = options.logger;
  return out;
}

/** Parse a store location (`s3://`, `file://` or a plain path) into a typed error naming the option. */
export function parseStoreLocation(value: string, option: string): Location {
  try {
    return parseLocationOrPath(value);
  } catch (error) {
    throw new PhotoSyncError("photoSync.invalidOptions", `invalid \`${option}\`: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Open the store for a location with the connection options, or use the one given (then not ours to close). */
export function openStore(
  location: Location,
  connection: ConnectionOptions,
  concurrency = 16,
): { store: ObjectStore; owned: boolean } {
  if (connection.store) return { store: connection.store, owned: false };
  const store = openObjectStore(location, {
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(connection.region ? { region: connection.region } : {}),
    ...(connection.profile ? { profile: connection.profile } : {}),
    ...(connection.credentials ? { credentials: connection.credentials } : {}),
    ...(connection.logger ? { logger: connection.logger } : {}),
    concurrency,
  });
  return { store, owned: true };
}

/** Run `fn` with the store, closing it after when it is ours. */
export async function withStore<T>(
  location: Location,
  connection: ConnectionOptions,
  concurrency: number,
  fn: (store: ObjectStore) => Promise<T>,
): Promise<T> {
  const { store, owned } = openStore(location, connection, concurrency);
  try {
    return await fn(store);
  } finally {
    if (owned) await store.close().catch(() => {});
  }
}
