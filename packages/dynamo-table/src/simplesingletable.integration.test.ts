// Both ways with simplesingletable 19.0.0: every item this package writes must pass simplesingletable's read
// rules, transcribed below as a fixture from `models.py` (`_get_excluded_dynamodb_keys`, `from_dynamodb_item`,
// pydantic `extra="forbid"`).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoDbClient, openObjectStore } from "@toolkit/shared";
import { startDynamoDbServer, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTable, DynamoTableError, defineResource, type Table } from "./index.ts";

const server = await startDynamoDbServer();
const client = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 3 });
afterAll(() => client.destroy());

/** `BaseDynamoDbResource._get_excluded_dynamodb_keys()` without the class-specific part. */
const SST_EXCLUDED = ["pk", "sk", "gsitypesk", "gsitype", "_blob_fields", "_blob_versions", "_version_token"];
/** "Also exclude legacy GSI fields". */
const SST_LEGACY_GSI = ["gsi1pk", "gsi2pk", "gsi3pk", "gsi3sk"];

/** A simplesingletable model class, as far as reading an item goes. */
interface SstModel {
  /** `DynamoDbVersionedResource` (adds `version`) or `DynamoDbResource`. */
  versioned: boolean;
  /** `resource_config["compress_data"]`. */
  compress: boolean;
  /** Model fields besides the base ones; `true` when required (no default). */
  fields: Record<string, boolean>;
  /** The attribute names the class's `gsi_config` declares. */
  gsiConfigKeys: readonly string[];
  ttlAttribute?: string;
}

/**
 * `from_dynamodb_item` + `model_validate` with `extra="forbid"`: throws what pydantic would report, returns the
 * model data otherwise.
 */
function readLikeSimplesingletable(model: SstModel, item: Record<string, unknown>): Record<string, unknown> {
  let data: Record<string, unknown>;
  if (model.compress) {
    if (!(item.data instanceof Uint8Array)) throw new Error("KeyError: 'data'");
    data = JSON.parse(gunzipSync(item.data).toString("utf8")) as Record<string, unknown>;
  } else {
    const excluded = new Set([
      ...SST_EXCLUDED,
      ...model.gsiConfigKeys,
      ...SST_LEGACY_GSI,
      ...(model.ttlAttribute ? [model.ttlAttribute] : []),
    ]);
    data = Object.fromEntries(Object.entries(item).filter(([k]) => !excluded.has(k)));
  }
  delete data._blob_fields;
  delete data._blob_versions;
  const base = ["resource_id", "created_at", "updated_at", ...(model.versioned ? ["version"] : [])];
  const allowed = new Set([...base, ...Object.keys(model.fields)]);
  for (const key of Object.keys(data)) {
    if (!allowed.has(key)) throw new Error(`ValidationError: ${key} Extra inputs are not permitted`);
  }
  for (const key of [...base, ...Object.entries(model.fields).flatMap(([k, required]) => (required ? [k] : []))]) {
    if (data[key] === undefined) throw new Error(`ValidationError: ${key} Field required`);
  }
  for (const key of ["created_at", "updated_at"]) {
    if (typeof data[key] !== "string" || Number.isNaN(Date.parse(String(data[key])))) {
      throw new Error(`ValidationError: ${key} Input should be a valid datetime`);
    }
  }
  return data;
}

/** `create_standard_dynamodb_table`: gsi1 and gsi2 sort by `pk`, gsi3 by gsi3sk. */
async function pythonStandardTable(): Promise<Table> {
  const name = uniqueName("dt-sst-std");
  const index = (n: string, hash: string, range: string) => ({
    IndexName: n,
    KeySchema: [
      { AttributeName: hash, KeyType: "HASH" as const },
      { AttributeName: range, KeyType: "RANGE" as const },
    ],
    Projection: { ProjectionType: "ALL" as const },
  });
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      AttributeDefinitions: ["pk", "sk", "gsitype", "gsitypesk", "gsi1pk", "gsi2pk", "gsi3pk", "gsi3sk"].map((n) => ({
        AttributeName: n,
        AttributeType: "S" as const,
      })),
      GlobalSecondaryIndexes: [
        index("gsitype", "gsitype", "gsitypesk"),
        index("gsi1", "gsi1pk", "pk"),
        index("gsi2", "gsi2pk", "pk"),
        index("gsi3", "gsi3pk", "gsi3sk"),
      ],
    }),
  );
  const blobStore = openObjectStore(pathToFileURL(mkdtempSync(join(tmpdir(), "dt-sst-blobs-"))).href);
  return createTable({ tableName: name, client, blobStore });
}

/** Every stored item of one partition (latest copy and history). */
async function partition(t: Table, pk: string): Promise<Record<string, unknown>[]> {
  const out = await t.documentClient.send(
    new QueryCommand({
      TableName: t.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": pk },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

const fields = { title: z.string(), owner: z.string(), due: z.string().optional() };
const sstFields = { title: true, owner: true, due: false };

const shapes = [
  {
    label: "flat, GSI without a sort key (gsi1 sorted by pk)",
    resource: defineResource({
      type: "SstFlat",
      schema: z.object(fields),
      gsis: { byOwner: { pk: (i) => `owner#${i.owner}` } },
    }),
    model: { versioned: false, compress: false, fields: sstFields, gsiConfigKeys: ["gsi1pk"] },
    indexAttributes: ["gsi1pk"],
  },
  {
    label: "flat, GSI with a sort key (gsi3)",
    resource: defineResource({
      type: "SstFlatSk",
      schema: z.object(fields),
      gsis: { byDue: { pk: (i) => `owner#${i.owner}`, sk: (i) => i.due, index: 3 } },
    }),
    model: { versioned: false, compress: false, fields: sstFields, gsiConfigKeys: ["gsi3pk", "gsi3sk"] },
    indexAttributes: ["gsi3pk", "gsi3sk"],
  },
  {
    label: "gzip, non-versioned, GSI without a sort key (gsi2)",
    resource: defineResource({
      type: "SstGzip",
      schema: z.object(fields),
      compress: true,
      gsis: { byOwner: { pk: (i) => `owner#${i.owner}`, index: 2 } },
    }),
    model: { versioned: false, compress: true, fields: sstFields, gsiConfigKeys: ["gsi2pk"] },
    indexAttributes: ["gsi2pk"],
  },
  {
    label: "versioned (gzip), GSIs with and without a sort key",
    resource: defineResource({
      type: "SstVersioned",
      schema: z.object(fields),
      versioned: true,
      maxVersions: 5,
      gsis: {
        byOwner: { pk: (i) => `owner#${i.owner}` },
        byDue: { pk: (i) => `owner#${i.owner}`, sk: (i) => i.due, index: 3 },
      },
    }),
    model: { versioned: true, compress: true, fields: sstFields, gsiConfigKeys: ["gsi1pk", "gsi3pk", "gsi3sk"] },
    indexAttributes: ["gsi1pk", "gsi3pk", "gsi3sk"],
  },
  {
    label: "versioned, flat (compress: false)",
    resource: defineResource({
      type: "SstVersionedFlat",
      schema: z.object(fields),
      versioned: true,
      compress: false,
      gsis: { byOwner: { pk: (i) => `owner#${i.owner}` } },
    }),
    model: { versioned: true, compress: false, fields: sstFields, gsiConfigKeys: ["gsi1pk"] },
    indexAttributes: ["gsi1pk"],
  },
  {
    label: "versioned (gzip) with a blob field",
    resource: defineResource({
      type: "SstBlobDoc",
      schema: z.object({ ...fields, body: z.string().optional() }),
      versioned: true,
      blobFields: { body: { compress: true } },
      gsis: { byOwner: { pk: (i) => `owner#${i.owner}` } },
    }),
    model: { versioned: true, compress: true, fields: { ...sstFields, body: false }, gsiConfigKeys: ["gsi1pk"] },
    indexAttributes: ["gsi1pk"],
    createExtra: { body: "kept in the blob store" },
  },
  {
    label: "flat with a blob field",
    resource: defineResource({
      type: "SstBlobFlat",
      schema: z.object({ ...fields, body: z.string().optional() }),
      blobFields: { body: {} },
      gsis: { byOwner: { pk: (i) => `owner#${i.owner}` } },
    }),
    model: { versioned: false, compress: false, fields: { ...sstFields, body: false }, gsiConfigKeys: ["gsi1pk"] },
    indexAttributes: ["gsi1pk"],
    createExtra: { body: "kept in the blob store" },
  },
] as const;

let pyTable: Table;
beforeAll(async () => {
  pyTable = await pythonStandardTable();
});

describe("simplesingletable reads what dynamo-table writes", () => {
  for (const shape of shapes) {
    it(`${shape.label}: created and updated items pass its read rules`, async () => {
      const resource = shape.resource as never as (typeof shapes)[0]["resource"];
      const extra = "createExtra" in shape ? shape.createExtra : {};
      const created = await pyTable.create(resource, { title: "a", owner: "u1", due: "2026-12-01", ...extra });
      const updated = await pyTable.update(resource, created, { title: "b" });
      await pyTable.update(resource, updated, { title: "c", due: undefined });
      const stored = await partition(pyTable, `${resource.type}#${created.id}`);
      expect(stored.length).toBe(shape.model.versioned ? 4 : 1);
      for (const item of stored) {
        const data = readLikeSimplesingletable(shape.model, item);
        expect(data.resource_id).toBe(created.id);
        // Index attributes only on the latest copy, and only those simplesingletable would write.
        const latest = item.sk === "v0" || !shape.model.versioned;
        const indexAttrs = Object.keys(item)
          .filter((k) => /^gsi/.test(k))
          .sort();
        const expected = latest
          ? ["gsitype", "gsitypesk", ...shape.indexAttributes].filter(
              (a) => a !== "gsi3sk" || item.gsi3sk !== undefined,
            )
          : [];
        expect(indexAttrs).toEqual([...expected].sort());
        if (shape.model.compress) {
          // Only what Python writes beside `data`.
          expect(item).not.toHaveProperty("updated_at");
        }
        if ("createExtra" in shape) {
          // The blob is not in the item: `_blob_fields` lists the field, `_blob_versions` where it lives.
          expect(data).not.toHaveProperty("body");
          expect(item._blob_fields).toEqual(["body"]);
          if (shape.model.versioned) expect(item._blob_versions).toEqual({ body: 1 });
          else expect(item).not.toHaveProperty("_blob_versions");
        }
      }
      // The item is still found through its GSI on Python's table (the index keys it needs are there).
      const gsi = Object.keys(resource.gsis)[0]!;
      const page = await pyTable.query(resource, gsi as never, { pk: "owner#u1" });
      expect(page.items.map((i) => i.id)).toContain(created.id);
    });
  }

  it("the fixture rejects what simplesingletable rejects (the rules can fail)", () => {
    const model = shapes[0].model;
    const item = { pk: "SstFlat#1", sk: "SstFlat#1", resource_id: "1", created_at: "2026-01-01T00:00:00Z" };
    const ok = { ...item, updated_at: "2026-01-01T00:00:00Z", title: "t", owner: "o" };
    expect(readLikeSimplesingletable(model, ok)).toMatchObject({ title: "t" });
    expect(() => readLikeSimplesingletable(model, { ...ok, gsi2sk: "SstFlat#1" })).toThrow(
      "gsi2sk Extra inputs are not permitted",
    );
    expect(() => readLikeSimplesingletable(model, { ...ok, gsi1sk: "x" })).toThrow(/gsi1sk Extra/);
    expect(() => readLikeSimplesingletable(model, item)).toThrow(/updated_at Field required/);
  });

  it("without the fix a gsi1 item on Python's table would carry gsi1sk (this package's own table keeps it)", async () => {
    const own = createTable({ tableName: uniqueName("dt-sst-own"), client });
    await own.ensureTable();
    const shape = shapes[0];
    const created = await own.create(shape.resource, { title: "a", owner: "u1" });
    const [item] = await partition(own, `SstFlat#${created.id}`);
    // On this package's layout gsi1 sorts by gsi1sk, so it is written (= pk, the default sort key).
    expect(item).toMatchObject({ gsi1pk: "owner#u1", gsi1sk: `SstFlat#${created.id}` });
  });
});

describe("simplesingletable reads dynamo-table's audit log and stats", () => {
  it("audit items pass the AuditLog model's read rules on its standard table", async () => {
    const Audited = defineResource({
      type: "SstAudited",
      schema: z.object(fields),
      audit: { includeSnapshot: true },
      stats: true,
    });
    const created = await pyTable.create(Audited, { title: "a", owner: "u1" }, { changedBy: "alice" });
    const updated = await pyTable.update(Audited, created, { title: "b" });
    await pyTable.delete(Audited, updated.id, { changedBy: "bob" });
    const out = await pyTable.documentClient.send(
      new QueryCommand({
        TableName: pyTable.tableName,
        IndexName: "gsi2",
        KeyConditionExpression: "gsi2pk = :p",
        ExpressionAttributeValues: { ":p": "_INTERNAL#AuditLog#SstAudited" },
      }),
    );
    const auditModel: SstModel = {
      versioned: false,
      compress: false,
      fields: {
        audited_resource_type: true,
        audited_resource_id: true,
        operation: true,
        changed_by: false,
        changed_fields: false,
        resource_snapshot: false,
        audit_metadata: false,
      },
      gsiConfigKeys: ["gsi1pk", "gsi2pk"],
    };
    const entries = (out.Items ?? []).map((item) => readLikeSimplesingletable(auditModel, item));
    expect(entries.map((e) => e.operation)).toEqual(["CREATE", "UPDATE", "DELETE"]);
    expect(entries.map((e) => e.changed_by)).toEqual(["alice", null, "bob"]);
    // On Python's table gsi1/gsi2 sort by `pk`: no gsi1sk/gsi2sk on the entries.
    for (const item of out.Items ?? []) {
      expect(item).not.toHaveProperty("gsi1sk");
      expect(item).not.toHaveProperty("gsi2sk");
      expect(String(item.pk)).toMatch(/^_INTERNAL#AuditLog#[0-9A-HJKMNP-TV-Z]{26}$/);
    }
    const stats = await pyTable.getStored(defineResource({ type: "_INTERNAL", schema: z.object({}) }), "MemoryStats", {
      consistentRead: true,
    });
    expect(stats).toMatchObject({ pk: "_INTERNAL#MemoryStats", counts_by_type: { SstAudited: 0 } });
    expect(
      readLikeSimplesingletable(
        { versioned: false, compress: false, fields: { counts_by_type: false }, gsiConfigKeys: [] },
        stats!,
      ),
    ).toMatchObject({ resource_id: "MemoryStats" });
  });
});

describe("dynamo-table updates what simplesingletable wrote", () => {
  const Memo = defineResource({ type: "SstMemo", schema: z.object({ text: z.string() }), compress: true });
  const memoModel: SstModel = { versioned: false, compress: true, fields: { text: true }, gsiConfigKeys: [] };
  /** A non-versioned gzip item exactly as simplesingletable 19 writes it: no top-level `updated_at`. */
  const pythonMemo = (id: string, text: string, updated: string) => ({
    pk: `SstMemo#${id}`,
    sk: `SstMemo#${id}`,
    data: gzipSync(
      JSON.stringify({ resource_id: id, created_at: "2026-11-23T17:06:44.373854Z", updated_at: `${updated}Z`, text }),
    ),
    gsitype: "SstMemo",
    gsitypesk: `${updated}+00:00`,
  });

  it("the first update of a Python-written gzip item needs no force and stays conditional", async () => {
    const id = "01JPYTHONMEMO00000000000001";
    await pyTable.documentClient.send(
      new PutCommand({ TableName: pyTable.tableName, Item: pythonMemo(id, "py", "2026-11-23T17:06:45.123456") }),
    );
    const memo = await pyTable.getOrThrow(Memo, id);
    expect(memo.updatedAt).toBe("2026-11-23T17:06:45.123456Z");
    const m2 = await pyTable.update(Memo, memo, { text: "ts" });
    expect((await pyTable.getOrThrow(Memo, id, { consistentRead: true })).text).toBe("ts");
    // Stale copy: conflicts.
    const stale = await pyTable.update(Memo, memo, { text: "stale" }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(DynamoTableError);
    expect((stale as DynamoTableError).code).toBe("table.conflict");
    // Python reads what we wrote.
    const [raw] = await partition(pyTable, `SstMemo#${id}`);
    expect(readLikeSimplesingletable(memoModel, raw!)).toMatchObject({ text: "ts", resource_id: id });
    expect(raw).not.toHaveProperty("updated_at");

    // A Python writer replaces the item between our read and our write: our write conflicts.
    const ours = await pyTable.getOrThrow(Memo, id, { consistentRead: true });
    expect(ours).toEqual(m2);
    await pyTable.documentClient.send(
      new PutCommand({ TableName: pyTable.tableName, Item: pythonMemo(id, "python again", "2026-11-24T08:00:00") }),
    );
    const lost = await pyTable.update(Memo, ours, { text: "late" }).catch((e: unknown) => e);
    expect((lost as DynamoTableError).code).toBe("table.conflict");
    expect((await pyTable.getOrThrow(Memo, id, { consistentRead: true })).text).toBe("python again");
  });
});
