import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { inspect } from "node:util";
import { CreateMultipartUploadCommand } from "@aws-sdk/client-s3";
import { openObjectStore } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isS3ObjectError, S3File } from "./index.ts";
import { statePathFor } from "./state.ts";

const MiB = 1024 * 1024;
let server: Awaited<ReturnType<typeof startS3Server>>;

beforeAll(async () => {
  server = await startS3Server();
});

async function setup(tag: string) {
  const { bucket, url, client } = await createTestBucket(server, tag);
  const cacheDir = await mkdtemp(join(tmpdir(), "s3o-cache-"));
  const store = openObjectStore(url, testClientOptions(server));
  const file = (key: string, extra: Record<string, unknown> = {}, endpoint = server.endpoint) =>
    new S3File(`s3://${bucket}/${key}`, { cacheDir, ...testClientOptions(server, endpoint), ...extra });
  return { bucket, url, client, cacheDir, store, file };
}

const text = async (path: string) => readFile(path, "utf8");
const remoteText = async (store: ReturnType<typeof openObjectStore>, key: string) =>
  Buffer.from(await store.getBytes(key)).toString("utf8");

describe("basic round trip", () => {
  test("download, change, upload, second download moves nothing", async () => {
    const { store, file } = await setup("basic");
    await store.put("reports/q3.csv", "a,b\n1,2\n");
    const f = file("reports/q3.csv");
    const first = await f.download();
    expect(first).toMatchObject({ transferred: true, bytes: 8, verified: "md5" });
    expect(await text(f.localPath)).toBe("a,b\n1,2\n");
    expect(await f.readText()).toBe("a,b\n1,2\n");
    expect((await f.download()).transferred).toBe(false);
    expect((await f.upload()).transferred).toBe(false);
    await writeFile(f.localPath, "a,b\n3,4\n");
    expect((await f.status()).status).toBe("localNewer");
    expect((await f.upload()).transferred).toBe(true);
    expect(await remoteText(store, "reports/q3.csv")).toBe("a,b\n3,4\n");
    expect((await f.status()).status).toBe("same");
    await f.close();
  });

  test("an unchanged object opened twice moves 0 bytes the second time (one 304)", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file } = await setup("twice");
      await store.put("data.bin", randomBytes(300_000));
      const f = file("data.bin", {}, proxy.endpoint);
      {
        await using h = await f.open("r");
        expect((await h.file.readFile()).length).toBe(300_000);
      }
      const before = proxy.requests.length;
      let bytes = -1;
      const progressBytes: number[] = [];
      const result = await f.download({ onProgress: (p) => progressBytes.push(p.loadedBytes) });
      bytes = result.bytes;
      {
        await using h = await f.open("r");
        expect((await h.file.readFile()).length).toBe(300_000);
      }
      const second = proxy.requests.slice(before);
      expect(result.transferred).toBe(false);
      expect(bytes).toBe(0);
      expect(progressBytes.every((b) => b === 0)).toBe(true);
      expect(second.map((r) => `${r.method} ${r.status}`)).toEqual(["GET 304", "GET 304"]);
      await f.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe("s3lync regressions", () => {
  test("a file once uploaded in parts is uploaded again after it changes (multipart ETag is not 'equal')", async () => {
    const { store, file } = await setup("mpchange");
    const opts = { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB };
    const f = file("big.bin", opts);
    const body = randomBytes(11 * MiB);
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(f.localPath, ".."), { recursive: true });
    await writeFile(f.localPath, body);
    const up = await f.upload();
    expect(up.transferred).toBe(true);
    expect(up.etag).toMatch(/-3"$/);
    body[5] = body[5]! ^ 0xff; // same size, one byte different
    await writeFile(f.localPath, body);
    const again = await f.upload();
    expect(again.transferred).toBe(true);
    expect(again.etag).not.toBe(up.etag);
    expect(Buffer.from(await store.getBytes("big.bin")).equals(body)).toBe(true);
    // Touched but not changed: hashed again (same size), found equal, not sent.
    const { utimes } = await import("node:fs/promises");
    await utimes(f.localPath, new Date(), new Date(Date.now() + 5_000));
    expect((await f.upload()).transferred).toBe(false);
    await f.close();
  });

  test("with verification off, changes still move both ways", async () => {
    const { store, file } = await setup("nocheck");
    await store.put("k.txt", "one");
    const f = file("k.txt", { verify: "none" });
    expect((await f.download()).transferred).toBe(true);
    await writeFile(f.localPath, "two");
    expect((await f.upload()).transferred).toBe(true);
    expect(await remoteText(store, "k.txt")).toBe("two");
    const other = file("k.txt", { verify: "none", localPath: join(await mkdtemp(join(tmpdir(), "s3o-")), "k") });
    await other.download();
    await writeFile(other.localPath, "three");
    await other.upload();
    const again = await f.download();
    expect(again.transferred).toBe(true);
    expect(await text(f.localPath)).toBe("three");
  });

  test("an exception inside open('w') uploads nothing and leaves the cache as it was", async () => {
    const { store, file } = await setup("wthrow");
    await store.put("doc.txt", "original");
    const f = file("doc.txt");
    await f.download();
    await expect(
      (async () => {
        await using h = await f.open("w");
        await h.write("partial");
        throw new Error("boom");
      })(),
    ).rejects.toThrow("boom");
    expect(await remoteText(store, "doc.txt")).toBe("original");
    expect(await text(f.localPath)).toBe("original");
    const leftovers = (await readdir(join(f.localPath, ".."))).filter((n) => n.endsWith(".tmp"));
    expect(leftovers).toEqual([]);
    // edit(): same promise.
    await expect(
      f.edit(async (path) => {
        await writeFile(path, "half");
        throw new Error("bang");
      }),
    ).rejects.toThrow("bang");
    expect(await remoteText(store, "doc.txt")).toBe("original");
    expect(await text(f.localPath)).toBe("original");
    // …and the success paths do upload.
    {
      await using h = await f.open("w");
      await h.write("rewritten");
      expect((await h.close())?.transferred).toBe(true);
    }
    expect(await remoteText(store, "doc.txt")).toBe("rewritten");
    await f.edit(async (path) => writeFile(path, `${await readFile(path, "utf8")}!`));
    expect(await remoteText(store, "doc.txt")).toBe("rewritten!");
  });

  test("append mode with an empty cache keeps the remote content and appends to it", async () => {
    const { store, file } = await setup("append");
    await store.put("log.txt", "hello\n");
    const f = file("log.txt"); // fresh cache dir: nothing local
    {
      await using h = await f.open("a");
      await h.write("world\n");
      await h.close();
    }
    expect(await remoteText(store, "log.txt")).toBe("hello\nworld\n");
    expect(await text(f.localPath)).toBe("hello\nworld\n");
  });

  test("downloading a missing key fails with object.notFound and creates no file", async () => {
    const { cacheDir, file } = await setup("missing");
    const f = file("nope/not-here.txt");
    const error = await f.download().catch((e: unknown) => e);
    expect(isS3ObjectError(error, "object.notFound")).toBe(true);
    expect(await f.exists()).toBe(false);
    expect((await readdir(cacheDir, { recursive: true })).filter((n) => n.includes("not-here"))).toEqual([]);
  });

  test("the secret key never shows in toString, toJSON, inspect or errors", async () => {
    const secret = "SUPER-secret-value-123";
    const f = new S3File("s3://s3kit-nobucket-here/k", {
      endpoint: server.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret },
      maxAttempts: 1,
      cacheDir: await mkdtemp(join(tmpdir(), "s3o-")),
    });
    const error = await f.download().catch((e: unknown) => e);
    expect(isS3ObjectError(error)).toBe(true);
    const shown = [
      String(f),
      JSON.stringify(f),
      inspect(f, { showHidden: true, depth: 5 }),
      inspect(error),
      String(error),
    ];
    for (const s of shown) expect(s).not.toContain(secret);
    const bad = (() => {
      try {
        new S3File("s3://b-b-b/k", { credentials: { accessKeyId: "x", secretAccessKey: 5 as unknown as string } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(bad?.message).toContain("credentials");
    expect(bad?.message).not.toContain("5");
  });

  test("the secret key never shows in logs (retries and SDK debug output included)", async () => {
    const secret = "SUPER-secret-log-value-456";
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [
        { match: { method: "GET" }, times: 1, action: { type: "internalError" } },
        { match: { method: "GET" }, times: 1, action: { type: "resetMidBody" } },
      ],
    });
    try {
      const { store, cacheDir, bucket } = await setup("logsecret");
      await store.put("l.txt", randomBytes(200_000)); // large enough that the reset comes after the headers
      const lines: string[] = [];
      const capture =
        (level: string) =>
        (message: string, fields?: Record<string, unknown>): void => {
          lines.push(`${level} ${message} ${inspect(fields, { depth: 10, showHidden: true })}`);
        };
      const logger = { debug: capture("debug"), info: capture("info"), warn: capture("warn"), error: capture("error") };
      // The server accepts any key pair: the secret is in every signature's input.
      const f = new S3File(`s3://${bucket}/l.txt`, {
        cacheDir,
        endpoint: proxy.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "s3kit-test", secretAccessKey: secret },
        logger,
      });
      expect((await f.download()).transferred).toBe(true);
      await writeFile(f.localPath, "changed");
      expect(proxy.requests.map((r) => r.fault ?? "ok")).toEqual(["internalError", "resetMidBody", "ok"]);
      expect((await f.upload()).transferred).toBe(true);
      await f.close();
      expect(lines.some((l) => l.startsWith("warn "))).toBe(true); // the body retry was logged…
      for (const line of lines) expect(line).not.toContain(secret); // …without the secret
    } finally {
      await proxy.stop();
    }
  });

  test("uploads are retried on throttling and 5xx (counted at the proxy)", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [
        { match: { method: "PUT" }, times: 1, action: { type: "slowDown" } },
        { match: { method: "PUT" }, times: 1, action: { type: "internalError" } },
      ],
    });
    try {
      const { store, file, cacheDir } = await setup("upretry");
      const local = join(cacheDir, "u.bin");
      const body = randomBytes(100_000);
      await writeFile(local, body);
      // native: the PUTs counted are the upload's alone (the conditional-write probe would add three).
      const f = file("u.bin", { localPath: local, conditionalWrites: "native" }, proxy.endpoint);
      expect((await f.upload()).transferred).toBe(true);
      expect(Buffer.from(await store.getBytes("u.bin")).equals(body)).toBe(true);
      expect(proxy.requests.filter((r) => r.method === "PUT").map((r) => r.fault ?? "ok")).toEqual([
        "slowDown",
        "internalError",
        "ok",
      ]);
    } finally {
      await proxy.stop();
    }
  });

  test("throttling, 5xx and a truncated body are retried", async () => {
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [
        { match: { method: "GET" }, times: 1, action: { type: "slowDown" } },
        { match: { method: "GET" }, times: 1, action: { type: "internalError" } },
        { match: { method: "GET" }, times: 1, action: { type: "resetMidBody" } },
      ],
    });
    try {
      const { store, file } = await setup("retry");
      const body = randomBytes(200_000);
      await store.put("r.bin", body);
      const f = file("r.bin", {}, proxy.endpoint);
      const result = await f.download();
      expect(result.transferred).toBe(true);
      expect((await readFile(f.localPath)).equals(body)).toBe(true);
      const gets = proxy.requests.filter((r) => r.method === "GET");
      expect(gets.map((r) => r.fault ?? "ok")).toEqual(["slowDown", "internalError", "resetMidBody", "ok"]);
    } finally {
      await proxy.stop();
    }
  });
});

describe("conflicts and integrity", () => {
  test("a concurrent remote change makes upload() fail with object.conflict", async () => {
    const { store, file } = await setup("conflict");
    await store.put("shared.txt", "v1");
    const f = file("shared.txt");
    await f.download();
    await store.put("shared.txt", "someone else's v2");
    await writeFile(f.localPath, "my v2");
    expect((await f.status()).status).toBe("conflict");
    const error = await f.upload().catch((e: unknown) => e);
    expect(isS3ObjectError(error, "object.conflict")).toBe(true);
    expect(await remoteText(store, "shared.txt")).toBe("someone else's v2");
    // download refuses to destroy the unsaved edit; reads see the local working copy…
    expect(isS3ObjectError(await f.download().catch((e: unknown) => e), "object.localChanges")).toBe(true);
    expect(await f.readText()).toBe("my v2");
    // …and force chooses a side.
    expect((await f.upload({ force: true })).transferred).toBe(true);
    expect(await remoteText(store, "shared.txt")).toBe("my v2");
  });

  test("a multipart upload refuses to overwrite a concurrent change", async () => {
    const { store, file } = await setup("mpconflict");
    const opts = { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB };
    await store.put("m.bin", randomBytes(6 * MiB), { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB });
    const f = file("m.bin", opts);
    await f.download();
    await store.put("m.bin", "replaced");
    await writeFile(f.localPath, randomBytes(6 * MiB));
    expect(isS3ObjectError(await f.upload().catch((e: unknown) => e), "object.conflict")).toBe(true);
    expect(await remoteText(store, "m.bin")).toBe("replaced");
  });

  test("an upload aborts the incomplete multipart upload a killed run left for this key, and nothing else", async () => {
    const { store, file, cacheDir, client, bucket } = await setup("leftover");
    const opts = { partSizeBytes: 5 * MiB, multipartThresholdBytes: 5 * MiB };
    const local = join(cacheDir, "m.bin");
    await writeFile(local, randomBytes(6 * MiB));
    const start = async (key: string) =>
      (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
    const uploads = async () => {
      const ids: string[] = [];
      for await (const u of store.listMultipartUploads!()) ids.push(`${u.key} ${u.uploadId}`);
      return ids.sort();
    };
    // A killed run: its marker (written when its upload began), its upload of m.bin; another key's upload.
    const marker = `${statePathFor(cacheDir, local)}.multipart`;
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, `${new Date(Date.now() - 60_000).toISOString()}\n`);
    const killed = await start("m.bin");
    const other = await start("other.bin");
    expect(await uploads()).toEqual([`m.bin ${killed}`, `other.bin ${other}`].sort());
    const f = file("m.bin", { ...opts, localPath: local });
    expect((await f.upload()).transferred).toBe(true);
    expect(await uploads()).toEqual([`other.bin ${other}`]);
    await expect(readFile(marker)).rejects.toMatchObject({ code: "ENOENT" });
    // Without a marker (the last upload ended), another writer's incomplete upload of the key is left alone.
    const theirs = await start("m.bin");
    await writeFile(local, randomBytes(6 * MiB));
    expect((await f.upload()).transferred).toBe(true);
    expect(await uploads()).toEqual([`m.bin ${theirs}`, `other.bin ${other}`].sort());
    await f.close();
  });

  test("a new object is created with If-None-Match; an existing different one is not overwritten blindly", async () => {
    const { store, file, cacheDir } = await setup("create");
    const local = join(cacheDir, "new.txt");
    await writeFile(local, "mine");
    const f = file("new.txt", { localPath: local });
    expect((await f.upload()).transferred).toBe(true);
    await store.put("other.txt", "theirs");
    const g = file("other.txt", { localPath: local });
    expect(isS3ObjectError(await g.upload().catch((e: unknown) => e), "object.conflict")).toBe(true);
    expect(await remoteText(store, "other.txt")).toBe("theirs");
  });

  test("a 64 MiB multipart object (no s3kit metadata) is verified by its multipart ETag", async () => {
    const { store, file } = await setup("mp64");
    const body = randomBytes(64 * MiB);
    const put = await store.put("big64.bin", body, { partSizeBytes: 8 * MiB });
    expect(put.etag).toMatch(/-8"$/);
    const f = file("big64.bin", { verify: "strict" });
    const result = await f.download();
    expect(result).toMatchObject({ transferred: true, bytes: 64 * MiB, verified: "multipartEtag" });
    expect((await readFile(f.localPath)).equals(body)).toBe(true);
    // Our own multipart upload records its part size, so anyone's download recomputes the ETag.
    body[0] = body[0]! ^ 1;
    await writeFile(f.localPath, body);
    await f.upload();
    const g = file("big64.bin", { verify: "strict", localPath: join(await mkdtemp(join(tmpdir(), "s3o-")), "b") });
    expect(await g.download()).toMatchObject({ transferred: true, verified: "multipartEtag" });
    expect((await store.head("big64.bin"))?.metadata).toMatchObject({ "s3kit-part-size": String(8 * MiB) });
  });

  test("ranges of several parts (one reset mid-body and retried) still give the multipart ETag", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file } = await setup("ranges");
      const body = randomBytes(40 * MiB);
      const put = await store.put("r.bin", body, { partSizeBytes: 5 * MiB });
      expect(put.etag).toMatch(/-8"$/);
      // One worker: ranges after the first are 10 MiB (two 5 MiB parts each, about four per worker).
      const f = file("r.bin", { verify: "strict", partSizeBytes: 5 * MiB, partConcurrency: 1 }, proxy.endpoint);
      let gets = 0;
      proxy.setFaults([
        { match: (r) => r.method === "GET" && ++gets === 3, times: 1, action: { type: "resetMidBody" } },
      ]);
      const before = proxy.requests.length;
      const result = await f.download();
      expect(result).toMatchObject({ transferred: true, bytes: 40 * MiB, verified: "multipartEtag" });
      expect((await readFile(f.localPath)).equals(body)).toBe(true);
      const made = proxy.requests.slice(before);
      // 5 ranges (5 + 10 + 10 + 10 + 5 MiB) and the retried one.
      expect(made.map((r) => `${r.method} ${r.fault ?? r.status}`)).toEqual([
        "GET 206",
        "GET 206",
        "GET resetMidBody",
        "GET 206",
        "GET 206",
        "GET 206",
      ]);
      await f.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a local file that shrinks while it is sent: object.integrity, the remote keeps its version", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file } = await setup("shrink");
      await store.put("s.bin", "version one");
      const f = file("s.bin", { multipartThresholdBytes: 64 * MiB }, proxy.endpoint);
      await f.download();
      await writeFile(f.localPath, randomBytes(40 * MiB));
      // The PUT waits at the proxy (its first bytes sent, the rest not yet read) while the file loses its tail.
      proxy.setFaults([{ match: { method: "PUT" }, action: { type: "delay", ms: 1_500 } }]);
      setTimeout(() => void truncate(f.localPath, MiB), 500);
      const error = await f.upload().catch((e: unknown) => e);
      expect(isS3ObjectError(error) && `${error.code}: ${error.message}`).toMatch(
        /^object\.integrity: .*changed while it was being sent; nothing was stored/,
      );
      expect(await remoteText(store, "s.bin")).toBe("version one");
      await f.close();
    } finally {
      await proxy.stop();
    }
  });

  test("a download that fails verification never replaces the cached file", async () => {
    const { store, file } = await setup("integrity");
    await store.put("v.txt", "good");
    const f = file("v.txt");
    await f.download();
    // A new version whose recorded SHA-256 does not match its body (a damaged object).
    await store.put("v.txt", "evil", { metadata: { "s3kit-sha256": "0".repeat(64) } });
    const error = await f.download().catch((e: unknown) => e);
    expect(isS3ObjectError(error, "object.integrity")).toBe(true);
    expect(await text(f.localPath)).toBe("good");
    expect((await readdir(join(f.localPath, ".."))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("a body truncated on every attempt fails clearly and leaves the cache intact", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file } = await setup("truncate");
      await store.put("t.bin", Buffer.alloc(100_000, 1));
      const f = file("t.bin", { attempts: 2, maxAttempts: 2 }, proxy.endpoint);
      await f.download();
      await store.put("t.bin", Buffer.alloc(100_000, 2));
      proxy.setFaults([{ match: { method: "GET" }, action: { type: "resetMidBody" } }]);
      const error = await f.download().catch((e: unknown) => e);
      expect(isS3ObjectError(error) && `${error.code}: ${error.message}`).toMatch(/^object\.network: /);
      expect((await readFile(f.localPath)).equals(Buffer.alloc(100_000, 1))).toBe(true);
      expect((await readdir(join(f.localPath, ".."))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
      proxy.setFaults([]);
      await f.download();
      expect((await readFile(f.localPath)).equals(Buffer.alloc(100_000, 2))).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test("a write whose answer is lost is retried and recognised as ours, not reported as a conflict", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file, cacheDir } = await setup("lostanswer");
      const local = join(cacheDir, "lost.txt");
      await writeFile(local, "first");
      const f = file("lost.txt", { localPath: local }, proxy.endpoint);
      // New object (If-None-Match: *): the server stores it, the answer is lost, the SDK sends it again → 412.
      proxy.setFaults([{ match: { method: "PUT" }, times: 1, action: { type: "dropResponse" } }]);
      const created = await f.upload();
      expect(created.transferred).toBe(true);
      expect(await remoteText(store, "lost.txt")).toBe("first");
      // Update (If-Match): same story, and the state must follow the new version.
      await writeFile(local, "second");
      proxy.setFaults([{ match: { method: "PUT" }, times: 1, action: { type: "dropResponse" } }]);
      const updated = await f.upload();
      expect(updated).toMatchObject({ transferred: true, etag: (await store.head("lost.txt"))?.etag });
      expect(await remoteText(store, "lost.txt")).toBe("second");
      expect(proxy.requests.filter((r) => r.fault === "dropResponse")).toHaveLength(2);
      proxy.setFaults([]);
      expect((await f.status()).status).toBe("same");
      expect((await f.upload()).transferred).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  test("a multipart upload whose completion answer is lost is recognised as ours (no part MD5s taken: the file is hashed on that path)", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file, cacheDir } = await setup("lostmultipart");
      const local = join(cacheDir, "lost.bin");
      const v1 = randomBytes(12 * MiB);
      await writeFile(local, v1);
      const options = { localPath: local, multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB };
      const f = file("lost.bin", options, proxy.endpoint);
      expect((await f.upload()).transferred).toBe(true);
      const v2 = randomBytes(12 * MiB);
      await writeFile(local, v2);
      const completes = (r: { method: string; path: string }) => r.method === "POST" && r.path.includes("uploadId=");
      // The completion is stored and its answer lost; the SDK sends it again and, as S3 would with If-Match on
      // our own new version, is refused (moto ignores conditions on completion: the proxy answers 412).
      proxy.setFaults([
        { match: completes, times: 1, action: { type: "dropResponse" } },
        { match: completes, times: 1, action: { type: "preconditionFailed" } },
      ]);
      const updated = await f.upload();
      proxy.setFaults([]);
      expect(proxy.requests.filter((r) => r.fault).map((r) => r.fault)).toEqual(["dropResponse", "preconditionFailed"]);
      const head = await store.head("lost.bin");
      expect(head?.etag).toMatch(/-3"$/);
      expect(updated).toMatchObject({ transferred: true, etag: head?.etag });
      expect(Buffer.from(await store.getBytes("lost.bin")).equals(v2)).toBe(true);
      expect((await f.status()).status).toBe("same");
      expect((await f.upload()).transferred).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  test("a store that answers a multipart upload with an ETag of its own: the local file is hashed instead, the upload stands", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file, cacheDir } = await setup("otheretag");
      const local = join(cacheDir, "other.bin");
      await writeFile(local, randomBytes(12 * MiB));
      const f = file(
        "other.bin",
        { localPath: local, multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB },
        proxy.endpoint,
      );
      const completes = (r: { method: string; path: string }) => r.method === "POST" && r.path.includes("uploadId=");
      // The completion's answer names an ETag that is not a multipart ETag of the 3 parts sent.
      proxy.setFaults([
        {
          match: completes,
          times: 1,
          action: { type: "rewriteBody", from: /<ETag>[^<]*<\/ETag>/, to: "<ETag>&quot;not-an-md5&quot;</ETag>" },
        },
      ]);
      const uploaded = await f.upload();
      proxy.setFaults([]);
      expect(proxy.requests.filter((r) => r.fault === "rewriteBody")).toHaveLength(1);
      expect(uploaded).toMatchObject({ transferred: true, etag: '"not-an-md5"' });
      expect(Buffer.from(await store.getBytes("other.bin")).equals(await readFile(local))).toBe(true);
      // The content id is the local file's own multipart ETag: an unchanged file is not sent again.
      expect((await f.upload()).transferred).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  test("delete uses If-Match: a newer remote version is not deleted", async () => {
    const { store, file } = await setup("delete");
    await store.put("d.txt", "v1");
    const f = file("d.txt");
    await f.download();
    await store.put("d.txt", "v2");
    expect(isS3ObjectError(await f.delete().catch((e: unknown) => e), "object.conflict")).toBe(true);
    await f.download();
    await f.delete();
    expect(await f.exists()).toBe(false);
  });
});

afterAll(async () => {});

describe("reading, status and cancellation", () => {
  test("read, createReadStream, open('r+') and every status", async () => {
    const { store, file } = await setup("reads");
    const f = file("x/y.txt");
    expect((await f.status()).status).toBe("absent");
    await store.put("x/y.txt", "abc");
    expect((await f.status()).status).toBe("remoteOnly");
    expect((await f.read()).toString()).toBe("abc");
    const chunks: Buffer[] = [];
    for await (const c of f.createReadStream()) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("abc");
    expect((await f.status()).status).toBe("same");
    await store.put("x/y.txt", "abcd");
    expect((await f.status()).status).toBe("remoteNewer");
    {
      await using h = await f.open("r+");
      expect(await h.readText()).toBe("abcd");
      await h.file.write("Z", 0);
      await h.close();
    }
    expect(await remoteText(store, "x/y.txt")).toBe("Zbcd");
    await store.delete("x/y.txt");
    expect((await f.status()).status).toBe("remoteNewer");
    await f.delete({ keepLocal: true });
    expect((await f.status()).status).toBe("localOnly");
  });

  test("stat() and exists() describe the remote; stat of a missing object is object.notFound", async () => {
    const { store, file } = await setup("stat");
    await store.put("s.txt", "12345", { metadata: { owner: "me" }, contentType: "text/plain" });
    const f = file("s.txt");
    const info = await f.stat();
    expect(info).toMatchObject({ size: 5, metadata: { owner: "me" }, contentType: "text/plain" });
    expect(info.etag).toBe((await store.head("s.txt"))?.etag);
    expect(await f.exists()).toBe(true);
    const missing = file("none.txt");
    expect(await missing.exists()).toBe(false);
    expect(isS3ObjectError(await missing.stat().catch((e: unknown) => e), "object.notFound")).toBe(true);
  });

  test("an unchanged local file is not hashed again: the state's hash is used while its fingerprint holds", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file, cacheDir } = await setup("nohash");
      await store.put("h.txt", "hashed once");
      const f = file("h.txt", {}, proxy.endpoint);
      await f.download();
      // Replace the recorded content id by a marker in both places. A re-hash would give the real id, which
      // differs from the synced one, and upload() would send the file; the cached hash says "unchanged".
      const stateDir = join(cacheDir, ".s3kit-state");
      const [name] = await readdir(stateDir);
      const statePath = join(stateDir, name!);
      const state = JSON.parse(await readFile(statePath, "utf8"));
      state.hash.contentId = "sha256:marker";
      state.synced.contentId = "sha256:marker";
      await writeFile(statePath, JSON.stringify(state));
      const before = proxy.requests.length;
      expect((await f.upload()).transferred).toBe(false);
      expect((await f.localState()).changed).toBe(false);
      expect(proxy.requests.length).toBe(before);
      // Touch the file (new mtime): the fingerprint breaks, the file is hashed again and no longer matches the marker.
      const { utimes } = await import("node:fs/promises");
      await utimes(f.localPath, new Date(), new Date(Date.now() + 5_000));
      expect((await f.localState()).changed).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test("an aborted download rejects with the signal's reason and leaves the cache and no temp file", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const { store, file } = await setup("abort");
      await store.put("a.bin", Buffer.alloc(50_000, 1));
      const f = file("a.bin", {}, proxy.endpoint);
      await f.download();
      await store.put("a.bin", Buffer.alloc(50_000, 2));
      proxy.setFaults([{ match: { method: "GET" }, action: { type: "delay", ms: 5_000 } }]);
      const controller = new AbortController();
      const reason = new Error("user cancelled");
      const pending = f.download({ signal: controller.signal });
      setTimeout(() => controller.abort(reason), 100);
      await expect(pending).rejects.toBe(reason);
      expect((await readFile(f.localPath)).equals(Buffer.alloc(50_000, 1))).toBe(true);
      expect((await readdir(join(f.localPath, ".."))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
