import { expect, test } from "vitest";
import { createExcluder } from "./exclude.ts";

test("patterns match relative paths, by segment name or by path, and exclude whole directories", () => {
  const ex = createExcluder([".git", "*.tmp", "build/**", "docs/private"]);
  expect(ex(".git/config")).toBe(true);
  expect(ex("a/.git/HEAD")).toBe(true);
  expect(ex("x/y.tmp")).toBe(true);
  expect(ex("build/out/a.js")).toBe(true);
  expect(ex("docs/private/a.md")).toBe(true);
  expect(ex("docs/public/a.md")).toBe(false);
  expect(ex("src/main.ts")).toBe(false);
  expect(ex(".cache-not-git")).toBe(false);
});

test("no patterns exclude nothing (no default that hides dot directories)", () => {
  const ex = createExcluder();
  expect(ex(".cache/s3kit/a")).toBe(false);
  expect(ex(".env")).toBe(false);
});
