import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createS3Client } from "./clients.ts";
import { isObjectStoreError } from "./errors.ts";
import { hashBytes } from "./hashing.ts";
import { openObjectStore } from "./open-object-store.ts";
import {
  createTestBucket,
  type FaultProxy,
  startFaultProxy,
  startS3Server,
  testClientOptions,
} from "./testing/index.ts";
import type { TestServer } from "./testing/servers.ts";

// The small-PUT fast path (fast-put.ts) against moto through a counting proxy. A request the fast path sent has no
// `x-id=PutObject` query (the SDK's serializer adds it), so the proxy's log tells which path each PUT took.
let server: TestServer;
let proxy: FaultProxy;
const clients: S3Client[] = [];
beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy({ target: server.endpoint });
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await proxy.stop();
});
afterEach(() => {
  proxy.setFaults([]);
  delete process.env.S3KIT_FAST_PUT;
});

const client = (extra: Parameters<typeof createS3Client>[0] = {}) => {
  const made = createS3Client({ ...testClientOptions(server, proxy.endpoint), maxAttempts: 3, ...extra });
  clients.push(made);
  return made;
};
/** The PUTs the proxy saw since `from`, as `fast` or `sdk`. */
const putsSince = (from: number) =>
  proxy.requests
    .slice(from)
    .filter((r) => r.method === "PUT")
    .map((r) => (r.path.includes("x-id=PutObject") ? "sdk" : "fast"));

async function object(s3: S3Client, bucket: string, key: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return {
    body: Buffer.from(await out.Body!.transformToByteArray()),
    metadata: out.Metadata,
    contentType: out.ContentType,
    etag: out.ETag,
    storageClass: out.StorageClass,
  };
}

describe("small PUTs without the SDK's middleware", () => {
  test("what the fast path stores is what the SDK stores: bytes, ETag, metadata, content type, storage class", async () => {
    const { bucket } = await createTestBucket(server, "fast-put");
    const s3 = client();
    const body = Buffer.from("a small photo");
    const from = proxy.requests.length;
    const out = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "2024/IMG 0001.jpg",
        Body: body,
        ContentType: "image/jpeg",
        Metadata: { mtime: "1700000000000", "s3kit-sha256": hashBytes(body) },
        StorageClass: "STANDARD_IA",
      }),
    );
    expect(putsSince(from)).toEqual(["fast"]);
    const stored = await object(s3, bucket, "2024/IMG 0001.jpg");
    expect(stored.body.equals(body)).toBe(true);
    expect(stored.etag).toBe(out.ETag);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(stored.metadata).toEqual({ mtime: "1700000000000", "s3kit-sha256": hashBytes(body) });
    expect(stored.contentType).toBe("image/jpeg");
    expect(stored.storageClass).toBe("STANDARD_IA");
  });

  test("odd keys are encoded as the SDK encodes them and come back exactly", async () => {
    const { bucket } = await createTestBucket(server, "fast-keys");
    const s3 = client();
    const keys = ["a b/c+d%e", "ü/ñ/日本.jpg", "x!'()*~y", "dir//double", "#hash?q=1&r", "tab\tand;semi:colon@at"];
    const from = proxy.requests.length;
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    expect(putsSince(from)).toEqual(keys.map(() => "fast"));
    for (const key of keys) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(Buffer.byteLength(key));
      expect((await object(s3, bucket, key)).body.toString()).toBe(key);
    }
  });

  test("a failed fast PUT is sent again by the SDK (its retries and errors), and the client stays on the SDK", async () => {
    const { bucket } = await createTestBucket(server, "fast-fail");
    const s3 = client();
    proxy.setFaults([{ match: { method: "PUT" }, times: 1, action: { type: "slowDown" } }]);
    const from = proxy.requests.length;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "one", Body: "1" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "two", Body: "2" }));
    expect(putsSince(from)).toEqual(["fast", "sdk", "sdk"]);
    expect(proxy.requests.slice(from).filter((r) => r.method === "PUT")[0]!.status).toBe(503);
    expect((await object(s3, bucket, "one")).body.toString()).toBe("1");
  });

  test("an error the SDK then gets is the SDK's own: a missing bucket through the store is noSuchBucket", async () => {
    const store = openObjectStore("s3://no-such-bucket-fast-put/", {
      ...testClientOptions(server, proxy.endpoint),
      maxAttempts: 1,
    });
    const failure = await store.put("k", "v").catch((error: unknown) => error);
    expect(isObjectStoreError(failure) && failure.code).toBe("noSuchBucket");
    await store.close();
  });

  test("a network error mid-request falls back too: the object is stored once, whole", async () => {
    const { bucket } = await createTestBucket(server, "fast-reset");
    const s3 = client();
    proxy.setFaults([{ match: { method: "PUT" }, times: 1, action: { type: "reset" } }]);
    const body = Buffer.alloc(200_000, 7);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "big", Body: body }));
    expect((await object(s3, bucket, "big")).body.equals(body)).toBe(true);
  });

  test("conditional writes, streams and other fields go through the SDK: a 412 costs one request", async () => {
    const { bucket } = await createTestBucket(server, "fast-cond");
    const s3 = client();
    const from = proxy.requests.length;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "v", IfNoneMatch: "*" }));
    const refused = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "w", IfNoneMatch: "*" }))
      .catch((error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode);
    expect(refused).toBe(412);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "c", Body: "v", CacheControl: "no-cache" }));
    expect(putsSince(from)).toEqual(["sdk", "sdk", "sdk"]);
    expect((await object(s3, bucket, "k")).body.toString()).toBe("v");
  });

  test("an aborted PUT rejects with the abort and stores nothing", async () => {
    const { bucket } = await createTestBucket(server, "fast-abort");
    const s3 = client();
    proxy.setFaults([{ match: { method: "PUT" }, action: { type: "delay", ms: 1_000 } }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "v" }), { abortSignal: controller.signal })
      .then(
        () => "stored",
        (error: Error) => error.name,
      );
    expect(result).toMatch(/Abort/);
    proxy.setFaults([]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" })).catch(() => "missing");
    // The request may have reached the server before the abort: then it is whole, never partial.
    if (head !== "missing") expect((await object(s3, bucket, "k")).body.toString()).toBe("v");
  });

  test("S3KIT_FAST_PUT=0 keeps every PUT on the SDK; a debug logger sees one line per fast request", async () => {
    const { bucket } = await createTestBucket(server, "fast-off");
    process.env.S3KIT_FAST_PUT = "0";
    const from = proxy.requests.length;
    await client().send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "v" }));
    expect(putsSince(from)).toEqual(["sdk"]);
    delete process.env.S3KIT_FAST_PUT;
    const lines: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger = {
      debug: (message: string, fields?: Record<string, unknown>) => lines.push({ message, fields }),
      info() {},
      warn() {},
      error() {},
    };
    await client({ logger }).send(new PutObjectCommand({ Bucket: bucket, Key: "secret-free", Body: "body text" }));
    expect(lines).toEqual([
      {
        message: "s3 PutObject 200",
        fields: expect.objectContaining({
          operation: "PutObject",
          bucket,
          key: "secret-free",
          status: 200,
          sentBytes: 9,
        }),
      },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/body text|s3kit-test-secret/);
  });
});
