import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { probeConditionalPut, probeStore } from "./probe.ts";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  testClientOptions,
} from "./testing/index.ts";
import type { TestServer } from "./testing/servers.ts";

let server: TestServer;
let cacheDir: string;
const proxies: FaultProxy[] = [];
beforeAll(async () => {
  server = await startS3Server();
  cacheDir = await mkdtemp(join(tmpdir(), "s3kit-probe-cache-"));
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await rm(cacheDir, { recursive: true, force: true });
});

async function leftovers(bucket: string, client: import("@aws-sdk/client-s3").S3Client) {
  const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return { objects: (objects.Contents ?? []).map((o) => o.Key), uploads: (uploads.Uploads ?? []).map((u) => u.Key) };
}

describe("probeStore", () => {
  test("against moto: conditional PutObject honoured, CompleteMultipartUpload If-Match ignored; nothing left behind", async () => {
    const { bucket, url, client } = await createTestBucket(server, "probe");
    const probe = await probeStore(`${url}some/prefix/`, { ...testClientOptions(server), cacheDir });
    expect(probe).toMatchObject({
      endpoint: server.endpoint,
      bucket,
      fromCache: false,
      putObject: { ifNoneMatch: { result: "honoured", status: 412 }, ifMatch: { result: "honoured", status: 412 } },
      // moto 5.2 checks If-None-Match on CompleteMultipartUpload but completes over a wrong If-Match.
      completeMultipartUpload: { ifNoneMatch: { result: "honoured" }, ifMatch: { result: "ignored" } },
      conditionalPut: true,
      conditionalMultipart: false,
      multipartEtag: { form: "md5OfPartMd5s" },
    });
    expect(probe.checksums.SHA256.accepted).toBe(true);
    expect(await leftovers(bucket, client)).toEqual({ objects: [], uploads: [] });

    // Cached per endpoint and bucket: no request the second time; cache: false probes again.
    const cached = await probeStore(`${url}other/`, { ...testClientOptions(server), cacheDir });
    expect(cached).toEqual({ ...probe, fromCache: true });
    expect(await readdir(cacheDir)).toHaveLength(1);
    const fresh = await probeStore(url, { ...testClientOptions(server), cacheDir, cache: false });
    expect(fresh.fromCache).toBe(false);
    expect(fresh.probedAt >= probe.probedAt).toBe(true);
    client.destroy();
  });

  test("behind a proxy that strips conditional headers: conditional PutObject reported ignored", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ action: { type: "stripConditionalHeaders" } }],
    });
    proxies.push(proxy);
    const { bucket, url, client } = await createTestBucket(server, "probe-strip");
    const probe = await probeStore(url, { ...testClientOptions(server, proxy.endpoint), cacheDir });
    expect(probe.endpoint).toBe(proxy.endpoint);
    expect(probe.putObject).toEqual({
      ifNoneMatch: { result: "ignored", status: 200 },
      ifMatch: { result: "ignored", status: 200 },
    });
    expect(probe.deleteObject.ifMatch.result).toBe("ignored");
    expect(probe.conditionalPut).toBe(false);
    expect(proxy.requests.some((r) => r.fault === "stripConditionalHeaders")).toBe(true);
    expect(await leftovers(bucket, client)).toEqual({ objects: [], uploads: [] });
    client.destroy();
  });

  test("probeConditionalPut: four requests, reuses a fresh full probe, and tells a stripping proxy apart", async () => {
    const { url, bucket, client } = await createTestBucket(server, "probe-put");
    const quickDir = await mkdtemp(join(tmpdir(), "s3kit-probe-quick-"));
    try {
      const direct = await probeConditionalPut(url, { ...testClientOptions(server), cacheDir: quickDir });
      expect(direct).toMatchObject({ honoured: true, fromCache: false, ifMatch: { result: "honoured" } });
      expect((await probeConditionalPut(url, { ...testClientOptions(server), cacheDir: quickDir })).fromCache).toBe(
        true,
      );
      const proxy = await startFaultProxy({
        target: server.endpoint,
        faults: [{ action: { type: "stripConditionalHeaders" } }],
      });
      proxies.push(proxy);
      const stripped = await probeConditionalPut(url, {
        ...testClientOptions(server, proxy.endpoint),
        cacheDir: quickDir,
      });
      expect(stripped).toMatchObject({
        honoured: false,
        ifNoneMatch: { result: "ignored" },
        ifMatch: { result: "ignored" },
      });
      expect(proxy.requests.map((r) => r.method)).toEqual(["PUT", "PUT", "PUT", "DELETE"]);
      // A fresh full probe answers without a request.
      await probeStore(url, { ...testClientOptions(server, proxy.endpoint), cacheDir: quickDir });
      const before = proxy.requests.length;
      const reused = await probeConditionalPut(url, {
        ...testClientOptions(server, proxy.endpoint),
        cacheDir: quickDir,
      });
      expect(reused).toMatchObject({ fromCache: true, honoured: false });
      expect(proxy.requests.length).toBe(before);
      expect(await leftovers(bucket, client)).toEqual({ objects: [], uploads: [] });
    } finally {
      client.destroy();
      await rm(quickDir, { recursive: true, force: true });
    }
  });

  test("a file:// location is refused: it honours conditional writes by construction", async () => {
    await expect(probeStore("file:///tmp/x")).rejects.toMatchObject({ code: "invalidLocation" });
  });
});
