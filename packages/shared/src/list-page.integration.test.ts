import { ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import type { Logger } from "./logger.ts";
import type { ListEntry } from "./object-store.ts";
import { openObjectStore } from "./open-object-store.ts";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  testClientOptions,
} from "./testing/index.ts";
import type { TestServer } from "./testing/servers.ts";

// The listing fast path (list-page.ts) against moto: what it lists is what the SDK lists, page by page, and a page it
// does not get (a 503 here) is read through the SDK, with every later page.
let server: TestServer;
let proxy: FaultProxy;
let bucket: string;
let s3: S3Client;
const KEYS = [
  "p/a & b <c> \"q\" 'd'.jpg",
  "p/café/été.jpg",
  "p/space at end /x.jpg",
  ...Array.from({ length: 1_203 }, (_, i) => `p/shoot/IMG_${String(i).padStart(5, "0")}.jpg`),
  "p/z/sub/deep.jpg",
];
beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy({ target: server.endpoint });
  ({ bucket, client: s3 } = await createTestBucket(server, "list-page"));
  for (let i = 0; i < KEYS.length; i += 50)
    await Promise.all(
      KEYS.slice(i, i + 50).map((Key, j) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "x".repeat(i + j) })),
      ),
    );
}, 120_000);
afterAll(async () => {
  s3.destroy();
  await proxy.stop();
});
afterEach(() => proxy.setFaults([]));

/** A logger keeping the fast path's page lines. */
function pages() {
  const lines: Record<string, unknown>[] = [];
  const logger: Logger = {
    debug: (message, fields) => {
      if (message.startsWith("s3 ListObjectsV2") && fields?.direct) lines.push(fields);
    },
    info: () => {},
    warn: () => {},
    error: () => {},
  };
  return { lines, logger };
}

/** The SDK's own listing of `prefix` (with `delimiter`), as the store's entries. */
async function sdkListing(prefix: string, delimiter?: string): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      out.push({
        kind: "object",
        key: o.Key!.slice(2),
        size: o.Size!,
        etag: o.ETag!,
        lastModified: o.LastModified!,
        ...(o.StorageClass ? { storageClass: o.StorageClass } : {}),
      });
    for (const p of page.CommonPrefixes ?? []) out.push({ kind: "prefix", prefix: p.Prefix!.slice(2) });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => {
    const ka = a.kind === "object" ? a.key : a.prefix;
    const kb = b.kind === "object" ? b.key : b.prefix;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

test("lists what the SDK lists (odd keys, sizes, ETags, times, two pages, common prefixes), every page read directly", async () => {
  const { lines, logger } = pages();
  const store = openObjectStore(`s3://${bucket}/p/`, { ...testClientOptions(server, proxy.endpoint), logger });
  const all: ListEntry[] = [];
  for await (const entry of store.list()) all.push(entry);
  expect(all).toHaveLength(KEYS.length);
  expect(all).toEqual(await sdkListing("p/"));
  const folders: ListEntry[] = [];
  for await (const entry of store.list({ delimiter: "/" })) folders.push(entry);
  expect(folders).toEqual(await sdkListing("p/", "/"));
  expect(folders.filter((e) => e.kind === "prefix").map((e) => (e as { prefix: string }).prefix)).toEqual([
    "café/",
    "shoot/",
    "space at end /",
    "z/",
  ]);
  expect(lines.map((l) => [l.status, l.fallback])).toEqual([
    [200, undefined],
    [200, undefined],
    [200, undefined],
  ]);
  await store.close();
});

test.each([
  ["a 503", { type: "slowDown" } as const],
  ["a body cut in the middle", { type: "resetMidBody" } as const],
])("a page the fast path does not get (%s) is read through the SDK, and so is every later page", async (_, action) => {
  const { lines, logger } = pages();
  const store = openObjectStore(`s3://${bucket}/p/`, { ...testClientOptions(server, proxy.endpoint), logger });
  proxy.setFaults([{ match: { method: "GET", path: /list-type=2/ }, times: 1, action }]);
  const all: ListEntry[] = [];
  for await (const entry of store.list()) all.push(entry);
  expect(all).toEqual(await sdkListing("p/"));
  // one line: the failed direct page; the rest went through the SDK
  expect(lines).toHaveLength(1);
  expect(lines[0]!.fallback === "sdk" || typeof lines[0]!.error === "string").toBe(true);
  await store.close();
});
