import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import * as hash from "./hash.ts";
import { syncDirectory } from "./index.ts";

vi.mock("./hash.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./hash.ts")>();
  return { ...original, hashLocalFile: vi.fn(original.hashLocalFile) };
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "photo-sync-cache-"));
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
    const options = {
      source,
      destination: join(dir, "out"),
      statePath: join(dir, "state.ndjson"),
      compare: "checksum" as const,
    };
    const hashed = vi.mocked(hash.hashLocalFile);
    expect((await syncDirectory(options)).uploaded).toBe(2); // new files: nothing to compare, nothing hashed
    hashed.mockClear();
    expect((await syncDirectory(options)).skipped).toBe(2);
    expect(hashed).toHaveBeenCalledTimes(2);
    hashed.mockClear();
    expect((await syncDirectory(options)).skipped).toBe(2);
    expect(hashed).not.toHaveBeenCalled();
    await writeFile(join(source, "2.jpg"), "TWO"); // same size, new content
    hashed.mockClear();
    const summary = await syncDirectory(options);
    expect(summary.uploaded).toBe(1);
    expect(hashed).toHaveBeenCalledTimes(1);
  });
});
