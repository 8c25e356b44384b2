import { createHmac, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoDbClient } from "@toolkit/shared";
import { startDynamoDbServer, startFaultProxy, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createRepository,
  createTable,
  DynamoTableError,
  defineResource,
  defineSingleton,
  defineUntypedResource,
  type FilterBuilder,
  type ItemOf,
  isDynamoTableError,
  type Table,
} from "./index.ts";

const server = await startDynamoDbServer();
const client = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 3 });

async function freshTable(tag: string): Promise<Table> {
  const table = createTable({ tableName: uniqueName(tag), client });
  await table.ensureTable();
  return table;
}

const noteSchema = z.object({
  title: z.string(),
  ownerId: z.string().optional(),
  status: z.enum(["open", "done"]),
});
const Note = defineResource({
  type: "Note",
  schema: noteSchema,
  versioned: true,
  maxVersions: 20,
  gsis: {
    byOwner: { pk: (n) => (n.ownerId ? `owner#${n.ownerId}` : undefined), sk: (n) => n.updatedAt },
  },
});
const Tag = defineResource({
  type: "Tag",
  schema: z.object({ name: z.string(), status: z.string(), n: z.number().int(), blob: z.string().optional() }),
});

async function expectCode(promise: Promise<unknown>, code: DynamoTableError["code"]): Promise<DynamoTableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DynamoTableError);
  expect((error as DynamoTableError).code).toBe(code);
  return error as DynamoTableError;
}

/** Record every DynamoDB operation a client sends (its `X-Amz-Target`) and the JSON body, per attempt. */
function recordOperations(c: ReturnType<typeof createDynamoDbClient>): { ops: string[]; bodies: unknown[] } {
  const log = { ops: [] as string[], bodies: [] as unknown[] };
  c.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const header = Object.entries(request.headers ?? {}).find(([k]) => k.toLowerCase() === "x-amz-target");
      if (header) {
        log.ops.push(header[1].split(".").pop()!);
        const body = request.body;
        const text =
          typeof body === "string" ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : "null";
        log.bodies.push(JSON.parse(text));
      }
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "recordOperations" },
  );
  return log;
}

let table: Table;
beforeAll(async () => {
  table = await freshTable("dt-main");
});

afterAll(() => {
  client.destroy();
});

describe("CRUD", () => {
  it("creates, reads, updates and deletes a versioned resource", async () => {
    const note = await table.create(Note, { title: "a", ownerId: "u1", status: "open" });
    expect(note.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(note.version).toBe(1);
    expect(note.createdAt).toBe(note.updatedAt);
    expect(await table.get(Note, note.id)).toEqual(note);

    const v2 = await table.update(Note, note, { status: "done" });
    expect(v2).toMatchObject({ id: note.id, version: 2, status: "done", title: "a", createdAt: note.createdAt });
    expect(Date.parse(v2.updatedAt)).toBeGreaterThan(Date.parse(note.updatedAt));
    expect(await table.get(Note, note.id)).toEqual(v2);
    expect(await table.get(Note, note.id, { version: 1 })).toEqual(note);

    expect(await table.delete(Note, note.id)).toBe(true);
    expect(await table.get(Note, note.id)).toBeUndefined();
    expect(await table.get(Note, note.id, { version: 1 })).toBeUndefined();
    expect(await table.delete(Note, note.id)).toBe(false);
    const err = await expectCode(table.getOrThrow(Note, note.id), "table.notFound");
    expect(err.message).toContain(note.id);
  });

  it("creates, reads, updates and deletes a non-versioned resource with optimistic updatedAt", async () => {
    const tag = await table.create(Tag, { name: "n", status: "s", n: 1 });
    expect(tag).not.toHaveProperty("version");
    expect(await table.get(Tag, tag.id, { consistentRead: true })).toEqual(tag);
    const t2 = await table.update(Tag, tag, { n: 2, blob: "x" });
    expect(await table.get(Tag, tag.id)).toEqual(t2);
    // A stale copy cannot overwrite, unless forced.
    const stale = await expectCode(table.update(Tag, tag, { n: 3 }), "table.conflict");
    expect(stale.message).toContain(t2.updatedAt);
    const forced = await table.update(Tag, tag, { n: 4 }, { force: true });
    expect((await table.getOrThrow(Tag, tag.id)).n).toBe(forced.n);
    // Removing an optional field by setting it to undefined.
    const t5 = await table.update(Tag, forced, { blob: undefined });
    expect(await table.get(Tag, tag.id)).toEqual(t5);
    expect((await table.get(Tag, tag.id))?.blob).toBeUndefined();
    expect(await table.delete(Tag, tag.id)).toBe(true);
    await expectCode(table.update(Tag, t5, { n: 9 }), "table.notFound");
  });

  it("validates on write, naming the field and the resource", async () => {
    const err = await expectCode(table.create(Note, { title: "a", status: "closed" as "open" }), "table.validation");
    expect(err.message).toContain("Note");
    expect(err.message).toContain("status");
    await expectCode(table.create(Note, { title: "a", status: "open" }, { id: "" }), "table.invalidOptions");
  });

  it("validates on read", async () => {
    await table.documentClient.send(
      new (await import("@aws-sdk/lib-dynamodb")).PutCommand({
        TableName: table.tableName,
        Item: {
          pk: "Tag#bad",
          sk: "Tag#bad",
          resource_id: "bad",
          created_at: "2026-01-01T00:00:00Z",
          updated_at: "2026-01-01T00:00:00Z",
          name: "x",
          status: "s",
          n: "not a number",
        },
      }),
    );
    const err = await expectCode(table.get(Tag, "bad"), "table.corruptItem");
    expect(err.message).toMatch(/Tag: invalid field `n`/);
    expect(err.message).toContain("pk=Tag#bad sk=Tag#bad");
    expect(err.key).toEqual({ pk: "Tag#bad", sk: "Tag#bad" });
  });

  it("fails a listing on a corrupt item with its key, or skips and reports it with skipInvalid", async () => {
    const own = await freshTable("dt-corrupt");
    const Card = defineResource({ type: "Card", schema: z.object({ n: z.number().int() }), versioned: true });
    const Chip = defineResource({ type: "Chip", schema: z.object({ n: z.number().int() }) });
    const { PutCommand } = await import("@aws-sdk/lib-dynamodb");
    for (let i = 0; i < 5; i++) await own.create(Card, { n: i }, { id: `c${i}` });
    for (let i = 0; i < 3; i++) await own.create(Chip, { n: i }, { id: `h${i}` });
    // A latest copy whose `data` is not gzip, and a flat item failing its schema.
    const raw = (await own.getStored(Card, "c2"))!;
    await own.documentClient.send(
      new PutCommand({ TableName: own.tableName, Item: { ...raw, data: Buffer.from("not gzip") } }),
    );
    const chip = (await own.getStored(Chip, "h1"))!;
    await own.documentClient.send(new PutCommand({ TableName: own.tableName, Item: { ...chip, n: "one" } }));

    const failed = await expectCode(own.list(Card), "table.corruptItem");
    expect(failed.key).toEqual({ pk: "Card#c2", sk: "v0" });
    expect(failed.message).toContain("not gzip JSON");
    await expectCode(own.get(Card, "c2"), "table.corruptItem");
    expect((await own.get(Card, "c3"))?.n).toBe(3);

    const page = await own.list(Card, { skipInvalid: true });
    expect(page.items.map((c) => c.n)).toEqual([0, 1, 3, 4]);
    expect(page.invalid).toEqual([{ pk: "Card#c2", sk: "v0", message: expect.stringContaining("pk=Card#c2") }]);

    // Pages of 2 with a skipped item inside: every good item once, the bad one reported once.
    const seen: number[] = [];
    const reported: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await own.list(Card, { limit: 2, skipInvalid: true, ...(cursor ? { cursor } : {}) });
      seen.push(...p.items.map((c) => c.n));
      reported.push(...(p.invalid ?? []).map((x) => x.pk));
      cursor = p.cursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 3, 4]);
    expect(reported).toEqual(["Card#c2"]);

    const iterated: number[] = [];
    const onInvalid: string[] = [];
    for await (const c of own.iterate(Chip, { onInvalid: (x) => onInvalid.push(`${x.pk} ${x.message}`) }))
      iterated.push(c.n);
    expect(iterated).toEqual([0, 2]);
    expect(onInvalid).toHaveLength(1);
    expect(onInvalid[0]).toMatch(/^Chip#h1 .*invalid field `n`/);
    const chips = own.iterate(Chip);
    await expect(
      (async () => {
        for await (const _ of chips) {
        }
      })(),
    ).rejects.toMatchObject({ code: "table.corruptItem", key: { pk: "Chip#h1", sk: "Chip#h1" } });
  });

  it("refuses a second create with the same id", async () => {
    const a = await table.create(Note, { title: "a", status: "open" }, { id: "fixed-id" });
    const err = await expectCode(
      table.create(Note, { title: "b", status: "open" }, { id: "fixed-id" }),
      "table.alreadyExists",
    );
    expect(err.message).toContain("fixed-id");
    expect(await table.get(Note, "fixed-id")).toEqual(a);
  });

  it("rejects an item over 400 KB before sending it", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const proxied = createTable({
        tableName: table.tableName,
        client: createDynamoDbClient(testClientOptions(server, proxy.endpoint)),
      });
      const err = await expectCode(
        proxied.create(Tag, { name: "big", status: "s", n: 1, blob: "x".repeat(500 * 1024) }),
        "table.itemTooLarge",
      );
      expect(err.message).toContain("400 KB");
      expect(proxy.requests).toHaveLength(0);
    } finally {
      await proxy.stop();
    }
  });

  it("rejects with the signal's reason when aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop now"));
    await expect(table.get(Note, "x", { signal: controller.signal })).rejects.toThrow("stop now");
  });
});

describe("versions", () => {
  it("lists 12 versions in numeric order and restores one", async () => {
    let note = await table.create(Note, { title: "t1", status: "open" });
    for (let i = 2; i <= 12; i++) note = await table.update(Note, note, { title: `t${i}` });
    const versions = await table.versions(Note, note.id);
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(versions.map((v) => v.title)).toEqual(Array.from({ length: 12 }, (_, i) => `t${i + 1}`));
    expect((await table.getOrThrow(Note, note.id, { version: 10 })).title).toBe("t10");

    const restored = await table.restore(Note, note.id, 3);
    expect(restored).toMatchObject({ version: 13, title: "t3", id: note.id, createdAt: note.createdAt });
    expect(await table.get(Note, note.id)).toEqual(restored);
    await expectCode(table.restore(Note, note.id, 99), "table.notFound");
  });

  it("prunes beyond maxVersions, numerically, across several Query pages", async () => {
    const t = await freshTable("dt-prune");
    const Big = defineResource({
      type: "Big",
      schema: z.object({ payload: z.string() }),
      versioned: true,
    });
    // ~300 KB of base64 per version: ~225 KB gzip, so 11 versions are > 2 MB: several 1 MB Query pages.
    const payload = () => randomBytes(225 * 1024).toString("base64");
    let item = await t.create(Big, { payload: payload() });
    for (let i = 0; i < 10; i++) item = await t.update(Big, item, { payload: payload() });
    const first = await t.documentClient.send(
      new QueryCommand({
        TableName: t.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": `Big#${item.id}` },
      }),
    );
    expect(first.LastEvaluatedKey).toBeDefined();

    // The same type with a version limit: the next write prunes everything but the newest 3.
    const Pruned = defineResource({
      type: "Big",
      schema: z.object({ payload: z.string() }),
      versioned: true,
      maxVersions: 3,
    });
    const latest = await t.update(Pruned, item, { payload: "small" });
    expect(latest.version).toBe(12);
    const left = await t.versions(Pruned, item.id);
    expect(left.map((v) => v.version)).toEqual([10, 11, 12]);
    expect((await t.get(Pruned, item.id))?.payload).toBe("small");
  });

  it("lets exactly one of two concurrent updates from the same version win", async () => {
    const note = await table.create(Note, { title: "race", status: "open" });
    const results = await Promise.allSettled([
      table.update(Note, note, { title: "left" }),
      table.update(Note, note, { title: "right" }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const error = (lost[0] as PromiseRejectedResult).reason as DynamoTableError;
    expect(isDynamoTableError(error, "table.versionConflict")).toBe(true);
    expect(error.message).toContain("version 1");
    expect(error.message).toContain("version 2");
    const latest = await table.getOrThrow(Note, note.id);
    expect(latest.version).toBe(2);
    expect(latest.title).toBe((won[0] as PromiseFulfilledResult<typeof note>).value.title);
    expect((await table.versions(Note, note.id)).map((v) => v.version)).toEqual([1, 2]);
  });

  it("lets exactly one of two concurrent non-versioned updates win", async () => {
    const tag = await table.create(Tag, { name: "race", status: "s", n: 0 });
    const results = await Promise.allSettled([table.update(Tag, tag, { n: 1 }), table.update(Tag, tag, { n: 2 })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(isDynamoTableError(lost.reason, "table.conflict")).toBe(true);
  });
});

describe("requests", () => {
  it("writes a versioned create or update as one conditional TransactWriteItems, with no pre-read", async () => {
    const c = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 1 });
    const log = recordOperations(c);
    try {
      const t = createTable({ tableName: table.tableName, client: c });
      const note = await t.create(Note, { title: "req", status: "open" });
      expect(log.ops).toEqual(["TransactWriteItems"]);
      type Put = { Item: { sk: { S: string } }; ConditionExpression: string; ExpressionAttributeValues?: unknown };
      const puts = (i: number) => (log.bodies[i] as { TransactItems: { Put: Put }[] }).TransactItems.map((x) => x.Put);
      expect(puts(0).map((p) => [p.Item.sk.S, p.ConditionExpression])).toEqual([
        ["v1", "attribute_not_exists(pk)"],
        ["v0", "attribute_not_exists(pk)"],
      ]);
      await t.update(Note, note, { status: "done" });
      expect(log.ops).toEqual(["TransactWriteItems", "TransactWriteItems"]);
      expect(puts(1).map((p) => [p.Item.sk.S, p.ConditionExpression])).toEqual([
        ["v2", "attribute_not_exists(pk)"],
        ["v0", "#version = :prev"],
      ]);
      expect(puts(1)[1]!.ExpressionAttributeValues).toEqual({ ":prev": { N: "1" } });

      // Non-versioned: one conditional PutItem each, on updated_at unless forced.
      log.ops.length = 0;
      log.bodies.length = 0;
      const tag = await t.create(Tag, { name: "req", status: "s", n: 1 });
      const t2 = await t.update(Tag, tag, { n: 2 });
      await t.update(Tag, t2, { n: 3 }, { force: true });
      expect(log.ops).toEqual(["PutItem", "PutItem", "PutItem"]);
      const conditions = log.bodies.map((b) => {
        const body = b as { ConditionExpression: string; ExpressionAttributeValues?: Record<string, { S?: string }> };
        return [body.ConditionExpression, body.ExpressionAttributeValues?.[":prev"]?.S];
      });
      expect(conditions).toEqual([
        ["attribute_not_exists(pk)", undefined],
        ["attribute_exists(pk) AND #updated = :prev", tag.updatedAt],
        ["attribute_exists(pk)", undefined],
      ]);
    } finally {
      c.destroy();
    }
  });
});

describe("lost responses", () => {
  it("reports success when the SDK retries a write whose first attempt landed", async () => {
    // The proxy forwards each write, then cuts the response mid-body: the SDK retries the same request.
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [{ match: (r) => r.method === "POST", times: 1, action: { type: "resetMidBody" } }],
    });
    const proxiedClient = createDynamoDbClient({ ...testClientOptions(server, proxy.endpoint), maxAttempts: 3 });
    try {
      const t = createTable({ tableName: table.tableName, client: proxiedClient });
      const tag = await t.create(Tag, { name: "lost", status: "s", n: 1 });
      expect(await table.get(Tag, tag.id, { consistentRead: true })).toEqual(tag);
      proxy.setFaults([{ match: (r) => r.method === "POST", times: 1, action: { type: "resetMidBody" } }]);
      const t2 = await t.update(Tag, tag, { n: 2 });
      expect(await table.get(Tag, tag.id, { consistentRead: true })).toEqual(t2);
      const note = await t.create(Note, { title: "lost", status: "open" });
      proxy.setFaults([{ match: (r) => r.method === "POST", times: 1, action: { type: "resetMidBody" } }]);
      const n2 = await t.update(Note, note, { title: "found" });
      expect(n2.version).toBe(2);
      expect((await table.versions(Note, note.id)).map((v) => v.title)).toEqual(["lost", "found"]);
      expect(proxy.requests.filter((r) => r.fault === "resetMidBody")).toHaveLength(3);
    } finally {
      proxiedClient.destroy();
      await proxy.stop();
    }
  });
});

describe("transactions", () => {
  it("commits creates, updates, deletes and checks together", async () => {
    const a = await table.create(Note, { title: "a", status: "open" });
    const b = await table.create(Tag, { name: "b", status: "s", n: 1 });
    const c = await table.create(Note, { title: "c", status: "open" });
    let created: { id: string } | undefined;
    const result = await table.transaction((tx) => {
      created = tx.create(Note, { title: "new", status: "open" });
      tx.update(Note, a, { status: "done" });
      tx.delete(Tag, b.id);
      tx.check(Note, c.id, { version: 1 });
    });
    expect(result.items).toHaveLength(2);
    const typed = await table.transaction((tx) => ({ made: tx.create(Tag, { name: "t", status: "s", n: 7 }) }));
    expect(typed.result.made.n).toBe(7);
    expect(await table.get(Tag, typed.result.made.id, { consistentRead: true })).toEqual(typed.result.made);
    expect(await table.get(Note, created!.id)).toMatchObject({ title: "new", version: 1 });
    expect(await table.get(Note, a.id)).toMatchObject({ status: "done", version: 2 });
    expect(await table.get(Tag, b.id)).toBeUndefined();
  });

  it("changes nothing when one action fails", async () => {
    const a = await table.create(Note, { title: "a", status: "open" });
    const a2 = await table.update(Note, a, { title: "a2" });
    const b = await table.create(Tag, { name: "b", status: "s", n: 1 });
    let createdId = "";
    const error = await expectCode(
      table.transaction((tx) => {
        createdId = tx.create(Note, { title: "never", status: "open" }).id;
        tx.update(Tag, b, { n: 2 });
        tx.update(Note, a, { title: "stale" }); // based on version 1; 2 is stored
      }),
      "table.versionConflict",
    );
    expect(error.message).toContain("version 1");
    expect(error.message).toContain("version 2");
    expect(await table.get(Note, createdId)).toBeUndefined();
    expect(await table.get(Tag, b.id)).toEqual(b);
    expect(await table.get(Note, a.id)).toEqual(a2);
    expect((await table.versions(Note, a.id)).map((v) => v.version)).toEqual([1, 2]);
  });

  it("deletes a versioned item with its history, and only from the expected version", async () => {
    let note = await table.create(Note, { title: "tx-del", status: "open" });
    const v1 = note;
    note = await table.update(Note, note, { title: "tx-del 2" });
    note = await table.update(Note, note, { title: "tx-del 3" });
    const stale = await expectCode(
      table.transaction((tx) => tx.delete(Note, note.id, { version: v1.version })),
      "table.versionConflict",
    );
    expect(stale.message).toContain("delete expected version 1, but version 3 is stored");
    expect((await table.versions(Note, note.id)).map((v) => v.version)).toEqual([1, 2, 3]);

    await table.transaction((tx) => tx.delete(Note, note.id, { version: 3 }));
    expect(await table.get(Note, note.id)).toBeUndefined();
    const raw = await table.documentClient.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": `Note#${note.id}` },
        ConsistentRead: true,
      }),
    );
    expect(raw.Items).toEqual([]);
  });

  it("fails a check on a missing item", async () => {
    await expectCode(
      table.transaction((tx) => {
        tx.create(Tag, { name: "x", status: "s", n: 1 });
        tx.check(Note, "does-not-exist");
      }),
      "table.notFound",
    );
  });

  it("refuses 101 actions before sending any request", async () => {
    const proxy = await startFaultProxy({ target: server.endpoint });
    try {
      const proxied = createTable({
        tableName: table.tableName,
        client: createDynamoDbClient(testClientOptions(server, proxy.endpoint)),
      });
      const error = await expectCode(
        proxied.transaction((tx) => {
          for (let i = 0; i < 101; i++) tx.create(Tag, { name: `t${i}`, status: "s", n: i });
        }),
        "table.transactionTooLarge",
      );
      expect(error.message).toContain("101");
      expect(proxy.requests).toHaveLength(0);
    } finally {
      await proxy.stop();
    }
  });
});

describe("listing, GSIs and filters", () => {
  it("keeps items without a GSI key out of the index (sparse)", async () => {
    const t = await freshTable("dt-gsi");
    const owned = await t.create(Note, { title: "o1", ownerId: "u1", status: "open" });
    const owned2 = await t.create(Note, { title: "o2", ownerId: "u1", status: "done" });
    await t.create(Note, { title: "none", status: "open" });
    await t.create(Note, { title: "other", ownerId: "u2", status: "open" });
    const page = await t.query(Note, "byOwner", { pk: "owner#u1" });
    expect(page.items.map((n) => n.id)).toEqual([owned.id, owned2.id]);
    expect(page.cursor).toBeUndefined();
    const raw = await t.documentClient.send(
      new QueryCommand({
        TableName: t.tableName,
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": "owner#u1" },
      }),
    );
    expect(raw.Items).toHaveLength(2); // history copies are not in the index
    const prefix = owned2.updatedAt.slice(0, 4);
    const filtered = await t.query(Note, "byOwner", {
      pk: "owner#u1",
      sk: { beginsWith: prefix },
      where: (f) => f.eq("status", "done"),
      order: "desc",
    });
    expect(filtered.items.map((n) => n.title)).toEqual(["o2"]);
    // Dropping the owner takes the item out of the index.
    await t.update(Note, owned, { ownerId: undefined });
    expect((await t.query(Note, "byOwner", { pk: "owner#u1" })).items.map((n) => n.id)).toEqual([owned2.id]);
    await expectCode(t.query(Note, "nope" as "byOwner", { pk: "x" }), "table.invalidOptions");
  });

  it("pages a GSI query with cursors, in both orders, and refuses a cursor of another query", async () => {
    const t = await freshTable("dt-gsi-page");
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await t.create(Note, { title: `q${i}`, ownerId: "u3", status: "open" })).id);
    await t.create(Note, { title: "elsewhere", ownerId: "u4", status: "open" });
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await t.query(Note, "byOwner", { pk: "owner#u3", limit: 3, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((n) => n.id));
      cursor = page.cursor;
    } while (cursor && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    // Two creates in one millisecond share a sort key, so compare as sets (ULIDs sort like `made`).
    expect([...pages.flat()].sort()).toEqual(made);
    const first = await t.query(Note, "byOwner", { pk: "owner#u3", limit: 4, order: "desc" });
    const rest = await t.query(Note, "byOwner", { pk: "owner#u3", limit: 4, order: "desc", cursor: first.cursor });
    expect(rest.cursor).toBeUndefined();
    const desc = [...first.items, ...rest.items];
    expect(desc.map((n) => n.id).sort()).toEqual(made);
    const stamps = desc.map((n) => n.updatedAt);
    expect(stamps).toEqual([...stamps].sort().reverse());
    await expectCode(t.query(Note, "byOwner", { pk: "owner#u4", cursor: first.cursor }), "table.invalidCursor");
    await expectCode(t.list(Note, { limit: 4, order: "desc", cursor: first.cursor }), "table.invalidCursor");
  });

  it("filters on reserved words (status, name) for flat and compressed items", async () => {
    const t = await freshTable("dt-filter");
    const Packed = defineResource({
      type: "Packed",
      schema: z.object({ name: z.string(), status: z.string(), size: z.number() }),
      compress: true,
    });
    for (let i = 0; i < 6; i++) {
      await t.create(Tag, { name: `n${i % 2}`, status: i % 3 === 0 ? "open" : "closed", n: i });
      await t.create(Packed, { name: `n${i % 2}`, status: i % 3 === 0 ? "open" : "closed", size: i });
    }
    const flat = await t.list(Tag, { where: (f) => f.and(f.eq("status", "open"), f.eq("name", "n0")) });
    expect(flat.items.map((x) => x.n)).toEqual([0]);
    const packed = await t.list(Packed, { where: (f) => f.or(f.eq("status", "open"), f.gte("size", 5)) });
    expect(packed.items.map((x) => x.size).sort()).toEqual([0, 3, 5]);
    const none = await t.list(Packed, { where: (f) => f.in("name", ["zzz"]) });
    expect(none.items).toEqual([]);
  });

  async function pageThrough<T extends { id: string }>(
    list: (cursor: string | undefined) => Promise<{ items: T[]; cursor?: string }>,
  ): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list(cursor);
      pages++;
      ids.push(...page.items.map((i) => i.id));
      cursor = page.cursor;
    } while (cursor && pages < 100);
    return { ids, pages };
  }

  it("pages past the 1 MB Query limit with a filter that drops most items, skipping and repeating nothing", async () => {
    const t = await freshTable("dt-page");
    const Packed = defineResource({
      type: "Packed",
      schema: z.object({ status: z.string(), n: z.number(), blob: z.string() }),
      compress: true,
    });
    const keepFlat: string[] = [];
    const keepPacked: string[] = [];
    const blob = () => randomBytes(24 * 1024).toString("base64"); // 32 KB flat, ~24 KB gzip
    for (let i = 0; i < 60; i++) {
      const status = i % 7 === 3 ? "open" : "done";
      const [a, b] = await Promise.all([
        t.create(Tag, { name: `n${i}`, status, n: i, blob: blob() }),
        t.create(Packed, { status, n: i, blob: blob() }),
      ]);
      if (status === "open") {
        keepFlat.push(a.id);
        keepPacked.push(b.id);
      }
    }
    const flat = await pageThrough((cursor) => t.list(Tag, { limit: 3, cursor, where: (f) => f.eq("status", "open") }));
    expect(flat.ids).toEqual(keepFlat.slice().sort());
    expect(new Set(flat.ids).size).toBe(flat.ids.length);
    await expectCode(t.list(Tag, { maxRequests: 0 }), "table.invalidOptions");
    const packed = await pageThrough((cursor) =>
      t.list(Packed, { limit: 3, cursor, where: (f) => f.eq("status", "open") }),
    );
    expect([...packed.ids].sort()).toEqual([...keepPacked].sort());
    expect(new Set(packed.ids).size).toBe(packed.ids.length);
    expect(packed.pages).toBeGreaterThanOrEqual(3);
    // The compressed type is filtered after decoding, so DynamoDB's 1 MB page limit applies to every item read
    // (DynamoDB Local applies it after a FilterExpression instead, so the flat type's pages are cut by Limit).
    const rawPage = await t.documentClient.send(
      new QueryCommand({
        TableName: t.tableName,
        IndexName: "gsitype",
        KeyConditionExpression: "gsitype = :t",
        ExpressionAttributeValues: { ":t": "Packed" },
      }),
    );
    expect(rawPage.Count).toBeLessThan(60);
    expect(rawPage.LastEvaluatedKey).toBeDefined();
    // maxRequests caps the Query calls of one page; the cursor resumes where it stopped.
    const open = (f: FilterBuilder<ItemOf<typeof Packed>>) => f.eq("status", "open");
    const capped = await t.list(Packed, { limit: 50, where: open, maxRequests: 1 });
    expect(capped.requests).toBe(1);
    expect(capped.cursor).toBeDefined();
    const uncapped = await t.list(Packed, { limit: 50, where: open, cursor: capped.cursor });
    expect(uncapped.cursor).toBeUndefined();
    expect([...capped.items, ...uncapped.items].map((x) => x.id)).toEqual(packed.ids);
    // Ids are ULIDs from one process: monotonic, so list order (by updatedAt) equals id order.
    const desc = await pageThrough((cursor) =>
      t.list(Packed, { limit: 4, cursor, order: "desc", where: (f) => f.eq("status", "open") }),
    );
    expect(desc.ids).toEqual([...packed.ids].reverse());
    const iterated: string[] = [];
    for await (const item of t.iterate(Packed, { limit: 2, where: (f) => f.eq("status", "open") }))
      iterated.push(item.id);
    expect(iterated).toEqual(packed.ids);
    const all: string[] = [];
    for await (const item of t.iterate(Tag, { limit: 25 })) all.push(item.id);
    expect(all).toHaveLength(60);
    expect(new Set(all).size).toBe(60);
  });

  it("rejects a tampered or foreign cursor", async () => {
    const t = await freshTable("dt-cursor");
    for (let i = 0; i < 5; i++) await t.create(Tag, { name: "n", status: i < 3 ? "open" : "done", n: i });
    const page = await t.list(Tag, { limit: 2 });
    expect(page.cursor).toBeDefined();
    const cursor = page.cursor!;
    const tampered = `${cursor.slice(0, 5)}${cursor[5] === "A" ? "B" : "A"}${cursor.slice(6)}`;
    const e1 = await expectCode(t.list(Tag, { limit: 2, cursor: tampered }), "table.invalidCursor");
    expect(e1.message).toContain("cursor");
    await expectCode(t.list(Tag, { limit: 2, cursor, where: (f) => f.eq("status", "open") }), "table.invalidCursor");
    await expectCode(t.list(Tag, { limit: 2, cursor, order: "desc" }), "table.invalidCursor");
    await expectCode(t.list(Tag, { limit: 2, cursor: "garbage" }), "table.invalidCursor");
    const other = createTable({ tableName: table.tableName, client });
    await expectCode(other.list(Tag, { limit: 2, cursor }), "table.invalidCursor");
    const next = await t.list(Tag, { limit: 2, cursor });
    expect(next.items.map((x) => x.n)).toEqual([2, 3]);
  });

  it("signs cursors with a random per-process secret by default: one derived from the table name is forged", async () => {
    const t = await freshTable("dt-cursor-secret");
    for (let i = 0; i < 4; i++) await t.create(Tag, { name: "n", status: "s", n: i });
    const cursor = (await t.list(Tag, { limit: 2 })).cursor!;
    // Re-sign the same body with the secret the table name used to give: refused.
    const body = Buffer.from(cursor, "base64url").subarray(16);
    const forgedKey = JSON.parse(body.toString("utf8")) as { q: string; k: Record<string, unknown> };
    const forged = Buffer.concat([
      createHmac("sha256", `s3kit-dynamo-table:${t.tableName}`).update(body).digest().subarray(0, 16),
      body,
    ]).toString("base64url");
    expect(forgedKey.k).toHaveProperty("pk");
    await expectCode(t.list(Tag, { limit: 2, cursor: forged }), "table.invalidCursor");
    // Another handle of this process shares the secret; handles with their own secrets do not.
    const sameProcess = createTable({ tableName: t.tableName, client });
    expect((await sameProcess.list(Tag, { limit: 2, cursor })).items.map((x) => x.n)).toEqual([2, 3]);
    const one = createTable({ tableName: t.tableName, client, cursorSecret: "one-secret-0123456789" });
    const two = createTable({ tableName: t.tableName, client, cursorSecret: "two-secret-0123456789" });
    const signed = (await one.list(Tag, { limit: 2 })).cursor!;
    await expectCode(two.list(Tag, { limit: 2, cursor: signed }), "table.invalidCursor");
    const again = createTable({ tableName: t.tableName, client, cursorSecret: "one-secret-0123456789" });
    expect((await again.list(Tag, { limit: 2, cursor: signed })).items).toHaveLength(2);
  });
});

describe("batchGet", () => {
  it("reads 150 items of a versioned and a non-versioned type, missing ones absent, in the order asked", async () => {
    const t = await freshTable("dt-batch");
    const notes = await Promise.all(
      Array.from({ length: 150 }, (_, i) => t.create(Note, { title: `n${i}`, status: "open" })),
    );
    const v2 = await t.update(Note, notes[3]!, { status: "done" });
    const ids = [...notes.map((n) => n.id)].reverse();
    const got = await t.batchGet(Note, [...ids, "missing-1", ids[0]!], { consistentRead: true });
    expect([...got.keys()]).toEqual(ids);
    expect(got.get(notes[3]!.id)).toEqual(v2);
    expect(got.get(notes[7]!.id)).toEqual(notes[7]);
    const tag = await t.create(Tag, { name: "x", status: "s", n: 1 });
    const tags = await t.batchGet(Tag, [tag.id, "nope"]);
    expect([...tags.values()]).toEqual([tag]);
  });
});

describe("TTL", () => {
  it("hides expired items DynamoDB has not deleted yet", async () => {
    const t = createTable({ tableName: uniqueName("dt-ttl"), client });
    await t.ensureTable({ ttlAttribute: "expires" });
    const Session = defineResource({
      type: "Session",
      schema: z.object({ user: z.string(), expiresAt: z.string() }),
      ttl: { field: "expiresAt", attribute: "expires" },
    });
    const past = await t.create(Session, { user: "old", expiresAt: new Date(Date.now() - 60_000).toISOString() });
    const future = await t.create(Session, { user: "new", expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await t.get(Session, past.id)).toBeUndefined();
    expect(await t.get(Session, future.id)).toEqual(future);
    expect((await t.list(Session)).items.map((s) => s.user)).toEqual(["new"]);
    const raw = await t.documentClient.send(
      new QueryCommand({
        TableName: t.tableName,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": `Session#${past.id}` },
      }),
    );
    expect(raw.Items?.[0]?.expires).toBe(Math.floor(Date.parse(past.expiresAt) / 1000));

    // Versioned: every version item carries its own version's expiry. The expired latest copy is hidden; an
    // older version whose expiry has not passed stays readable by number.
    const Lease = defineResource({
      type: "Lease",
      schema: z.object({ holder: z.string(), expiresAt: z.string() }),
      versioned: true,
      ttl: { field: "expiresAt", attribute: "expires" },
    });
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const lease = await t.create(Lease, { holder: "a", expiresAt: soon });
    const expired = await t.update(Lease, lease, { expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(await t.get(Lease, lease.id)).toBeUndefined();
    expect(await t.get(Lease, lease.id, { version: 1 })).toEqual(lease);
    expect((await t.versions(Lease, lease.id)).map((v) => v.version)).toEqual([1]);
    expect((await t.list(Lease)).items).toEqual([]);
    expect(expired.version).toBe(2);
  });
});

describe("simplesingletable layout", () => {
  it("reads items written in simplesingletable's documented layout", async () => {
    const t = await freshTable("dt-compat");
    const Task = defineResource({
      type: "Task",
      schema: z.object({
        title: z.string(),
        done: z.boolean(),
        note: z.string().nullish(),
        score: z.number().optional(),
      }),
    });
    const Doc = defineResource({
      type: "Doc",
      schema: z.object({ body: z.string(), tags: z.array(z.string()) }),
      versioned: true,
    });
    const Memo = defineResource({ type: "Memo", schema: z.object({ text: z.string() }), compress: true });
    const memoId = "01JD0000000000000000000003";
    const taskId = "01JD0000000000000000000001";
    const docId = "01JD0000000000000000000002";
    const items: Record<string, unknown>[] = [
      // Non-versioned, uncompressed: flat attributes, +00:00 timestamps, None as NULL.
      {
        pk: `Task#${taskId}`,
        sk: `Task#${taskId}`,
        resource_id: taskId,
        created_at: "2026-11-23T17:06:44.373854+00:00",
        updated_at: "2026-11-23T17:06:44.373854+00:00",
        title: "legacy",
        done: false,
        note: null,
        score: 1,
        gsitype: "Task",
        gsitypesk: "2026-11-23T17:06:44.373854+00:00",
      },
      { pk: "_INTERNAL#MemoryStats", sk: "_INTERNAL#MemoryStats", counts_by_type: { Task: 1 } },
      // Non-versioned, compressed: only `data` (gzip JSON) beside the keys and the type index; no top-level updated_at.
      {
        pk: `Memo#${memoId}`,
        sk: `Memo#${memoId}`,
        data: gzipSync(
          JSON.stringify({
            resource_id: memoId,
            created_at: "2026-11-23T17:06:44Z",
            updated_at: "2026-11-23T17:06:45Z",
            text: "héllo",
          }),
        ),
        gsitype: "Memo",
        gsitypesk: "2026-11-23T17:06:45+00:00",
      },
    ];
    // Versioned, compressed: v1..v12 (not zero-padded) with gzip JSON in `data`, latest copy at v0.
    const docAt = (v: number) => ({
      resource_id: docId,
      created_at: "2026-11-23T17:06:44.373854Z",
      updated_at: `2026-11-23T17:07:${String(v).padStart(2, "0")}Z`,
      version: v,
      body: `body ${v}`,
      tags: ["x"],
    });
    for (let v = 1; v <= 12; v++) {
      items.push({ pk: `Doc#${docId}`, sk: `v${v}`, version: v, data: gzipSync(JSON.stringify(docAt(v))) });
    }
    items.push({
      pk: `Doc#${docId}`,
      sk: "v0",
      version: 12,
      data: gzipSync(JSON.stringify(docAt(12))),
      gsitype: "Doc",
      gsitypesk: "2026-11-23T17:07:12+00:00",
    });
    const { PutCommand } = await import("@aws-sdk/lib-dynamodb");
    for (const item of items) await t.documentClient.send(new PutCommand({ TableName: t.tableName, Item: item }));

    const task = await t.getOrThrow(Task, taskId);
    expect(task).toEqual({
      id: taskId,
      createdAt: "2026-11-23T17:06:44.373854+00:00",
      updatedAt: "2026-11-23T17:06:44.373854+00:00",
      title: "legacy",
      done: false,
      note: null,
      score: 1,
    });
    expect((await t.list(Task)).items).toEqual([task]);
    const updated = await t.update(Task, task, { done: true });
    expect(await t.get(Task, taskId)).toEqual(updated);

    const memo = await t.getOrThrow(Memo, memoId);
    expect(memo).toEqual({
      id: memoId,
      createdAt: "2026-11-23T17:06:44Z",
      updatedAt: "2026-11-23T17:06:45Z",
      text: "héllo",
    });
    expect((await t.list(Memo, { where: (f) => f.eq("text", "héllo") })).items).toEqual([memo]);
    // No top-level updated_at: the update is conditional on gsitypesk (Python's isoformat of updated_at), so the
    // first update needs no force, and a stale copy still conflicts.
    const m2 = await t.update(Memo, memo, { text: "b" });
    await expectCode(t.update(Memo, memo, { text: "a" }), "table.conflict");
    const m3 = await t.update(Memo, m2, { text: "c" });
    expect(await t.get(Memo, memoId, { consistentRead: true })).toEqual(m3);

    const doc = await t.getOrThrow(Doc, docId);
    expect(doc).toMatchObject({ id: docId, version: 12, body: "body 12", tags: ["x"] });
    expect((await t.versions(Doc, docId)).map((d) => d.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect((await t.getOrThrow(Doc, docId, { version: 2 })).body).toBe("body 2");
    const v13 = await t.update(Doc, doc, { body: "new" });
    expect(v13.version).toBe(13);
    expect((await t.list(Doc)).items.map((d) => d.version)).toEqual([13]);
  });
});

describe("helpers", () => {
  it("binds a resource with createRepository", async () => {
    const notes = createRepository(table, Note);
    const note = await notes.create({ title: "repo", ownerId: "r1", status: "open" });
    const v2 = await notes.updateById(note.id, { status: "done" });
    expect(v2.version).toBe(2);
    expect((await notes.query("byOwner", { pk: "owner#r1" })).items.map((n) => n.id)).toEqual([note.id]);
    expect((await notes.versions(note.id)).length).toBe(2);
    expect(await notes.delete(note.id)).toBe(true);
  });

  it("keeps one item per singleton type", async () => {
    const Settings = defineSingleton({ type: "Settings", schema: z.object({ theme: z.string() }), versioned: true });
    expect(await table.getSingleton(Settings)).toBeUndefined();
    const s1 = await table.putSingleton(Settings, { theme: "dark" });
    const s2 = await table.putSingleton(Settings, { theme: "light" });
    expect(s2.version).toBe(s1.version + 1);
    expect(await table.getSingleton(Settings)).toEqual(s2);
    const raw = await table.documentClient.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": "SINGLETON#Settings" },
      }),
    );
    expect(raw.Items?.map((i) => i.sk).sort()).toEqual(["v0", "v1", "v2"]);
  });

  it("stores untyped items without letting their fields overwrite the layout", async () => {
    const Any = defineUntypedResource({ type: "Any" });
    const item = await table.create(Any, { pk: "evil", sk: "evil", gsitype: "Other", note: "kept" });
    const stored = await table.getStored(Any, item.id, { consistentRead: true });
    expect(stored).toMatchObject({ pk: `Any#${item.id}`, sk: `Any#${item.id}`, gsitype: "Any", note: "kept" });
    expect((await table.get(Any, item.id))?.note).toBe("kept");
  });

  it("pages a user GSI on simplesingletable's standard table (gsi1 sorted by pk)", async () => {
    const name = uniqueName("dt-sst");
    const index = (n: string, hash: string, range: string) => ({
      IndexName: n,
      KeySchema: [
        { AttributeName: hash, KeyType: "HASH" as const },
        { AttributeName: range, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    });
    // create_standard_dynamodb_table: gsi1 and gsi2 use `pk` as their range key, gsi3 has gsi3sk.
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
    const t = createTable({ tableName: name, client });
    const Owned = defineResource({
      type: "Owned",
      schema: z.object({ owner: z.string(), status: z.string() }),
      gsis: { byOwner: { pk: (o) => o.owner } },
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.create(Owned, { owner: "u1", status: i % 2 ? "a" : "b" })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await t.query(Owned, "byOwner", { pk: "u1", limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((o) => o.id));
      cursor = page.cursor;
    } while (cursor && ++pages < 10);
    expect(seen).toEqual(ids); // sorted by pk = Owned#{ULID}
    // A filter over-fetches: the whole partition comes in one response (no LastEvaluatedKey) and the page is cut
    // mid-response; a fresh handle has not learned the index's keys yet, so it asks DescribeTable.
    const fresh = createTable({ tableName: name, client });
    const filtered: string[] = [];
    cursor = undefined;
    pages = 0;
    do {
      const page: { items: { id: string }[]; cursor?: string } = await fresh.query(Owned, "byOwner", {
        pk: "u1",
        limit: 1,
        where: (f) => f.eq("status", "b"),
        ...(cursor ? { cursor } : {}),
      });
      filtered.push(...page.items.map((o) => o.id));
      cursor = page.cursor;
    } while (cursor && ++pages < 10);
    expect(filtered).toEqual([ids[0], ids[2], ids[4]]);
  });

  it("ensureTable is idempotent", async () => {
    const name = uniqueName("dt-ensure");
    const t = createTable({ tableName: name, client });
    expect(await t.ensureTable()).toEqual({ created: true, addedIndexes: [] });
    expect(await t.ensureTable()).toEqual({ created: false, addedIndexes: [] });
  });

  it("ensureTable adds the indexes a table lacks and keeps its items", async () => {
    const name = uniqueName("dt-legacy");
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        AttributeDefinitions: ["pk", "sk", "gsitype", "gsitypesk"].map((n) => ({
          AttributeName: n,
          AttributeType: "S" as const,
        })),
        GlobalSecondaryIndexes: [
          {
            IndexName: "gsitype",
            KeySchema: [
              { AttributeName: "gsitype", KeyType: "HASH" },
              { AttributeName: "gsitypesk", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
    );
    const t = createTable({ tableName: name, client });
    const Owned = defineResource({
      type: "Owned",
      schema: z.object({ owner: z.string() }),
      gsis: { byOwner: { pk: (o) => o.owner } },
    });
    const before = await t.create(Owned, { owner: "u1" }); // written before gsi1 exists
    expect(await t.ensureTable()).toEqual({ created: false, addedIndexes: ["gsi1", "gsi2", "gsi3", "gsi4", "gsi5"] });
    const after = await t.create(Owned, { owner: "u1" });
    // A GSI without `sk` still indexes its items (the sort key defaults to the item's pk).
    const page = await t.query(Owned, "byOwner", { pk: "u1" });
    expect(page.items.map((o) => o.id)).toEqual([before.id, after.id]);
    await expectCode(createTable({ tableName: uniqueName("dt-x"), client }).list(Owned), "table.request");
  });
});
