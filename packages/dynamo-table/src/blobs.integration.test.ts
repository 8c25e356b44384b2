import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { createDynamoDbClient, type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  startDynamoDbServer,
  startS3Server,
  testClientOptions,
  uniqueName,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTable, DynamoTableError, defineResource, type ItemOf, type Table } from "./index.ts";

const dynamo = await startDynamoDbServer();
const s3 = await startS3Server();
const client = createDynamoDbClient({ ...testClientOptions(dynamo), maxAttempts: 3 });
afterAll(() => client.destroy());

const Doc = defineResource({
  type: "BlobDoc",
  schema: z.object({
    title: z.string(),
    body: z.string().optional(),
    raw: z.instanceof(Uint8Array).optional(),
  }),
  versioned: true,
  maxVersions: 2,
  blobFields: { body: { compress: true, contentType: "text/plain" }, raw: {} },
});
const Note = defineResource({
  type: "BlobNote",
  schema: z.object({ title: z.string(), doc: z.object({ lines: z.array(z.string()) }).optional() }),
  blobFields: { doc: { maxSizeBytes: 200 } },
});

async function keys(store: ObjectStore, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of store.list({ prefix })) if (entry.kind === "object") out.push(entry.key);
  return out.sort();
}

async function rejection(promise: Promise<unknown>): Promise<DynamoTableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DynamoTableError);
  return error as DynamoTableError;
}

const stores: [string, () => Promise<ObjectStore>][] = [
  [
    "moto (s3://)",
    async () => {
      const bucket = await createTestBucket(s3, "dt-blobs");
      bucket.client.destroy();
      return openObjectStore(`${bucket.url}blobs/`, { ...testClientOptions(s3), maxAttempts: 3 });
    },
  ],
  ["file://", async () => openObjectStore(pathToFileURL(mkdtempSync(join(tmpdir(), "dt-blobs-"))).href)],
];

describe.each(stores)("blob fields on %s", (name, openStore) => {
  /**
   * moto's server drops request headers whose names hold `_` (werkzeug does, as many proxies do), so
   * `x-amz-meta-resource_type` never arrives there; S3 and MinIO keep it (simplesingletable writes these names).
   */
  const withUnderscores = (metadata: Record<string, string>) =>
    name.startsWith("moto") ? Object.fromEntries(Object.entries(metadata).filter(([k]) => !k.includes("_"))) : metadata;
  let store: ObjectStore;
  let table: Table;
  beforeAll(async () => {
    store = await openStore();
    table = createTable({ tableName: uniqueName("dt-blobs"), client, blobStore: store });
    await table.ensureTable();
  });
  afterAll(async () => {
    await store.close();
  });

  it("round-trips blob fields in simplesingletable's layout (key, metadata, _blob_fields/_blob_versions)", async () => {
    const raw = new Uint8Array([0, 1, 2, 255]);
    const doc = await table.create(Doc, { title: "t", body: "héllo ".repeat(100), raw });
    const plain = await table.getOrThrow(Doc, doc.id, { consistentRead: true });
    expect(plain).not.toHaveProperty("body");
    expect(plain.title).toBe("t");
    const loaded = await table.getOrThrow(Doc, doc.id, { consistentRead: true, loadBlobs: true });
    expect(loaded.body).toBe("héllo ".repeat(100));
    expect(loaded.raw).toEqual(raw);

    const stored = await table.getStored(Doc, doc.id, { consistentRead: true });
    expect(stored?._blob_fields).toEqual(["body", "raw"]);
    expect(stored?._blob_versions).toEqual({ body: 1, raw: 1 });
    expect(await keys(store, `BlobDoc/${doc.id}/`)).toEqual([`BlobDoc/${doc.id}/v1/body`, `BlobDoc/${doc.id}/v1/raw`]);
    const head = await store.head(`BlobDoc/${doc.id}/v1/body`);
    expect(head?.metadata).toEqual(
      withUnderscores({
        resource_type: "BlobDoc",
        resource_id: doc.id,
        field_name: "body",
        compressed: "True",
        version: "1",
      }),
    );
    const bytes = await store.getBytes(`BlobDoc/${doc.id}/v1/body`);
    expect(JSON.parse(gunzipSync(bytes).toString("utf8"))).toBe("héllo ".repeat(100));
    expect(Buffer.from(await store.getBytes(`BlobDoc/${doc.id}/v1/raw`))).toEqual(Buffer.from(raw));

    // A title change keeps pointing at v1's objects; a body change writes v3's.
    const v2 = await table.update(Doc, plain, { title: "t2" });
    expect((await table.getStored(Doc, doc.id, { consistentRead: true }))?._blob_versions).toEqual({ body: 1, raw: 1 });
    const v3 = await table.update(Doc, v2, { body: "second" });
    expect((await table.getOrThrow(Doc, doc.id, { consistentRead: true, loadBlobs: true })).body).toBe("second");
    expect((await table.getOrThrow(Doc, doc.id, { version: 2, loadBlobs: true })).body).toBe("héllo ".repeat(100));

    // ETag-guarded reads and a size limit.
    const first = await table.readBlob(Doc, v3, "body");
    expect(first.value).toBe("second");
    expect((await table.readBlob(Doc, v3, "body", { ifMatch: first.etag })).value).toBe("second");
    await store.put(`BlobDoc/${doc.id}/v3/body`, Buffer.from(JSON.stringify("replaced")), {
      metadata: { compressed: "False" },
    });
    expect((await rejection(table.readBlob(Doc, v3, "body", { ifMatch: first.etag }))).code).toBe("table.conflict");
    expect((await rejection(table.readBlob(Doc, v3, "raw", { maxBytes: 2 }))).code).toBe("table.validation");
  });

  it("pruning deletes the blobs no kept version uses (and keeps those an unchanged field points at)", async () => {
    const doc = await table.create(Doc, { title: "t", body: "A" });
    const prefix = `BlobDoc/${doc.id}/`;
    const v2 = await table.update(Doc, doc, { title: "t2" }); // body -> v1
    const v3 = await table.update(Doc, v2, { body: "B" }); // prunes v1; v2 still uses v1's body
    expect(await keys(store, prefix)).toEqual([`${prefix}v1/body`, `${prefix}v3/body`]);
    const v4 = await table.update(Doc, v3, { title: "t4" }); // prunes v2: nobody uses v1's body any more
    expect(await keys(store, prefix)).toEqual([`${prefix}v3/body`]);
    await table.update(Doc, v4, { body: "C" }); // prunes v3's item, but v4 still uses its body
    expect(await keys(store, prefix)).toEqual([`${prefix}v3/body`, `${prefix}v5/body`]);
    expect((await table.versions(Doc, doc.id)).map((d) => d.version)).toEqual([4, 5]);
    expect((await table.getOrThrow(Doc, doc.id, { version: 4, loadBlobs: true })).body).toBe("B");
  });

  it("deleting an item removes its blobs only: the prefix ends in `/` (abc never takes abcd's)", async () => {
    await table.create(Doc, { title: "a", body: "abc" }, { id: "abc" });
    await table.create(Doc, { title: "b", body: "abcd" }, { id: "abcd" });
    expect(await table.delete(Doc, "abc")).toBe(true);
    expect(await keys(store, "BlobDoc/abc")).toEqual(["BlobDoc/abcd/v1/body"]);
    expect((await table.getOrThrow(Doc, "abcd", { loadBlobs: true })).body).toBe("abcd");
  });

  it("non-versioned: the object is replaced in place, removed with the field, and checked against maxSizeBytes", async () => {
    const note = await table.create(Note, { title: "n", doc: { lines: ["a"] } });
    const key = `BlobNote/${note.id}/doc`;
    expect(await keys(store, `BlobNote/${note.id}/`)).toEqual([key]);
    expect((await store.head(key))?.metadata).toMatchObject(
      withUnderscores({ compressed: "False", field_name: "doc" }),
    );
    const n2 = await table.update(Note, note, { doc: { lines: ["a", "b"] } });
    expect((await table.getOrThrow(Note, note.id, { loadBlobs: true })).doc).toEqual({ lines: ["a", "b"] });
    const n3 = await table.update(Note, n2, { title: "only the title" });
    expect((await table.getOrThrow(Note, note.id, { loadBlobs: true })).doc).toEqual({ lines: ["a", "b"] });
    await table.update(Note, n3, { doc: undefined });
    expect(await keys(store, `BlobNote/${note.id}/`)).toEqual([]);
    expect((await table.getOrThrow(Note, note.id, { loadBlobs: true })).doc).toBeUndefined();
    const big = await rejection(table.create(Note, { title: "big", doc: { lines: ["x".repeat(300)] } }));
    expect(big.code).toBe("table.validation");
    expect(big.message).toContain("maxSizeBytes");
    expect((await rejection(table.patch(Note, note.id, { set: { doc: { lines: [] } } }))).message).toMatch(
      /blob field/,
    );
  });

  it("a transaction update of other fields keeps the blob references", async () => {
    const doc = await table.create(Doc, { title: "t", body: "kept" });
    const { result } = await table.transaction((tx) => tx.update(Doc, doc, { title: "in a transaction" }));
    expect(result.version).toBe(2);
    const got = await table.getOrThrow(Doc, doc.id, { consistentRead: true, loadBlobs: true });
    expect(got).toMatchObject({ title: "in a transaction", body: "kept" });
    await table.transaction((tx) => tx.delete(Doc, doc.id));
    expect(await keys(store, `BlobDoc/${doc.id}/`)).toEqual([]);
  });

  it("restore points the new version at the restored version's blobs", async () => {
    const doc = await table.create(Doc, { title: "t", body: "old" });
    const v2 = await table.update(Doc, doc, { body: "new" });
    const v3 = await table.restore(Doc, doc.id, 1);
    expect(v3.version).toBe(3);
    expect((await table.getStored(Doc, doc.id, { consistentRead: true }))?._blob_versions).toEqual({ body: 1 });
    expect((await table.getOrThrow(Doc, doc.id, { loadBlobs: true, consistentRead: true })).body).toBe("old");
    expect(v2.version).toBe(2);
  });
});

describe("blob fields without a blob store", () => {
  it("fail before any request, naming the option", async () => {
    const t = createTable({ tableName: uniqueName("dt-noblob"), client });
    const error = await rejection(t.create(Note, { title: "x", doc: { lines: [] } }));
    expect(error.code).toBe("table.invalidOptions");
    expect(error.message).toContain("blobStore");
    expect(() => defineResource({ type: "Bad", schema: z.object({ b: z.string() }), blobFields: { b: {} } })).toThrow(
      /must be optional/,
    );
    type DocItem = ItemOf<typeof Doc>;
    const typed: DocItem | undefined = undefined;
    expect(typed).toBeUndefined();
  });
});
