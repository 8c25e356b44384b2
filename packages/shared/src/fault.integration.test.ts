import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { openObjectStore } from "./index.ts";
import type { ObjectStore } from "./object-store.ts";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "./testing/index.ts";

let server: TestServer;
let proxy: FaultProxy;
let bucketUrl: string;

beforeAll(async () => {
  server = await startS3Server();
  ({ url: bucketUrl } = await createTestBucket(server, "faults"));
  proxy = await startFaultProxy({ target: server.endpoint, seed: 7 });
});
afterAll(async () => {
  await proxy.stop();
});

function storeThroughProxy(maxAttempts = 10): ObjectStore {
  return openObjectStore(`${bucketUrl}flaky`, { ...testClientOptions(server, proxy.endpoint), maxAttempts });
}

describe("through the fault proxy", () => {
  test("with ~30% of requests failing (503 SlowDown, resets, cut bodies) put/get/list still give identical bytes", async () => {
    const store = storeThroughProxy();
    proxy.setFaults([
      { probability: 0.12, action: { type: "slowDown" } },
      { probability: 0.1, action: { type: "reset" } },
      { match: { method: "GET" }, probability: 0.1, action: { type: "resetMidBody" } },
      { probability: 0.05, action: { type: "internalError" } },
    ]);
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 20; i++) bodies.set(`obj-${i}.bin`, randomBytes(64 * 1024 + i));
    for (const [key, body] of bodies) await store.put(key, body);
    for (const [key, body] of bodies) expect(Buffer.from(await store.getBytes(key)).equals(body)).toBe(true);
    const listed: string[] = [];
    for await (const entry of store.list()) if (entry.kind === "object") listed.push(entry.key);
    expect(listed.sort()).toEqual([...bodies.keys()].sort());
    const faulted = proxy.requests.filter((r) => r.fault !== undefined).length;
    // The run really went through faults, not around them.
    expect(faulted / proxy.requests.length).toBeGreaterThan(0.15);
    await store.close();
  });

  test("a permanent 403 fails fast with accessDenied: one request each, no retry storm", async () => {
    const store = storeThroughProxy();
    proxy.setFaults([{ action: { type: "forbidden" } }]);
    const before = proxy.requests.length;
    // The first small PUT of a client goes by the fast path (fast-put.ts); its failure is sent once more by the
    // SDK, which gives the error its own terms, and the client stays on the SDK from then on.
    await expect(store.put("denied.txt", "x")).rejects.toMatchObject({ code: "accessDenied" });
    expect(proxy.requests.length - before).toBe(2);
    await expect(store.put("denied-2.txt", "x")).rejects.toMatchObject({ code: "accessDenied" });
    await expect(store.getBytes("denied.txt")).rejects.toMatchObject({ code: "accessDenied" });
    expect(proxy.requests.length - before).toBe(4);
    proxy.setFaults([]);
    await store.close();
  });

  test("a multipart upload that keeps failing leaves no object and no pending upload", async () => {
    const store = storeThroughProxy(2);
    proxy.setFaults([{ match: { method: "PUT", path: /partNumber=3/ }, action: { type: "internalError" } }]);
    const body = randomBytes(18 * 1024 * 1024);
    await expect(
      store.put("multi.bin", body, { partSizeBytes: 5 * 1024 * 1024, multipartThresholdBytes: 5 * 1024 * 1024 }),
    ).rejects.toThrow();
    proxy.setFaults([]);
    expect(await store.head("multi.bin")).toBeUndefined();
    const { client } = await createTestBucket(server, "unused");
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucketUrl.slice(5, -1) }));
    expect(uploads.Uploads ?? []).toEqual([]);
    await store.close();
  });

  test("a dropped connection is a retryable network failure, not an abort", async () => {
    const store = storeThroughProxy(1);
    proxy.setFaults([{ action: { type: "reset" } }]);
    await expect(store.put("reset.txt", "x")).rejects.toMatchObject({ code: "network" });
    proxy.setFaults([]);
    await store.close();
  });

  test("a lost answer: the write landed, and the SDK's retry of a create-if-absent then sees preconditionFailed", async () => {
    const store = storeThroughProxy(3);
    proxy.setFaults([{ match: { method: "PUT" }, times: 1, action: { type: "dropResponse" } }]);
    await expect(store.put("lost.txt", "landed", { ifNoneMatch: "*" })).rejects.toMatchObject({
      code: "preconditionFailed",
    });
    proxy.setFaults([]);
    expect(Buffer.from(await store.getBytes("lost.txt")).toString()).toBe("landed");
    await store.close();
  });

  test("a server that goes silent hits the idle timeout: a network failure, not a hang", async () => {
    const store = openObjectStore(`${bucketUrl}flaky`, {
      ...testClientOptions(server, proxy.endpoint),
      maxAttempts: 1,
      socketTimeoutMs: 300,
    });
    proxy.setFaults([{ action: { type: "delay", ms: 3000 } }]);
    await expect(store.head("silent.txt")).rejects.toMatchObject({ code: "network" });
    proxy.setFaults([]);
    await store.close();
  });

  test("an abort during a multipart upload rejects only once the upload is aborted on the server", async () => {
    const store = storeThroughProxy();
    proxy.setFaults([{ match: { method: "PUT", path: /partNumber=/ }, action: { type: "delay", ms: 300 } }]);
    const controller = new AbortController();
    const reason = new Error("stop now");
    const before = proxy.requests.length;
    const put = store.put("aborted-multi.bin", Readable.from(sixMiBChunks(5)), {
      partSizeBytes: 5 * 1024 * 1024,
      multipartThresholdBytes: 5 * 1024 * 1024,
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(proxy.requests.slice(before).some((r) => /partNumber=/.test(r.path))).toBe(true));
    controller.abort(reason);
    await expect(put).rejects.toBe(reason);
    // No wait here: the rejection itself must come after the server-side abort.
    const { client } = await createTestBucket(server, "unused");
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucketUrl.slice(5, -1) }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await store.head("aborted-multi.bin")).toBeUndefined();
    proxy.setFaults([]);
    await store.close();
  });
});

function* sixMiBChunks(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield randomBytes(6 * 1024 * 1024);
}
