import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { withConditionalWrites } from "./conditional-writes.ts";
import { isObjectStoreError } from "./errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { openObjectStore } from "./open-object-store.ts";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  testClientOptions,
} from "./testing/index.ts";
import type { TestServer } from "./testing/servers.ts";

let server: TestServer;
let strip: FaultProxy;
let cacheDir: string;
const stores: ObjectStore[] = [];
beforeAll(async () => {
  server = await startS3Server();
  strip = await startFaultProxy({ target: server.endpoint, faults: [{ action: { type: "stripConditionalHeaders" } }] });
  cacheDir = await mkdtemp(join(tmpdir(), "s3kit-cw-cache-"));
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await strip.stop();
  await rm(cacheDir, { recursive: true, force: true });
});

const codeOf = (error: unknown) => (isObjectStoreError(error) ? error.code : String(error));

function open(url: string, endpoint: string, extra: Parameters<typeof openObjectStore>[1] = {}) {
  const store = openObjectStore(url, {
    ...testClientOptions(server, endpoint),
    conditionalWritesProbe: { cacheDir },
    ...extra,
  });
  stores.push(store);
  return store;
}

describe("conditional writes behind a proxy that strips If-Match / If-None-Match", () => {
  test("native: the stripped headers let an overwrite through (what the fallback is for)", async () => {
    const { url } = await createTestBucket(server, "cw-native");
    const store = open(url, strip.endpoint);
    const first = await store.put("k", "one");
    await store.put("k", "two"); // another writer
    await store.put("k", "three", { ifMatch: first.etag });
    expect(Buffer.from(await store.getBytes("k")).toString()).toBe("three");
  });

  test("probe: the overwrite of a changed object is refused, ifNoneMatch and delete too; one warning", async () => {
    const { url } = await createTestBucket(server, "cw-probe");
    const warnings: string[] = [];
    const logged: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => logged.push(m) };
    const store = open(url, strip.endpoint, {
      conditionalWrites: "probe",
      onWarning: (m) => warnings.push(m),
      logger,
    });
    const first = await store.put("k", "one");
    await store.put("k", "two");
    const before = strip.requests.length;
    await expect(store.put("k", "three", { ifMatch: first.etag })).rejects.toSatisfy(
      (e) => codeOf(e) === "preconditionFailed",
    );
    // The probe (three PUTs and a DELETE on .s3kit/probe/…), then the HEAD that refused: no PUT of "three".
    expect(
      strip.requests.slice(before).map((r) => `${r.method} ${r.path.includes(".s3kit/probe/") ? "probe" : "k"}`),
    ).toEqual(["PUT probe", "PUT probe", "PUT probe", "DELETE probe", "HEAD k"]);
    expect(Buffer.from(await store.getBytes("k")).toString()).toBe("two");
    await expect(store.put("k", "x", { ifNoneMatch: "*" })).rejects.toSatisfy(
      (e) => codeOf(e) === "preconditionFailed",
    );
    await expect(store.put("gone", "x", { ifMatch: first.etag })).rejects.toSatisfy((e) => codeOf(e) === "notFound");
    await expect(store.delete("k", { ifMatch: first.etag })).rejects.toSatisfy(
      (e) => codeOf(e) === "preconditionFailed",
    );
    expect(Buffer.from(await store.getBytes("k")).toString()).toBe("two");
    // A write whose condition holds still goes through (HEAD, then the PUT with its headers).
    const current = (await store.head("k"))!;
    await store.put("k", "three", { ifMatch: current.etag });
    expect(Buffer.from(await store.getBytes("k")).toString()).toBe("three");

    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the endpoint ${strip.endpoint} does not honour conditional PutObject`);
    expect(warnings[0]).toContain("race window");
    expect(warnings[0]).toContain(`s3kit doctor ${url}`);
    expect(logged).toEqual([`conditional writes: ${warnings[0]}`]);

    // A second store on the same bucket and callback: the cached probe, no request, and no second warning.
    const again = open(url, strip.endpoint, { conditionalWrites: "probe", onWarning: (m) => warnings.push(m) });
    const start = strip.requests.length;
    await expect(again.put("k", "four", { ifNoneMatch: "*" })).rejects.toSatisfy(
      (e) => codeOf(e) === "preconditionFailed",
    );
    expect(strip.requests.slice(start).map((r) => r.method)).toEqual(["HEAD"]);
    expect(warnings).toHaveLength(2); // a new callback is told once as well
  });

  test("probe against plain moto: no warning, and after the first probe no extra request", async () => {
    const { url } = await createTestBucket(server, "cw-moto");
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const warnings: string[] = [];
      const store = open(url, proxy.endpoint, { conditionalWrites: "probe", onWarning: (m) => warnings.push(m) });
      const first = await store.put("k", "one", { ifNoneMatch: "*" });
      expect(proxy.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "PUT", "DELETE", "PUT"]);
      const before = proxy.requests.length;
      await store.put("k", "two", { ifMatch: first.etag });
      await expect(store.put("k", "three", { ifMatch: first.etag })).rejects.toSatisfy(
        (e) => codeOf(e) === "preconditionFailed",
      );
      expect(proxy.requests.slice(before).map((r) => r.method)).toEqual(["PUT", "PUT"]);
      // Another store on the bucket: the probe is cached (in this process and on disk): no request before the PUT.
      const other = open(url, proxy.endpoint, { conditionalWrites: "probe", onWarning: (m) => warnings.push(m) });
      const start = proxy.requests.length;
      await other.put("new", "x", { ifNoneMatch: "*" });
      expect(proxy.requests.slice(start).map((r) => r.method)).toEqual(["PUT"]);
      expect(warnings).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  test("headFirst on a file:// store and an unconditional write: no HEAD for writes without a condition", async () => {
    const dir = await mkdtemp(join(tmpdir(), "s3kit-cw-file-"));
    try {
      const inner = openObjectStore(`file://${dir}`);
      let heads = 0;
      const counted: ObjectStore = {
        ...inner,
        head: (k, o) => {
          heads++;
          return inner.head(k, o);
        },
      };
      const store = withConditionalWrites(counted, { mode: "headFirst" });
      const first = await store.put("a", "1");
      expect(heads).toBe(0);
      await store.put("a", "2", { ifMatch: first.etag });
      expect(heads).toBe(1);
      await expect(store.put("a", "3", { ifMatch: first.etag })).rejects.toSatisfy(
        (e) => codeOf(e) === "preconditionFailed",
      );
      expect(withConditionalWrites(inner, { mode: "probe" })).toBe(inner); // file:// enforces by itself
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
