import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { assertItemSize, decodeItem, encodeItem } from "./codec.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { DynamoTableError } from "./errors.ts";
import { defineResource, defineSingleton } from "./resource.ts";

const schema = z.object({ title: z.string(), ownerId: z.string().optional() });

describe("defineResource", () => {
  it.each([
    [{ type: "Bad#Type", schema }, /`type`/],
    [{ type: "Note", schema: { title: "x" } }, /`schema`/],
    [{ type: "Note", schema: z.object({ pk: z.string() }) }, /field `pk`/],
    [{ type: "Note", schema, maxVersions: 3 }, /needs `versioned: true`/],
    [{ type: "Note", schema, versioned: true, maxVersions: 0 }, /`maxVersions`/],
    [{ type: "Note", schema, ttl: { field: "expires" } }, /`ttl.field`/],
    [
      { type: "Note", schema, gsis: { a: { pk: () => "x", index: 1 }, b: { pk: () => "y", index: 1 } } },
      /gsi1, which another GSI already uses/,
    ],
  ])("rejects %j with a one-line error", (options, message) => {
    expect(() => defineResource(options as never)).toThrow(message);
    try {
      defineResource(options as never);
    } catch (error) {
      expect(error).toBeInstanceOf(DynamoTableError);
      expect((error as DynamoTableError).code).toBe("table.invalidResource");
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("defaults compress to versioned", () => {
    expect(defineResource({ type: "A", schema }).compress).toBe(false);
    expect(defineResource({ type: "A", schema, versioned: true }).compress).toBe(true);
    expect(defineResource({ type: "A", schema, versioned: true, compress: false }).compress).toBe(false);
  });
});

describe("codec", () => {
  const Note = defineResource({
    type: "Note",
    schema,
    versioned: true,
    gsis: { byOwner: { pk: (n) => (n.ownerId ? `owner#${n.ownerId}` : undefined), sk: (n) => n.updatedAt } },
  });
  const item = {
    id: "01J",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-02T00:00:00.000Z",
    version: 3,
    title: "t",
    ownerId: "u1",
  };

  it("writes the simplesingletable layout: gzip JSON in data, index keys on the latest copy only", () => {
    const latest = encodeItem(Note, item, "v0", true);
    expect(latest).toMatchObject({
      pk: "Note#01J",
      sk: "v0",
      version: 3,
      gsitype: "Note",
      gsitypesk: item.updatedAt,
      gsi1pk: "owner#u1",
      gsi1sk: item.updatedAt,
    });
    expect(latest.data).toBeInstanceOf(Uint8Array);
    const history = encodeItem(Note, item, "v3", false);
    expect(Object.keys(history).sort()).toEqual(["data", "pk", "sk", "version"]); // as simplesingletable
    expect(decodeItem(Note, history)).toEqual(item);
  });

  it("leaves an item out of a GSI whose key function returns undefined", () => {
    const { ownerId: _, ...noOwner } = item;
    const latest = encodeItem(Note, noOwner, "v0", true);
    expect(latest).not.toHaveProperty("gsi1pk");
    expect(latest).not.toHaveProperty("gsi1sk");
  });

  it("reads a simplesingletable data blob with snake_case fields", () => {
    const data = gzipSync(
      JSON.stringify({ resource_id: "X", created_at: "a", updated_at: "b", version: 2, title: "py" }),
    );
    expect(decodeItem(Note, { pk: "Note#X", sk: "v2", version: 2, data })).toEqual({
      id: "X",
      createdAt: "a",
      updatedAt: "b",
      version: 2,
      title: "py",
    });
  });

  it("names the field and the resource when a stored item is invalid", () => {
    const data = gzipSync(JSON.stringify({ resource_id: "X", created_at: "a", updated_at: "b", version: 2, title: 5 }));
    expect(() => decodeItem(Note, { pk: "Note#X", sk: "v2", data })).toThrow(/Note: invalid field `title`/);
  });

  it("hides expired items", () => {
    const S = defineResource({ type: "S", schema: z.object({ exp: z.number() }), ttl: { field: "exp" } });
    const stored = encodeItem(S, { id: "1", createdAt: "a", updatedAt: "b", exp: 1000 }, "S#1", true);
    expect(stored.ttl).toBe(1000);
    expect(decodeItem(S, stored, 999_000)).toBeDefined();
    expect(decodeItem(S, stored, 1_000_000)).toBeUndefined();
  });

  it("refuses an item over 400 KB", () => {
    const Flat = defineResource({ type: "Flat", schema: z.object({ body: z.string() }) });
    const stored = encodeItem(
      Flat,
      { id: "1", createdAt: "a", updatedAt: "b", body: "x".repeat(401 * 1024) },
      "Flat#1",
      true,
    );
    expect(() => assertItemSize(Flat, stored)).toThrow(/400 KB item limit/);
  });

  it("puts singletons at SINGLETON#{type}", () => {
    const S = defineSingleton({ type: "Settings", schema: z.object({ a: z.string() }) });
    expect(
      encodeItem(S, { id: "SINGLETON", createdAt: "a", updatedAt: "b", a: "x" }, "SINGLETON#Settings", true).pk,
    ).toBe("SINGLETON#Settings");
  });
});

describe("cursor", () => {
  it("round-trips and rejects tampering, another query and another secret", () => {
    const key = { pk: "Note#1", sk: "v0", gsitype: "Note", gsitypesk: "2026" };
    const cursor = encodeCursor("secret-secret-secret", "q1", key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor("secret-secret-secret", "q1", cursor, "list")).toEqual(key);
    expect(() => decodeCursor("secret-secret-secret", "q2", cursor, "list")).toThrow(/different query/);
    expect(() => decodeCursor("other-secret-other", "q1", cursor, "list")).toThrow(/altered/);
    const tag = Buffer.from(cursor, "base64url").subarray(0, 16);
    const body = Buffer.from(JSON.stringify({ q: "q1", k: { ...key, pk: "Note#2" } }));
    const forged = Buffer.concat([tag, body]).toString("base64url");
    expect(() => decodeCursor("secret-secret-secret", "q1", forged, "list")).toThrow(/altered/);
    expect(() => decodeCursor("secret-secret-secret", "q1", "%%%", "list")).toThrow(/malformed/);
  });
});
