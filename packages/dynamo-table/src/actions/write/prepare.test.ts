import { silentLogger } from "@toolkit/shared";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { TableContext } from "../../context.ts";
import { defineResource } from "../../resource.ts";
import { prepareCreate, prepareWrite } from "./prepare.ts";

// The write preparation is pure given a context: no request is sent here.
const ctx = {
  tableName: "t",
  logger: silentLogger,
  newId: () => "01ID",
  send: () => {
    throw new Error("no request expected");
  },
} as unknown as TableContext;

const Flat = defineResource({ type: "Flat", schema: z.object({ n: z.number() }) });
const Gzip = defineResource({ type: "Gzip", schema: z.object({ n: z.number() }), compress: true });
const Doc = defineResource({ type: "Doc", schema: z.object({ n: z.number() }), versioned: true });

describe("prepareCreate / prepareWrite", () => {
  it("creates with attribute_not_exists; versioned as v1 + v0", () => {
    const flat = prepareCreate(ctx, Flat, { n: 1 }, undefined);
    expect(flat.item).toMatchObject({ id: "01ID", n: 1 });
    expect(flat.actions.map((a) => [a.request.Put?.Item?.sk, a.request.Put?.ConditionExpression])).toEqual([
      ["Flat#01ID", "attribute_not_exists(pk)"],
    ]);
    const doc = prepareCreate(ctx, Doc, { n: 1 }, "x");
    expect(doc.actions.map((a) => a.request.Put?.Item?.sk)).toEqual(["v1", "v0"]);
  });

  it("updates a flat item on updated_at, a gzip one on gsitypesk (Python's +00:00 form too)", () => {
    const flat = prepareWrite(
      ctx,
      Flat,
      { id: "a", createdAt: "c", updatedAt: "2026-01-01T00:00:00.000Z", n: 1 },
      { n: 2 },
      false,
      "update",
    );
    expect(flat.actions[0]!.request.Put).toMatchObject({
      ConditionExpression: "attribute_exists(pk) AND #updated = :prev",
      ExpressionAttributeNames: { "#updated": "updated_at" },
    });
    const gzip = prepareWrite(
      ctx,
      Gzip,
      { id: "a", createdAt: "c", updatedAt: "2026-11-23T17:06:45.123456Z", n: 1 },
      { n: 2 },
      false,
      "update",
    );
    expect(gzip.actions[0]!.request.Put).toMatchObject({
      ConditionExpression: "attribute_exists(pk) AND #updated IN (:prev, :prevPy)",
      ExpressionAttributeNames: { "#updated": "gsitypesk" },
      ExpressionAttributeValues: {
        ":prev": "2026-11-23T17:06:45.123456Z",
        ":prevPy": "2026-11-23T17:06:45.123456+00:00",
      },
    });
    expect(gzip.actions[0]!.request.Put?.Item).not.toHaveProperty("updated_at");
    const forced = prepareWrite(ctx, Gzip, { id: "a", createdAt: "c", updatedAt: "x", n: 1 }, { n: 2 }, true, "update");
    expect(forced.actions[0]!.request.Put?.ConditionExpression).toBe("attribute_exists(pk)");
  });

  it("updates a versioned item as v{n+1} + v0 conditional on the version, and refuses an item without one", () => {
    const w = prepareWrite(
      ctx,
      Doc,
      { id: "a", createdAt: "c", updatedAt: "u", version: 3, n: 1 },
      { n: 2 },
      false,
      "update",
    );
    expect(w.item.version).toBe(4);
    expect(w.actions.map((a) => [a.request.Put?.Item?.sk, a.request.Put?.ConditionExpression])).toEqual([
      ["v4", "attribute_not_exists(pk)"],
      ["v0", "#version = :prev"],
    ]);
    expect(() =>
      prepareWrite(ctx, Doc, { id: "a", createdAt: "c", updatedAt: "u", n: 1 }, { n: 2 }, false, "update"),
    ).toThrow(/no valid `version`/);
  });
});
