import { describe, expect, it } from "vitest";
import { compileFilter, filterBuilder, matchesFilter } from "./filter.ts";

type Row = { status: string; name: string; size: number; tags: string[]; note?: string };
const f = filterBuilder<Row>();

describe("compileFilter", () => {
  it("uses placeholders for every name and value, so reserved words are safe", () => {
    const compiled = compileFilter(
      f.and(f.eq("status", "open"), f.or(f.beginsWith("name", "a"), f.between("size", 1, 5))),
    );
    expect(compiled.expression).toBe("(#f0 = :f0 AND (begins_with(#f1, :f1) OR #f2 BETWEEN :f2 AND :f3))");
    expect(compiled.names).toEqual({ "#f0": "status", "#f1": "name", "#f2": "size" });
    expect(compiled.values).toEqual({ ":f0": "open", ":f1": "a", ":f2": 1, ":f3": 5 });
  });

  it("maps field names to stored attributes and reuses a name placeholder", () => {
    const compiled = compileFilter(f.or(f.gt("size", 1), f.lt("size", 0), f.not(f.exists("note"))), (x) => `s_${x}`);
    expect(compiled.expression).toBe("(#f0 > :f0 OR #f0 < :f1 OR (NOT attribute_exists(#f1)))");
    expect(compiled.names).toEqual({ "#f0": "s_size", "#f1": "s_note" });
  });

  it("compiles IN and contains", () => {
    const compiled = compileFilter(f.and(f.in("status", ["a", "b"]), f.contains("tags", "x")));
    expect(compiled.expression).toBe("(#f0 IN (:f0, :f1) AND contains(#f1, :f2))");
  });

  it("refuses an empty and()", () => {
    expect(() => compileFilter(f.and())).toThrow(/at least one filter/);
  });
});

describe("matchesFilter", () => {
  const row: Row = { status: "open", name: "alpha", size: 3, tags: ["x", "y"] };
  it.each([
    [f.eq("status", "open"), true],
    [f.ne("status", "open"), false],
    [f.gte("size", 3), true],
    [f.lt("size", 3), false],
    [f.between("size", 1, 3), true],
    [f.beginsWith("name", "al"), true],
    [f.contains("name", "ph"), true],
    [f.contains("tags", "y"), true],
    [f.contains("tags", "z"), false],
    [f.in("status", ["done", "open"]), true],
    [f.exists("note"), false],
    [f.notExists("note"), true],
    [f.not(f.eq("name", "alpha")), false],
    [f.or(f.eq("name", "beta"), f.eq("size", 3)), true],
    [f.and(f.eq("name", "alpha"), f.eq("size", 4)), false],
  ])("evaluates %j as %s", (filter, expected) => {
    expect(matchesFilter(filter, row)).toBe(expected);
  });

  it("compares values of different types as false, like DynamoDB", () => {
    expect(matchesFilter({ op: "gt", field: "size", value: "1" }, row)).toBe(false);
  });
});
