import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type StateMeta, SyncState } from "./state.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sync-state-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta: StateMeta = { direction: "upload", local: "/photos", remote: "s3://b/p/" };

test("a saved state loads back whole, across read chunks (20,000 keys, ~2 MB)", async () => {
  const path = join(dir, "big.ndjson");
  const state = new SyncState(path);
  for (let i = 0; i < 20_000; i++)
    state.set(`2024/Shoot ${i % 100}/IMG_${i}.jpg`, { size: i, mtimeMs: 1_700_000_000_000 + i, etag: `"e${i}"` });
  await state.save(meta);
  expect((await readFile(path, "utf8")).length).toBeGreaterThan(1_000_000);
  const loaded = await SyncState.load(path, meta);
  expect(loaded.entries.size).toBe(20_000);
  expect(loaded.get("2024/Shoot 99/IMG_19999.jpg")).toEqual({
    size: 19_999,
    mtimeMs: 1_700_000_019_999,
    etag: '"e19999"',
  });
});

test("another sync's file, a missing file and a damaged file give an empty state; a wrong-shaped entry is dropped", async () => {
  const path = join(dir, "s.ndjson");
  const header = JSON.stringify({ format: "s3kit-sync-state", version: 1, ...meta });
  const good = JSON.stringify(["a", { size: 1, mtimeMs: 2, etag: '"x"' }]);
  await writeFile(path, `${header}\r\n${good}\r\n${JSON.stringify(["b", { size: "1", mtimeMs: 2, etag: "" }])}\n`);
  expect([...(await SyncState.load(path, meta)).entries.keys()]).toEqual(["a"]);
  expect((await SyncState.load(path, { ...meta, local: "/other" })).entries.size).toBe(0);
  expect((await SyncState.load(join(dir, "missing.ndjson"), meta)).entries.size).toBe(0);
  await writeFile(path, `${header}\n${good}\n{"cut`);
  expect((await SyncState.load(path, meta)).entries.size).toBe(0);
  // no line end after the last line
  await writeFile(path, `${header}\n${good}`);
  expect((await SyncState.load(path, meta)).entries.size).toBe(1);
});
