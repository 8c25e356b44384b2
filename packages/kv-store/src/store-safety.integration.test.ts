import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isKvError } from "./errors.ts";
import { openKv } from "./kv-store.ts";
import { collect, localPath } from "./testing/sync-suite.ts";

// issue 17: on an endpoint that ignores conditional PutObject, the manifest swap cannot detect another writer.
let server: TestServer;
let strip: FaultProxy;
let cacheHome: string;
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(async () => {
  server = await startS3Server();
  strip = await startFaultProxy({ target: server.endpoint, faults: [{ action: { type: "stripConditionalHeaders" } }] });
  // The probe's day-long answers go to a private cache folder, not the user's.
  cacheHome = await mkdtemp(join(tmpdir(), "kv-probe-cache-"));
  process.env.XDG_CACHE_HOME = cacheHome;
});
afterAll(async () => {
  await strip?.stop();
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  await rm(cacheHome, { recursive: true, force: true });
});

describe("kv push on a store that ignores conditional writes", () => {
  it("two replicas are refused with kv.unsafeStore, nothing is written or lost; singleWriter pushes", async () => {
    const { url, bucket, client } = await createTestBucket(server, "kv-unsafe");
    const remote = `${url}dbs/shared`;
    const viaStrip = { ...testClientOptions(server, strip.endpoint), maxAttempts: 2 };
    const a = await openKv({ path: localPath("unsafe-a"), remote, remoteOptions: viaStrip });
    const b = await openKv({ path: localPath("unsafe-b"), remote, remoteOptions: viaStrip });
    await a.set("from-a", 1);
    await b.set("from-b", 2);
    for (const [name, db] of [
      ["a", a],
      ["b", b],
    ] as const) {
      const error = await db.push().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isKvError(error, "kv.unsafeStore"), `${name}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toMatch(/ignores conditional PutObject.*singleWriter: true.*--single-writer/);
      expect((error as Error).message).toContain(strip.endpoint);
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents ?? []).toEqual([]);
    expect((await a.changes()).added).toEqual(["from-a"]);
    expect((await b.changes()).added).toEqual(["from-b"]);

    const pushed = await a.push({ singleWriter: true });
    expect(pushed.pushed).toBe(1);
    const single = await openKv({ path: localPath("unsafe-b2"), remote, remoteOptions: viaStrip, singleWriter: true });
    await single.set("from-b2", 3);
    expect((await single.push()).pushed).toBe(1);
    const reader = await openKv({ path: localPath("unsafe-reader"), remote, remoteOptions: testClientOptions(server) });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ "from-a": 1, "from-b2": 3 });
    for (const db of [a, b, single, reader]) await db.close();
    client.destroy();
  });

  it("compact is refused the same way (nothing written), and compacts with singleWriter", async () => {
    const { url, bucket, client } = await createTestBucket(server, "kv-unsafe-compact");
    const remote = `${url}dbs/compact`;
    // Two segments, pushed straight to moto.
    const writer = await openKv({ path: localPath("compact-w"), remote, remoteOptions: testClientOptions(server) });
    await writer.set("a", 1);
    await writer.push();
    await writer.set("a", 2);
    await writer.set("b", 3);
    await writer.push();
    const keys = async () =>
      ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map(
        (o) => `${o.Key} ${o.ETag}`,
      );
    const before = await keys();

    const viaStrip = { ...testClientOptions(server, strip.endpoint), maxAttempts: 2 };
    const unsafe = await openKv({ path: localPath("compact-u"), remote, remoteOptions: viaStrip });
    const error = await unsafe.compact({ graceMs: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKvError(error, "kv.unsafeStore"), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`^Refusing to compact ${remote}/?: the endpoint ${strip.endpoint} ignores conditional PutObject`),
    );
    expect(await keys()).toEqual(before);

    const single = await openKv({ path: localPath("compact-s"), remote, remoteOptions: viaStrip, singleWriter: true });
    const compacted = await single.compact({ graceMs: 0 });
    expect(compacted).toMatchObject({ segmentsBefore: 2, segmentsAfter: 1, liveKeys: 2 });
    const reader = await openKv({ path: localPath("compact-r"), remote, remoteOptions: testClientOptions(server) });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ a: 2, b: 3 });
    for (const db of [writer, unsafe, single, reader]) await db.close();
    client.destroy();
  });

  it("a store that honours them pushes as before, and the probe costs no request at push time", async () => {
    const { url, client } = await createTestBucket(server, "kv-safe");
    client.destroy();
    const db = await openKv({ path: localPath("safe"), remote: `${url}db`, remoteOptions: testClientOptions(server) });
    await db.set("k", "v");
    const result = await db.push();
    // As before: the manifest GET (404), the segment PUT, the manifest PUT; the probe ran when db opened.
    expect(result).toMatchObject({ pushed: 1, requests: 3 });
    await db.close();
  });
});
