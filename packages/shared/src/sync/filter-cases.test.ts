import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openObjectStore } from "../open-object-store.ts";
import { FILTER_CASES } from "../testing/filter-cases.ts";
import { createPathFilter } from "./filter.ts";
import { planSync } from "./plan.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sync-filter-cases-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(FILTER_CASES.map((c, i) => ({ ...c, i })))("filter: $name", (c) => {
  test("createPathFilter selects the table's files", () => {
    const filter = createPathFilter(c.exclude, c.include);
    expect(c.files.filter((f) => filter.accepts(f)).sort()).toEqual([...c.selected].sort());
  });

  test("the engine selects the same in both directions (local scan and store listing)", async () => {
    const local = join(dir, `local-${c.i}`);
    const store = openObjectStore(pathToFileURL(join(dir, `store-${c.i}`)).href);
    for (const file of c.files) {
      await mkdir(dirname(join(local, file)), { recursive: true });
      await writeFile(join(local, file), file);
      await store.put(file.normalize("NFC"), file);
    }
    const options = { local, store, exclude: c.exclude, include: c.include, statePath: false as const };
    const empty = openObjectStore(pathToFileURL(join(dir, `empty-${c.i}`)).href);
    const up = await planSync({ ...options, direction: "upload", store: empty });
    const down = await planSync({ ...options, direction: "download", local: join(dir, `down-${c.i}`) });
    const want = c.selected.map((f) => f.normalize("NFC")).sort();
    expect(up.transfers.map((t) => t.key).sort()).toEqual(want);
    expect(down.transfers.map((t) => t.key).sort()).toEqual(want);
    await store.close();
  });
});
