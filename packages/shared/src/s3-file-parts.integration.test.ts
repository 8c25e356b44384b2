import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createS3Client } from "./clients.ts";
import { multipartEtag } from "./hashing.ts";
import { openObjectStore } from "./open-object-store.ts";
import { startFaultProxy } from "./testing/fault-proxy.ts";
import { createTestBucket, testClientOptions } from "./testing/fixtures.ts";
import { startS3Server } from "./testing/servers.ts";

const MiB = 1024 * 1024;
let server: Awaited<ReturnType<typeof startS3Server>>;
let dir: string;
beforeAll(async () => {
  server = await startS3Server();
  dir = await mkdtemp(join(tmpdir(), "s3-file-parts-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await server?.stop();
});

async function setup(tag: string, endpoint?: string) {
  const { url, client } = await createTestBucket(server, tag);
  client.destroy();
  return openObjectStore(url, testClientOptions(server, endpoint));
}

describe("a local file goes up in parts read from their offsets (issue 15)", () => {
  test("20 MiB in 5 MiB parts: one request per part, the multipart ETag of the file, each part's MD5 once", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const store = await setup("parts", proxy.endpoint);
      const path = join(dir, "twenty.bin");
      const data = randomBytes(20 * MiB + 123);
      await writeFile(path, data);
      const seen: [number, string][] = [];
      const progress: number[] = [];
      const result = await store.put("big.bin", createReadStream(path), {
        contentLength: data.length,
        multipartThresholdBytes: 16 * MiB,
        partSizeBytes: 5 * MiB,
        partConcurrency: 3,
        metadata: { a: "1" },
        onPartMd5: (n, md5) => seen.push([n, md5.toString("hex")]),
        onProgress: (p) => progress.push(p.loadedBytes),
      });
      expect(result).toEqual({ etag: await multipartEtag(path, 5 * MiB), size: data.length, partSizeBytes: 5 * MiB });
      const md5Of = (from: number, to: number) => createHash("md5").update(data.subarray(from, to)).digest("hex");
      expect(seen.sort((a, b) => a[0] - b[0])).toEqual(
        [0, 1, 2, 3, 4].map((i) => [i + 1, md5Of(i * 5 * MiB, Math.min((i + 1) * 5 * MiB, data.length))]),
      );
      expect(progress.at(-1)).toBe(data.length);
      expect(proxy.requests.map((r) => r.method)).toEqual(["POST", "PUT", "PUT", "PUT", "PUT", "PUT", "POST"]);
      const back = Buffer.from(await store.getBytes("big.bin"));
      expect(createHash("sha256").update(back).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
      expect((await store.head("big.bin"))?.metadata).toEqual({ a: "1" });
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a part that fails (500, reset mid-body) is sent again and the object is whole", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [
        { match: { method: "PUT" }, times: 1, action: { type: "internalError" } },
        { match: { method: "PUT" }, times: 1, action: { type: "resetMidBody" } },
      ],
    });
    try {
      const store = await setup("retry", proxy.endpoint);
      const path = join(dir, "retry.bin");
      await writeFile(path, randomBytes(17 * MiB));
      const result = await store.put("r.bin", createReadStream(path), {
        contentLength: 17 * MiB,
        partSizeBytes: 8 * MiB,
      });
      expect(result.etag).toBe(await multipartEtag(path, 8 * MiB));
      expect(proxy.requests.filter((r) => r.fault).length).toBe(2);
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("cancelled through the stream's signal: rejects, and no multipart upload is left open", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, action: { type: "delay", ms: 2_000 } }],
    });
    try {
      const store = await setup("cancel", proxy.endpoint);
      const path = join(dir, "cancel.bin");
      await writeFile(path, randomBytes(17 * MiB));
      const controller = new AbortController();
      const pending = store.put("c.bin", createReadStream(path, { signal: controller.signal }), {
        contentLength: 17 * MiB,
        partSizeBytes: 8 * MiB,
      });
      setTimeout(() => controller.abort(new Error("user cancelled")), 300);
      await expect(pending).rejects.toThrow();
      const open = [];
      for await (const u of store.listMultipartUploads!()) open.push(u);
      expect(open).toEqual([]);
      expect(await store.head("c.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("If-None-Match on a file in parts: an existing object is refused before any part is sent", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const store = await setup("cond", proxy.endpoint);
      await store.put("x.bin", "already here");
      const path = join(dir, "cond.bin");
      await writeFile(path, randomBytes(17 * MiB));
      const before = proxy.requests.length;
      await expect(
        store.put("x.bin", createReadStream(path), { contentLength: 17 * MiB, ifNoneMatch: "*" }),
      ).rejects.toMatchObject({ code: "preconditionFailed" });
      expect(proxy.requests.slice(before).map((r) => r.method)).toEqual(["HEAD"]);
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a part is streamed from the file: signed with its SHA-256, a CRC32, no buffer, no Expect", async () => {
    const { url, client: setupClient } = await createTestBucket(server, "stream");
    setupClient.destroy();
    const client = createS3Client({ ...testClientOptions(server), maxAttempts: 3 });
    // The request as it goes to the HTTP handler, after every other middleware (deserialize, lowest priority).
    const sent: {
      part: number;
      streamed: boolean;
      sha256: string | undefined;
      crc32: string | undefined;
      expect: string | undefined;
    }[] = [];
    let created: string | undefined;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as {
          body?: unknown;
          headers: Record<string, string>;
          query?: Record<string, string>;
        };
        if (context.commandName === "CreateMultipartUploadCommand") {
          created = request.headers["x-amz-checksum-algorithm"];
        }
        if (context.commandName === "UploadPartCommand") {
          sent.push({
            part: Number(request.query?.partNumber),
            streamed: request.body instanceof Readable && !Buffer.isBuffer(request.body),
            sha256: request.headers["x-amz-content-sha256"],
            crc32: request.headers["x-amz-checksum-crc32"],
            expect: request.headers.Expect ?? request.headers.expect,
          });
        }
        return next(args);
      },
      { step: "deserialize", priority: "low", name: "testCaptureParts" },
    );
    const store = openObjectStore(url, { client });
    const path = join(dir, "streamed.bin");
    const data = randomBytes(12 * MiB + 5);
    await writeFile(path, data);
    const result = await store.put("s.bin", createReadStream(path), {
      contentLength: data.length,
      multipartThresholdBytes: 5 * MiB,
      partSizeBytes: 5 * MiB,
      partConcurrency: 2,
    });
    expect(result.etag).toBe(await multipartEtag(path, 5 * MiB));
    const sha = (start: number, end: number) => createHash("sha256").update(data.subarray(start, end)).digest("hex");
    const crc = (start: number, end: number) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(crc32(data.subarray(start, end)));
      return bytes.toString("base64");
    };
    // CRC32 named for the object and sent with each part, as aws cli does.
    expect(created).toBe("CRC32");
    expect(sent.sort((a, b) => a.part - b.part)).toEqual([
      { part: 1, streamed: true, sha256: sha(0, 5 * MiB), crc32: crc(0, 5 * MiB), expect: undefined },
      { part: 2, streamed: true, sha256: sha(5 * MiB, 10 * MiB), crc32: crc(5 * MiB, 10 * MiB), expect: undefined },
      {
        part: 3,
        streamed: true,
        sha256: sha(10 * MiB, data.length),
        crc32: crc(10 * MiB, data.length),
        expect: undefined,
      },
    ]);
    expect(Buffer.from(await store.getBytes("s.bin")).equals(data)).toBe(true);
    await store.close();
    client.destroy();
  });

  test("AWS_REQUEST_CHECKSUM_CALCULATION=when_required: no CRC32 named or sent (for stores that refuse them)", async () => {
    const { url, client: setupClient } = await createTestBucket(server, "nocrc");
    setupClient.destroy();
    const client = createS3Client({ ...testClientOptions(server), maxAttempts: 3 });
    const headers: Record<string, string>[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        headers.push({ ...(args.request as { headers: Record<string, string> }).headers });
        return next(args);
      },
      { step: "deserialize", priority: "low", name: "testCaptureHeaders" },
    );
    const store = openObjectStore(url, { client });
    const path = join(dir, "nocrc.bin");
    await writeFile(path, randomBytes(11 * MiB));
    const saved = process.env.AWS_REQUEST_CHECKSUM_CALCULATION;
    process.env.AWS_REQUEST_CHECKSUM_CALCULATION = "WHEN_REQUIRED";
    try {
      const result = await store.put("n.bin", createReadStream(path), {
        contentLength: 11 * MiB,
        multipartThresholdBytes: 5 * MiB,
        partSizeBytes: 5 * MiB,
      });
      expect(result.etag).toBe(await multipartEtag(path, 5 * MiB));
    } finally {
      if (saved === undefined) delete process.env.AWS_REQUEST_CHECKSUM_CALCULATION;
      else process.env.AWS_REQUEST_CHECKSUM_CALCULATION = saved;
    }
    expect(headers.length).toBe(5); // create, 3 parts, complete
    expect(headers.filter((h) => Object.keys(h).some((name) => name.startsWith("x-amz-checksum")))).toEqual([]);
    await store.close();
    client.destroy();
  });

  test("a file that shrinks while its parts are streamed fails with ECHANGED and leaves no upload or object", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, action: { type: "delay", ms: 1_500 } }],
    });
    try {
      const store = await setup("shrink", proxy.endpoint);
      const path = join(dir, "shrink.bin");
      await writeFile(path, randomBytes(40 * MiB));
      const pending = store.put("s.bin", createReadStream(path), {
        contentLength: 40 * MiB,
        multipartThresholdBytes: 5 * MiB,
        partSizeBytes: 20 * MiB,
        partConcurrency: 1,
      });
      // While part 1 waits at the proxy (its first bytes sent, the rest not yet read), the file loses its tail.
      setTimeout(() => void truncate(path, 1 * MiB), 500);
      await expect(pending).rejects.toMatchObject({ code: "ECHANGED" });
      const open = [];
      for await (const u of store.listMultipartUploads!()) open.push(u);
      expect(open).toEqual([]);
      expect(await store.head("s.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a single PUT whose s3kit-sha256 metadata is the body's hash is signed with it (one hash, not two)", async () => {
    const store = await setup("sha");
    const body = randomBytes(1 * MiB);
    const sha256 = createHash("sha256").update(body).digest("hex");
    const result = await store.put("s.bin", body, { metadata: { "s3kit-sha256": sha256 } });
    expect(result.size).toBe(body.length);
    expect(Buffer.from(await store.getBytes("s.bin")).equals(body)).toBe(true);
    await store.close();
  });
});

describe("a local file up to the threshold goes up in one PUT read from the file (issue 15 (c))", () => {
  const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

  test("6 MiB: one PUT, streamed, signed with its SHA-256 and a CRC32, no Expect; sha256Metadata records the hash", async () => {
    const { url, client: setupClient } = await createTestBucket(server, "whole");
    setupClient.destroy();
    const client = createS3Client({ ...testClientOptions(server), maxAttempts: 3 });
    const sent: { command: string; streamed: boolean; sha256?: string; crc32?: string; expect?: string }[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { body?: unknown; headers: Record<string, string | undefined> };
        const { "x-amz-content-sha256": sha256, "x-amz-checksum-crc32": crc32 } = request.headers;
        sent.push({
          command: String(context.commandName),
          streamed: request.body instanceof Readable,
          ...(sha256 ? { sha256 } : {}),
          ...(crc32 ? { crc32 } : {}),
          ...((request.headers.Expect ?? request.headers.expect) ? { expect: "yes" } : {}),
        });
        return next(args);
      },
      { step: "deserialize", priority: "low", name: "testCaptureWhole" },
    );
    const store = openObjectStore(url, { client });
    const path = join(dir, "whole.bin");
    const data = randomBytes(6 * MiB + 7);
    await writeFile(path, data);
    const progress: number[] = [];
    const result = await store.put("w.bin", createReadStream(path), {
      contentLength: data.length,
      metadata: { a: "1" },
      sha256Metadata: true,
      onProgress: (p) => progress.push(p.loadedBytes),
    });
    expect(result).toEqual({ etag: `"${createHash("md5").update(data).digest("hex")}"`, size: data.length });
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data));
    expect(sent).toEqual([
      { command: "PutObjectCommand", streamed: true, sha256: sha256Of(data), crc32: crc.toString("base64") },
    ]);
    // Progress as the body goes out, 512 KiB at a time, not only at the end.
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.every((bytes, i) => i === 0 || bytes >= progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(data.length);
    expect((await store.head("w.bin"))?.metadata).toEqual({ a: "1", "s3kit-sha256": sha256Of(data) });
    expect(Buffer.from(await store.getBytes("w.bin")).equals(data)).toBe(true);
    await store.close();
    client.destroy();
  });

  test("a PUT answered 500 twice is sent again from the file each time and the object is whole", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, times: 2, action: { type: "internalError" } }],
    });
    try {
      const store = await setup("whole-retry", proxy.endpoint);
      const path = join(dir, "whole-retry.bin");
      const data = randomBytes(9 * MiB);
      await writeFile(path, data);
      const result = await store.put("r.bin", createReadStream(path), { contentLength: data.length });
      expect(result.etag).toBe(`"${createHash("md5").update(data).digest("hex")}"`);
      expect(proxy.requests.filter((r) => r.fault).length).toBe(2);
      expect(proxy.requests.filter((r) => r.method === "PUT").length).toBe(3);
      expect(Buffer.from(await store.getBytes("r.bin")).equals(data)).toBe(true);
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a file that shrinks while it is sent fails with ECHANGED and leaves no object", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, action: { type: "delay", ms: 1_500 } }],
    });
    try {
      const store = await setup("whole-shrink", proxy.endpoint);
      const path = join(dir, "whole-shrink.bin");
      await writeFile(path, randomBytes(40 * MiB));
      const pending = store.put("s.bin", createReadStream(path), {
        contentLength: 40 * MiB,
        multipartThresholdBytes: 64 * MiB,
      });
      // While the PUT waits at the proxy (its first bytes sent, the rest not yet read), the file loses its tail.
      setTimeout(() => void truncate(path, 1 * MiB), 500);
      await expect(pending).rejects.toMatchObject({ code: "ECHANGED" });
      expect(await store.head("s.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a file that grows while it is sent fails with ECHANGED before its last byte: no object", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, action: { type: "delay", ms: 1_500 } }],
    });
    try {
      const store = await setup("whole-grow", proxy.endpoint);
      const path = join(dir, "whole-grow.bin");
      await writeFile(path, randomBytes(40 * MiB));
      const pending = store.put("g.bin", createReadStream(path), {
        contentLength: 40 * MiB,
        multipartThresholdBytes: 64 * MiB,
      });
      // The first 40 MiB are still the same bytes: only the size check before the last chunk can catch this.
      setTimeout(() => void appendFile(path, randomBytes(1000)), 500);
      await expect(pending).rejects.toMatchObject({ code: "ECHANGED" });
      expect(await store.head("g.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("an s3kit-sha256 in the metadata that the file's bytes do not match: ECHANGED, nothing sent", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const store = await setup("whole-claim", proxy.endpoint);
      const path = join(dir, "whole-claim.bin");
      await writeFile(path, randomBytes(3 * MiB));
      const before = proxy.requests.length;
      await expect(
        store.put("c.bin", createReadStream(path), {
          contentLength: 3 * MiB,
          metadata: { "s3kit-sha256": "0".repeat(64) },
        }),
      ).rejects.toMatchObject({ code: "ECHANGED" });
      expect(proxy.requests.length).toBe(before);
      expect(await store.head("c.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
  });

  test("cancelled through the stream's signal: rejects, no object; If-None-Match on an existing object: refused", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: { method: "PUT" }, action: { type: "delay", ms: 2_000 } }],
    });
    try {
      const store = await setup("whole-cancel", proxy.endpoint);
      const path = join(dir, "whole-cancel.bin");
      await writeFile(path, randomBytes(8 * MiB));
      const controller = new AbortController();
      const pending = store.put("c.bin", createReadStream(path, { signal: controller.signal }), {
        contentLength: 8 * MiB,
      });
      setTimeout(() => controller.abort(new Error("user cancelled")), 300);
      await expect(pending).rejects.toThrow();
      expect(await store.head("c.bin")).toBeUndefined();
      await store.close();
    } finally {
      await proxy.stop();
    }
    const store = await setup("whole-cond");
    await store.put("x.bin", "already here");
    const path = join(dir, "whole-cond.bin");
    await writeFile(path, randomBytes(3 * MiB));
    await expect(
      store.put("x.bin", createReadStream(path), { contentLength: 3 * MiB, ifNoneMatch: "*" }),
    ).rejects.toMatchObject({ code: "preconditionFailed" });
    expect(Buffer.from(await store.getBytes("x.bin")).toString()).toBe("already here");
    await store.close();
  });
});
