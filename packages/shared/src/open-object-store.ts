import { withConditionalWrites } from "./conditional-writes.ts";
import { ObjectStoreError } from "./errors.ts";
import { createFileObjectStore } from "./file-object-store.ts";
import { type Location, parseLocation } from "./location.ts";
import type { ObjectStore, OpenObjectStoreOptions } from "./object-store.ts";
import { createS3ObjectStore } from "./s3-object-store.ts";

/**
 * Open the object store at a location: `s3://bucket/prefix` (S3 or an S3-compatible endpoint) or
 * `file:///abs/dir` (a real store on the local disk, same semantics). `conditionalWrites` other than `native`
 * wraps the store with `withConditionalWrites`.
 */
export function openObjectStore(location: string | Location, options: OpenObjectStoreOptions = {}): ObjectStore {
  const parsed = typeof location === "string" ? parseLocation(location) : location;
  const store = parsed.kind === "s3" ? createS3ObjectStore(parsed, options) : createFileObjectStore(parsed, options);
  const mode = options.conditionalWrites ?? "native";
  if (mode === "native") return store;
  return withConditionalWrites(store, {
    mode,
    probe: {
      ...(options.client ? { client: options.client } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...options.conditionalWritesProbe,
    },
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/**
 * Check a key relative to a store: non-empty, no leading `/`, no empty, `.` or `..` segments, no NUL,
 * at most 1,024 UTF-8 bytes (S3's limit). Returns the key.
 * @throws ObjectStoreError `invalidKey` naming the key.
 */
export function validateKey(key: string): string {
  const bad = (why: string) =>
    new ObjectStoreError("invalidKey", `Invalid object key ${JSON.stringify(key)}: ${why}.`, { key });
  if (typeof key !== "string" || key === "") throw bad("it is empty");
  if (Buffer.byteLength(key, "utf8") > 1024) throw bad("it is longer than 1,024 bytes");
  if (key.startsWith("/")) throw bad("it starts with `/`");
  if (key.includes("\0")) throw bad("it contains a NUL character");
  for (const segment of key.split("/").slice(0, -1)) {
    if (segment === "") throw bad("it contains an empty path segment (`//`)");
  }
  for (const segment of key.split("/")) {
    if (segment === "." || segment === "..") throw bad(`\`${segment}\` segments are not allowed`);
  }
  return key;
}
