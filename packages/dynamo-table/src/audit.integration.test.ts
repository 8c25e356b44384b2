import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoDbClient } from "@toolkit/shared";
import { startDynamoDbServer, testClientOptions, uniqueName } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTable, DynamoTableError, defineResource, type Table } from "./index.ts";

const server = await startDynamoDbServer();
const client = createDynamoDbClient({ ...testClientOptions(server), maxAttempts: 3 });
afterAll(() => client.destroy());

const Account = defineResource({
  type: "Account",
  schema: z.object({ email: z.string(), plan: z.string(), secret: z.string().optional() }),
  versioned: true,
  audit: { excludeFields: ["secret"], includeSnapshot: true },
  stats: true,
});
const Strict = defineResource({
  type: "Strict",
  schema: z.object({ n: z.number() }),
  audit: { changedByRequired: true },
});
const Plain = defineResource({ type: "Plain", schema: z.object({ n: z.number() }) });

async function rejection(promise: Promise<unknown>): Promise<DynamoTableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DynamoTableError);
  return error as DynamoTableError;
}

let table: Table;
beforeAll(async () => {
  table = createTable({ tableName: uniqueName("dt-audit"), client });
  await table.ensureTable();
});

describe("audit log", () => {
  it("records create, update, restore and delete with who, why, changed fields and a snapshot", async () => {
    const a = await table.create(
      Account,
      { email: "a@x", plan: "free", secret: "s1" },
      { changedBy: "alice", auditMetadata: { reason: "signup" } },
    );
    const a2 = await table.update(Account, a, { plan: "pro", secret: "s2" }, { changedBy: "bob" });
    await table.restore(Account, a.id, 1, { changedBy: "carol" });
    await table.delete(Account, a.id, { changedBy: "dave" });

    const { items } = await table.auditLog(Account, { id: a.id });
    expect(items.map((e) => [e.operation, e.changedBy])).toEqual([
      ["CREATE", "alice"],
      ["UPDATE", "bob"],
      ["RESTORE", "carol"],
      ["DELETE", "dave"],
    ]);
    expect(items[0]!.metadata).toEqual({ reason: "signup" });
    // The excluded field never appears; the changed one shows old and new.
    expect(items[1]!.changedFields).toEqual({ plan: { old: "free", new: "pro" } });
    expect(items[2]!.changedFields).toEqual({ plan: { old: "pro", new: "free" } });
    expect(items[1]!.snapshot).toMatchObject({ resource_id: a.id, email: "a@x", plan: "pro", version: 2 });
    expect(items[1]!.snapshot).not.toHaveProperty("secret");
    expect(items[3]!.snapshot).toMatchObject({ plan: "free", version: 3 });
    expect(a2.version).toBe(2);

    const desc = await table.auditLog(Account, { limit: 2, order: "desc" });
    expect(desc.items.map((e) => e.operation)).toEqual(["DELETE", "RESTORE"]);
    const next = await table.auditLog(Account, {
      limit: 2,
      order: "desc",
      ...(desc.cursor ? { cursor: desc.cursor } : {}),
    });
    expect(next.items.map((e) => e.operation)).toEqual(["UPDATE", "CREATE"]);
  });

  it("writes the entry in the same transaction: a conflicting update records nothing", async () => {
    const a = await table.create(Account, { email: "b@x", plan: "free" });
    await table.update(Account, a, { plan: "pro" });
    expect((await rejection(table.update(Account, a, { plan: "team" }))).code).toBe("table.versionConflict");
    expect((await table.auditLog(Account, { id: a.id })).items.map((e) => e.operation)).toEqual(["CREATE", "UPDATE"]);
  });

  it("refuses a write without changedBy when the resource requires one, before any request", async () => {
    const error = await rejection(table.create(Strict, { n: 1 }));
    expect(error.code).toBe("table.invalidOptions");
    expect(error.message).toContain("changedBy");
    const s = await table.create(Strict, { n: 1 }, { changedBy: "svc" });
    await table.transaction((tx) => {
      tx.update(Strict, s, { n: 2 }, { changedBy: "svc" });
    });
    expect((await table.auditLog(Strict, { id: s.id })).items.map((e) => e.operation)).toEqual(["CREATE", "UPDATE"]);
    await table.create(Plain, { n: 1 });
    expect((await table.auditLog(Plain)).items).toEqual([]);
  });
});

describe("stats", () => {
  it("counts items per type in _INTERNAL#MemoryStats, only for resources that opt in", async () => {
    const t = createTable({ tableName: uniqueName("dt-stats"), client });
    await t.ensureTable();
    expect(await t.stats({ consistentRead: true })).toEqual({});
    const made = await Promise.all([1, 2, 3].map((n) => t.create(Account, { email: `${n}@x`, plan: "free" })));
    await t.create(Plain, { n: 1 });
    expect(await t.delete(Account, made[0]!.id)).toBe(true);
    expect(await t.delete(Account, made[0]!.id)).toBe(false); // nothing deleted: not counted again
    expect(await t.stats({ consistentRead: true })).toEqual({ Account: 2 });
    const stored = await t.documentClient.send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: t.tableName,
        Key: { pk: "_INTERNAL#MemoryStats", sk: "_INTERNAL#MemoryStats" },
        ConsistentRead: true,
      }),
    );
    expect(stored.Item).toMatchObject({
      resource_id: "MemoryStats",
      gsitype: "MemoryStats",
      counts_by_type: { Account: 2 },
    });
  });

  it("keeps counting in a stats item simplesingletable wrote", async () => {
    const t = createTable({ tableName: uniqueName("dt-stats-py"), client });
    await t.ensureTable();
    await t.documentClient.send(
      new PutCommand({
        TableName: t.tableName,
        Item: {
          pk: "_INTERNAL#MemoryStats",
          sk: "_INTERNAL#MemoryStats",
          resource_id: "MemoryStats",
          created_at: "2026-11-23T17:06:44.373854+00:00",
          updated_at: "2026-11-23T17:06:44.373854+00:00",
          counts_by_type: { Task: 1 },
          gsitype: "MemoryStats",
          gsitypesk: "2026-11-23T17:06:44.373854+00:00",
        },
      }),
    );
    await t.create(Account, { email: "p@x", plan: "free" });
    expect(await t.stats({ consistentRead: true })).toEqual({ Task: 1, Account: 1 });
  });
});
