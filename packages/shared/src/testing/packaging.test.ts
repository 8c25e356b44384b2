// Test code must not ship: every source file that imports a test framework is left out of its package's
// build (tsconfig.build.json), so it never reaches dist/ and the tarball. The one deliberate exception is
// `@toolkit/shared/testing`, which imports no test framework.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const TEST_IMPORT = /from\s+["'](vitest|@vitest\/[^"']+|node:test)["']/;

function builtSources(packageDir: string): string[] {
  const configPath = join(packageDir, "tsconfig.build.json");
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, packageDir, undefined, configPath);
  return parsed.fileNames;
}

const packages = [
  ...readdirSync(join(REPO, "packages")).map((name) => join(REPO, "packages", name)),
  join(REPO, "apps", "cli"),
];

describe("no test code in a published build", () => {
  it.each(packages.map((dir) => [relative(REPO, dir), dir]))("%s", (_name, dir) => {
    const offenders = builtSources(dir).filter((file) => TEST_IMPORT.test(readFileSync(file, "utf8")));
    expect(offenders.map((f) => relative(REPO, f))).toEqual([]);
  });

  it("the testing subpath imports no test framework", () => {
    const testing = join(REPO, "packages", "shared", "src", "testing");
    const shipped = builtSources(join(REPO, "packages", "shared")).filter((f) => f.startsWith(testing));
    expect(shipped.map((f) => relative(testing, f))).toContain("hostile.ts");
    for (const file of shipped) expect(readFileSync(file, "utf8")).not.toMatch(TEST_IMPORT);
  });
});
