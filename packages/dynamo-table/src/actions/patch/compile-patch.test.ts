import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DynamoTableError } from "../../errors.ts";
import { filterBuilder } from "../../filter.ts";
import { defineResource, defineUntypedResource } from "../../resource.ts";
import { compilePatch } from "./compile-patch.ts";

const Stats = defineResource({
  type: "Stats",
  schema: z.object({
    title: z.string(),
    note: z.string().optional(),
    views: z.number().int(),
    byDay: z.record(z.string(), z.number()),
    tags: z.set(z.string()).optional(),
    log: z.array(z.string()).optional(),
    expires: z.number().optional(),
  }),
  ttl: { field: "expires" },
});
const T = "2026-12-05T10:00:00.000123Z";

function compile(changes: object, expected?: Parameters<typeof compilePatch>[3]) {
  return compilePatch(Stats, changes as never, T, expected, "patch Stats 1");
}

function error(fn: () => unknown): DynamoTableError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DynamoTableError);
    return e as DynamoTableError;
  }
  throw new Error("expected a DynamoTableError");
}

describe("compilePatch", () => {
  it("compiles every kind of change to one UpdateExpression with placeholders only", () => {
    const c = compile({
      set: { title: "t", "byDay.mon": 3 },
      remove: ["note"],
      add: { views: 2, "byDay.tue": 1, tags: ["a", "b"] },
      append: { log: ["x"] },
    });
    expect(c.updateExpression).toBe(
      "SET #updated = :updated, #gsitypesk = :updated, #n0 = :v0, #n1.#n2 = :v1, " +
        "#n1.#n5 = if_not_exists(#n1.#n5, :v3) + :v4, #n7 = list_append(if_not_exists(#n7, :v6), :v7) " +
        "REMOVE #n3 ADD #n4 :v2, #n6 :v5",
    );
    expect(c.conditionExpression).toBe("attribute_exists(#pk)");
    expect(c.names).toMatchObject({
      "#n0": "title",
      "#n1": "byDay",
      "#n2": "mon",
      "#n3": "note",
      "#n4": "views",
      "#n5": "tue",
      "#n6": "tags",
      "#n7": "log",
    });
    expect(c.values).toMatchObject({ ":updated": T, ":v0": "t", ":v1": 3, ":v2": 2, ":v3": 0, ":v4": 1 });
    expect(c.values[":v5"]).toEqual(new Set(["a", "b"]));
    expect(c.values[":v7"]).toEqual(["x"]);
    expect(new Set(c.fields)).toEqual(new Set(["title", "byDay", "note", "views", "tags", "log"]));
  });

  it("adds the expected condition and keeps the TTL attribute in step with its field", () => {
    const f = filterBuilder<{ status: string; updatedAt: string }>();
    const c = compile({ set: { expires: 1_800_000_000 } }, f.eq("updatedAt", "2026-01-01T00:00:00.000Z"));
    expect(c.conditionExpression).toBe("attribute_exists(#pk) AND (#e0 = :e0)");
    expect(c.names["#e0"]).toBe("updated_at");
    expect(c.updateExpression).toContain("#n1 = :v1");
    expect(c.names["#n1"]).toBe("ttl");
    expect(compile({ remove: ["expires"] }).updateExpression).toMatch(/REMOVE #n0, #n1$/);
  });

  it("removes a set field set to an empty set (DynamoDB has no empty sets) and deletes members", () => {
    expect(compile({ set: { tags: new Set() } }).updateExpression).toMatch(/REMOVE #n0$/);
    const c = compile({ delete: { tags: ["a"] } });
    expect(c.updateExpression).toMatch(/DELETE #n0 :v0$/);
    expect(c.values[":v0"]).toEqual(new Set(["a"]));
  });

  it("refuses what would make an invalid item, before any request", () => {
    expect(error(() => compile({ set: { views: "many" } })).code).toBe("table.validation");
    expect(error(() => compile({ set: { "byDay.mon": "x" } })).code).toBe("table.validation");
    expect(error(() => compile({ remove: ["title"] })).message).toMatch(/required field/);
    expect(error(() => compile({ add: { title: 1 } })).message).toMatch(/number field/);
    expect(error(() => compile({ add: { log: ["x"] } })).message).toMatch(/set field/);
    expect(error(() => compile({ append: { views: [1] } })).message).toMatch(/list field/);
    expect(error(() => compile({ add: { tags: [1, "a"] } })).code).toBe("table.validation");
  });

  it("refuses unknown fields, layout names, conflicting paths and empty patches", () => {
    expect(error(() => compile({ set: { nope: 1 } })).message).toMatch(/has no field `nope`/);
    expect(error(() => compile({ set: { updatedAt: "x" } })).code).toBe("table.invalidOptions");
    expect(error(() => compile({ set: { gsi1pk: "x" } })).code).toBe("table.invalidOptions");
    expect(error(() => compile({ set: { "a.b.c": 1 } })).message).toMatch(/invalid path/);
    expect(error(() => compile({ set: { byDay: {} }, add: { "byDay.mon": 1 } })).message).toMatch(/twice/);
    expect(error(() => compile({ set: { views: 1 }, add: { views: 1 } })).message).toMatch(/twice/);
    expect(error(() => compile({})).message).toMatch(/changes nothing/);
    expect(error(() => compile({ put: { views: 1 } })).message).toMatch(/unknown change `put`/);
  });

  it("refuses versioned and compressed resources, saying why", () => {
    const V = defineResource({ type: "V", schema: z.object({ n: z.number() }), versioned: true });
    const C = defineResource({ type: "C", schema: z.object({ n: z.number() }), compress: true });
    expect(error(() => compilePatch(V, { add: { n: 1 } } as never, T, undefined, "x")).message).toMatch(
      /versioned: every version is a whole item/,
    );
    expect(error(() => compilePatch(C, { add: { n: 1 } } as never, T, undefined, "x")).message).toMatch(/gzip/);
  });

  it("lets an untyped resource change any non-layout field", () => {
    const U = defineUntypedResource({ type: "U" });
    const c = compilePatch(U, { add: { hits: 1 }, set: { "m.k": "v" } } as never, T, undefined, "x");
    expect(c.names).toMatchObject({ "#n0": "m", "#n1": "k", "#n2": "hits" });
  });
});
