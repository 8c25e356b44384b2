import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { forEachConcurrent } from "./concurrency.ts";
import { MultipartEtagHasher } from "./hashing.ts";
import type { ListEntry, ObjectStore } from "./object-store.ts";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const text = async (store: ObjectStore, key: string, options = {}) =>
  Buffer.from(await store.getBytes(key, options)).toString("utf8");

/**
 * The behaviour every {@link ObjectStore} implementation must show. `open` returns a store on a fresh,
 * empty location each time it is called.
 */
export function testObjectStore(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    test("put/head/get round-trips body, user metadata and content type", async () => {
      const store = await open();
      const put = await store.put("docs/readme.txt", "hello world", {
        metadata: { Mtime: "1700000000123", "sha-256": "abc" },
        contentType: "text/plain",
      });
      expect(put.etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(put.size).toBe(11);
      const info = await store.head("docs/readme.txt");
      expect(info).toMatchObject({ key: "docs/readme.txt", size: 11, etag: put.etag, contentType: "text/plain" });
      expect(info?.metadata).toEqual({ mtime: "1700000000123", "sha-256": "abc" });
      const got = await store.get("docs/readme.txt");
      expect(got.metadata).toEqual({ mtime: "1700000000123", "sha-256": "abc" });
      got.body.destroy();
      expect(await text(store, "docs/readme.txt")).toBe("hello world");
    });

    test("sha256Metadata records the body's SHA-256 as s3kit-sha256, replacing a value given", async () => {
      const store = await open();
      const body = randomBytes(70_000);
      const sha256 = createHash("sha256").update(body).digest("hex");
      await store.put("a.bin", body, { sha256Metadata: true, metadata: { mtime: "1", "s3kit-sha256": "stale" } });
      expect((await store.head("a.bin"))?.metadata).toEqual({ mtime: "1", "s3kit-sha256": sha256 });
      await store.put("b.bin", Readable.from([body.subarray(0, 5), body.subarray(5)]), { sha256Metadata: true });
      expect((await store.head("b.bin"))?.metadata).toEqual({ "s3kit-sha256": sha256 });
    });

    test("missing objects: head gives undefined, get rejects with notFound", async () => {
      const store = await open();
      expect(await store.head("nope.txt")).toBeUndefined();
      await expect(store.get("nope.txt")).rejects.toMatchObject({ name: "ObjectStoreError", code: "notFound" });
      await store.delete("nope.txt");
    });

    test("byte ranges: start-end, open end, and suffix", async () => {
      const store = await open();
      await store.put("range.bin", "0123456789");
      expect(await text(store, "range.bin", { range: { start: 2, end: 5 } })).toBe("2345");
      expect(await text(store, "range.bin", { range: { start: 7 } })).toBe("789");
      expect(await text(store, "range.bin", { range: { suffix: 3 } })).toBe("789");
      const ranged = await store.get("range.bin", { range: { start: 1, end: 2 } });
      expect(ranged.range).toEqual({ start: 1, end: 2, total: 10 });
      expect(ranged.size).toBe(10);
      ranged.body.destroy();
    });

    test("an empty object reads back empty, whole or with a range from its start", async () => {
      const store = await open();
      const put = await store.put("empty/zero.bin", new Uint8Array(0));
      expect(put.size).toBe(0);
      expect(await store.head("empty/zero.bin")).toMatchObject({ size: 0 });
      expect((await store.getBytes("empty/zero.bin")).byteLength).toBe(0);
      const ranged = await store.get("empty/zero.bin", { range: { start: 0, end: 8 * 1024 * 1024 - 1 } });
      expect(ranged.size).toBe(0);
      expect(ranged.range).toBeUndefined();
      const chunks: Buffer[] = [];
      for await (const chunk of ranged.body) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).byteLength).toBe(0);
      expect((await store.getBytes("empty/zero.bin", { range: { suffix: 10 } })).byteLength).toBe(0);
    });

    test("conditional writes: ifNoneMatch '*' and stale ifMatch fail with preconditionFailed", async () => {
      const store = await open();
      const first = await store.put("cas.json", '{"v":1}', { ifNoneMatch: "*" });
      await expect(store.put("cas.json", '{"v":2}', { ifNoneMatch: "*" })).rejects.toMatchObject({
        code: "preconditionFailed",
      });
      const second = await store.put("cas.json", '{"v":2}', { ifMatch: first.etag });
      await expect(store.put("cas.json", '{"v":3}', { ifMatch: first.etag })).rejects.toMatchObject({
        code: "preconditionFailed",
      });
      expect(await text(store, "cas.json")).toBe('{"v":2}');
      expect((await store.head("cas.json"))?.etag).toBe(second.etag);
    });

    test("conditional writes hold for multipart bodies too", async () => {
      const store = await open();
      const big = Buffer.alloc(11 * 1024 * 1024, 1);
      const multipart = { partSizeBytes: 5 * 1024 * 1024, multipartThresholdBytes: 5 * 1024 * 1024 };
      const first = await store.put("big-cas.bin", big, { ...multipart, ifNoneMatch: "*" });
      await expect(store.put("big-cas.bin", big, { ...multipart, ifNoneMatch: "*" })).rejects.toMatchObject({
        code: "preconditionFailed",
      });
      await store.put("big-cas.bin", "small now", { ifMatch: first.etag });
      await expect(store.put("big-cas.bin", big, { ...multipart, ifMatch: first.etag })).rejects.toMatchObject({
        code: "preconditionFailed",
      });
      expect(Buffer.from(await store.getBytes("big-cas.bin")).toString()).toBe("small now");
    });

    test("conditional reads: ifNoneMatch with the current ETag gives notModified", async () => {
      const store = await open();
      const { etag } = await store.put("cond.txt", "abc");
      await expect(store.get("cond.txt", { ifNoneMatch: etag })).rejects.toMatchObject({ code: "notModified" });
      expect(await text(store, "cond.txt", { ifNoneMatch: '"00000000000000000000000000000000"' })).toBe("abc");
    });

    test("only one of many concurrent create-if-absent writes wins", async () => {
      const store = await open();
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.put("race.txt", `writer ${i}`, { ifNoneMatch: "*" })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "preconditionFailed" });
      }
    });

    test("keys with spaces, +, %, and unicode round-trip; NFC and NFD stay distinct", async () => {
      const store = await open();
      const nfc = "photos/Caf\u00e9.jpg";
      const nfd = "photos/Cafe\u0301.jpg";
      const keys = ["a b/c d.txt", "plus+sign.txt", "100%/x.txt", "emoji/\u{1F4F7}.txt", nfc, nfd];
      for (const key of keys) await store.put(key, `body of ${key}`);
      for (const key of keys) expect(await text(store, key)).toBe(`body of ${key}`);
      const listed = (await collect(store.list())).map((e) => (e.kind === "object" ? e.key : e.prefix));
      expect(new Set(listed)).toEqual(new Set(keys));
      expect(listed).toHaveLength(keys.length);
    });

    test("invalid keys are rejected with invalidKey, naming the key", async () => {
      const store = await open();
      for (const key of ["", "/abs", "a/../b", "../escape", "a//b", "./x"]) {
        await expect(store.put(key, "x")).rejects.toMatchObject({ code: "invalidKey" });
      }
      await expect(store.put("../escape", "x")).rejects.toThrow(/\.\.\/escape/);
    });

    test("list: 2,500 keys paginate in order, with and without a delimiter; deleteMany removes them all", async () => {
      const store = await open();
      const keys = Array.from({ length: 2500 }, (_, i) => `many/${String(i % 5)}/k${String(i).padStart(5, "0")}`);
      await forEachConcurrent(keys, 16, async (key) => {
        await store.put(key, "x");
      });
      await store.put("other.txt", "not under many/");
      const flat = await collect(store.list({ prefix: "many/" }));
      expect(flat).toHaveLength(2500);
      const flatKeys = flat.map((e) => (e as Extract<ListEntry, { kind: "object" }>).key);
      expect(flatKeys).toEqual([...keys].sort());
      const grouped = await collect(store.list({ prefix: "many/", delimiter: "/" }));
      expect(grouped).toEqual(["0", "1", "2", "3", "4"].map((d) => ({ kind: "prefix", prefix: `many/${d}/` })));
      const top = await collect(store.list({ delimiter: "/" }));
      expect(top.map((e) => (e.kind === "prefix" ? e.prefix : e.key))).toEqual(["many/", "other.txt"]);
      const after = await collect(store.list({ prefix: "many/4/", startAfter: "many/4/k02494" }));
      expect(after.map((e) => (e as { key: string }).key)).toEqual(["many/4/k02499"]);

      const result = await store.deleteMany(keys);
      expect(result.errors).toEqual([]);
      expect(result.deleted).toHaveLength(2500);
      expect(await collect(store.list({ prefix: "many/" }))).toEqual([]);
      expect(await store.head("other.txt")).toBeDefined();
    });

    test("multipart: a 40 MiB stream reads back byte-identical with the multipart ETag", async () => {
      const store = await open();
      const partSizeBytes = 8 * 1024 * 1024;
      const data = randomBytes(40 * 1024 * 1024);
      const chunks = Array.from({ length: 40 }, (_, i) => data.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
      const progress: number[] = [];
      const put = await store.put("big/forty.bin", Readable.from(chunks), {
        partSizeBytes,
        multipartThresholdBytes: 16 * 1024 * 1024,
        onProgress: (p) => progress.push(p.loadedBytes),
      });
      expect(put.size).toBe(data.length);
      expect(progress.at(-1)).toBe(data.length);
      const back = Buffer.from(await store.getBytes("big/forty.bin"));
      expect(back.equals(data)).toBe(true);
      const info = await store.head("big/forty.bin");
      expect(info?.size).toBe(data.length);
      if (store.location.kind === "s3") {
        const hasher = new MultipartEtagHasher(partSizeBytes);
        hasher.update(data);
        expect(put.etag).toBe(hasher.digest());
        expect(put.partSizeBytes).toBe(partSizeBytes);
      }
      // With its length known up front, a large stream goes straight to parts (no buffering first).
      const known = await store.put("big/known.bin", Readable.from(chunks.slice(0, 20)), {
        partSizeBytes,
        contentLength: 20 * 1024 * 1024,
      });
      expect(known.size).toBe(20 * 1024 * 1024);
      if (store.location.kind === "s3") expect(known.etag).toMatch(/-3"$/);
      expect(Buffer.from(await store.getBytes("big/known.bin")).equals(data.subarray(0, 20 * 1024 * 1024))).toBe(true);
    });

    test("copy duplicates body and metadata; replaced metadata when given", async () => {
      const store = await open();
      await store.put("src.txt", "copy me", { metadata: { a: "1" }, contentType: "text/plain" });
      await store.copy("src.txt", "dst/kept.txt");
      expect(await text(store, "dst/kept.txt")).toBe("copy me");
      expect((await store.head("dst/kept.txt"))?.metadata).toEqual({ a: "1" });
      await store.copy("src.txt", "dst/replaced.txt", { metadata: { b: "2" } });
      expect((await store.head("dst/replaced.txt"))?.metadata).toEqual({ b: "2" });
    });

    test("an aborted signal stops a put and leaves no object", async () => {
      const store = await open();
      const controller = new AbortController();
      controller.abort();
      await expect(store.put("aborted.txt", "x", { signal: controller.signal })).rejects.toThrow();
      expect(await store.head("aborted.txt")).toBeUndefined();
    });
  });
}
