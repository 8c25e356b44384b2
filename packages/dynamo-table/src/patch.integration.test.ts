import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoDbClient } from "@toolkit/shared";
import { startDynamoDbServer, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createRepository, createTable, DynamoTableError, defineResource, type Table } from "./index.ts";

const server = await startDynamoDbServer();
const clientA = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 3 });
const clientB = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 3 });
afterAll(() => {
  clientA.destroy();
  clientB.destroy();
});

const Page = defineResource({
  type: "Page",
  schema: z.object({
    title: z.string(),
    status: z.enum(["draft", "live"]),
    views: z.number().int(),
    byDay: z.record(z.string(), z.number()).optional(),
    tags: z.set(z.string()).optional(),
    log: z.array(z.string()).optional(),
    owner: z.string().optional(),
  }),
  gsis: { byOwner: { pk: (p) => (p.owner ? `owner#${p.owner}` : undefined) } },
});
const Counter = defineResource({
  type: "Counter",
  schema: z.object({ n: z.number().int(), m: z.record(z.string(), z.number()).optional() }),
});

/** Record the DynamoDB operations a client sends. */
function recordOperations(c: ReturnType<typeof createDynamoDbClient>): string[] {
  const ops: string[] = [];
  c.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
      const target = Object.entries(headers).find(([k]) => k.toLowerCase() === "x-amz-target")?.[1];
      if (target) ops.push(target.split(".").pop()!);
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "recordOps" },
  );
  return ops;
}

async function rejection(promise: Promise<unknown>): Promise<DynamoTableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DynamoTableError);
  return error as DynamoTableError;
}

let a: Table;
let b: Table;
beforeAll(async () => {
  const tableName = uniqueName("dt-patch");
  a = createTable({ tableName, client: clientA });
  await a.ensureTable();
  b = createTable({ tableName, client: clientB });
});

describe("field-level updates", () => {
  it("20 concurrent increments from two table handles give the exact total (field and map key)", async () => {
    const c = await a.create(Counter, { n: 0 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const t = i % 2 === 0 ? a : b;
        return Promise.all([t.increment(Counter, c.id, "n", 1), t.increment(Counter, c.id, "m.hits", 2)]);
      }),
    );
    // Each call saw its own new value: 1..20 once each for n.
    expect(results.map(([n]) => n).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const after = await a.getOrThrow(Counter, c.id, { consistentRead: true });
    expect(after.n).toBe(20);
    expect(after.m).toEqual({ hits: 40 });
    expect(Date.parse(after.updatedAt)).toBeGreaterThanOrEqual(Date.parse(c.updatedAt));
  });

  it("increments in one UpdateItem, and a negative step decrements", async () => {
    const c = await a.create(Counter, { n: 5, m: { x: 1 } });
    const ops = recordOperations(clientB);
    expect(await b.increment(Counter, c.id, "n")).toBe(6);
    expect(await b.increment(Counter, c.id, "m.x", -3)).toBe(-2);
    expect(ops).toEqual(["UpdateItem", "UpdateItem"]);
    clientB.middlewareStack.remove("recordOps");
  });

  it("a patch and a concurrent patch of another field both land", async () => {
    const p = await a.create(Page, { title: "t", status: "draft", views: 0 });
    await Promise.all([
      a.patch(Page, p.id, { set: { title: "new title" } }),
      b.patch(Page, p.id, { set: { status: "live" }, append: { log: ["published"] } }),
      b.patch(Page, p.id, { add: { views: 3, tags: ["x", "y"] } }),
    ]);
    const got = await a.getOrThrow(Page, p.id, { consistentRead: true });
    expect(got).toMatchObject({ title: "new title", status: "live", views: 3, log: ["published"] });
    expect(got.tags).toEqual(new Set(["x", "y"]));
    // A whole-item update from the copy read before the patches conflicts: it would undo them.
    expect((await rejection(a.update(Page, p, { views: 100 }))).code).toBe("table.conflict");
  });

  it("returns the new item, appends, removes, and keeps sets as sets", async () => {
    const p = await a.create(Page, { title: "t", status: "draft", views: 1, tags: new Set(["a"]) });
    const p2 = await a.patch(Page, p.id, { append: { log: ["one"] }, add: { tags: ["b"] } });
    expect(p2.tags).toEqual(new Set(["a", "b"]));
    const p3 = await a.patch(Page, p.id, { append: { log: ["two"] }, remove: ["byDay"] });
    expect(p3.log).toEqual(["one", "two"]);
    await a.removeFromSet(Page, p.id, "tags", "a");
    await a.addToSet(Page, p.id, "tags", ["c", "d"]);
    expect((await a.getOrThrow(Page, p.id, { consistentRead: true })).tags).toEqual(new Set(["b", "c", "d"]));
    await a.removeFromSet(Page, p.id, "tags", ["b", "c", "d"]);
    const latest = await a.getOrThrow(Page, p.id, { consistentRead: true });
    expect(latest.tags).toBeUndefined();
    expect(p3.updatedAt > p.updatedAt).toBe(true);
    // Every set change moved updatedAt on: the copy returned by the earlier patch is stale now.
    expect((await rejection(a.update(Page, p3, { title: "u" }))).code).toBe("table.conflict");
    const p4 = await a.update(Page, latest, { title: "u" });
    expect(p4.log).toEqual(["one", "two"]);
  });

  it("applies only when `expected` holds; a missing item is notFound", async () => {
    const p = await a.create(Page, { title: "t", status: "draft", views: 0 });
    const conflict = await rejection(a.patch(Page, p.id, { set: { title: "x" } }, { expected: { status: "live" } }));
    expect(conflict.code).toBe("table.conflict");
    const live = await a.patch(Page, p.id, { set: { status: "live" } }, { expected: (f) => f.eq("status", "draft") });
    expect(live.status).toBe("live");
    // Optimistic on updatedAt, like update().
    expect(
      (await rejection(a.patch(Page, p.id, { add: { views: 1 } }, { expected: { updatedAt: p.updatedAt } }))).code,
    ).toBe("table.conflict");
    await a.patch(Page, p.id, { add: { views: 1 } }, { expected: { updatedAt: live.updatedAt } });
    expect((await rejection(a.increment(Page, "missing-id", "views"))).code).toBe("table.notFound");
    expect((await a.get(Page, "missing-id", { consistentRead: true })) === undefined).toBe(true);
  });

  it("re-points GSI keys computed from a patched field", async () => {
    const p = await a.create(Page, { title: "t", status: "draft", views: 0, owner: "u1" });
    await a.patch(Page, p.id, { set: { owner: "u2" } });
    expect((await a.query(Page, "byOwner", { pk: "owner#u2" })).items.map((i) => i.id)).toEqual([p.id]);
    expect((await a.query(Page, "byOwner", { pk: "owner#u1" })).items).toEqual([]);
    await a.patch(Page, p.id, { remove: ["owner"] });
    expect((await a.query(Page, "byOwner", { pk: "owner#u2" })).items).toEqual([]);
  });

  it("refuses versioned and compressed resources before any request", async () => {
    const V = defineResource({ type: "PV", schema: z.object({ n: z.number() }), versioned: true });
    const v = await a.create(V, { n: 1 });
    const error = await rejection(a.increment(V, v.id, "n"));
    expect(error.code).toBe("table.invalidOptions");
    expect(error.message).toMatch(/whole item/);
  });

  it("counts on items simplesingletable wrote (flat N attributes, a map of ints, a string set)", async () => {
    const id = "01JPYTHONCOUNTER0000000001";
    await a.documentClient.send(
      new PutCommand({
        TableName: a.tableName,
        Item: {
          pk: `Counter#${id}`,
          sk: `Counter#${id}`,
          resource_id: id,
          created_at: "2026-11-23T17:06:44.373854+00:00",
          updated_at: "2026-11-23T17:06:44.373854+00:00",
          n: 7,
          m: { a: 1 },
          gsitype: "Counter",
          gsitypesk: "2026-11-23T17:06:44.373854+00:00",
        },
      }),
    );
    expect(await a.increment(Counter, id, "n", 3)).toBe(10);
    expect(await a.increment(Counter, id, "m.a")).toBe(2);
    expect(await a.increment(Counter, id, "m.b")).toBe(1);
    const raw = await a.getStored(Counter, id, { consistentRead: true });
    expect(raw).toMatchObject({ n: 10, m: { a: 2, b: 1 }, gsitype: "Counter" });
    expect(Object.keys(raw!).sort()).toEqual(
      ["created_at", "gsitype", "gsitypesk", "m", "n", "pk", "resource_id", "sk", "updated_at"].sort(),
    );
  });

  it("is bound by createRepository too", async () => {
    const counters = createRepository(a, Counter);
    const c = await counters.create({ n: 1 });
    expect(await counters.increment(c.id, "n", 4)).toBe(5);
    expect((await counters.patch(c.id, { set: { "m.k": 2 } })).m).toEqual({ k: 2 });
    expect([...(await counters.batchGet([c.id, "nope"])).keys()]).toEqual([c.id]);
  });

  it("creates a missing map the first time one of its keys is counted", async () => {
    const c = await a.create(Counter, { n: 0 });
    const [x, y] = await Promise.all([a.increment(Counter, c.id, "m.x"), b.increment(Counter, c.id, "m.y", 5)]);
    expect([x, y]).toEqual([1, 5]);
    expect((await a.getOrThrow(Counter, c.id, { consistentRead: true })).m).toEqual({ x: 1, y: 5 });
  });
});
