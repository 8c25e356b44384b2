import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { openObjectStore } from "../open-object-store.ts";
import { applySyncPlan } from "./apply.ts";
import * as hash from "./local-hash.ts";
import { planSync } from "./plan.ts";

vi.mock("./local-hash.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./local-hash.ts")>();
  return { ...original, hashLocalFile: vi.fn(original.hashLocalFile) };
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sync-cache-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("checksum mode", () => {
  test("hashes of unchanged local files are cached in the state: a re-run does not read them again", async () => {
    const source = join(dir, "src");
    await mkdir(join(source, "a"), { recursive: true });
    await writeFile(join(source, "a/1.jpg"), "one");
    await writeFile(join(source, "2.jpg"), "two");
    const store = openObjectStore(pathToFileURL(join(dir, "out")).href);
    const run = async () => {
      const plan = await planSync({
        direction: "upload",
        local: source,
        store,
        statePath: join(dir, "state.ndjson"),
        compare: "checksum",
      });
      return applySyncPlan(plan, { store });
    };
    const hashed = vi.mocked(hash.hashLocalFile);
    expect((await run()).transferred).toBe(2); // new files: nothing to compare, nothing hashed
    hashed.mockClear();
    expect((await run()).skipped).toBe(2);
    expect(hashed).toHaveBeenCalledTimes(2);
    hashed.mockClear();
    expect((await run()).skipped).toBe(2);
    expect(hashed).not.toHaveBeenCalled();
    await writeFile(join(source, "2.jpg"), "TWO"); // same size, new content
    hashed.mockClear();
    const summary = await run();
    expect(summary.transferred).toBe(1);
    expect(hashed).toHaveBeenCalledTimes(1);
    await store.close();
  });
});
