import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, test } from "vitest";
import { hashBytes } from "./hashing.ts";
import { openObjectStore } from "./open-object-store.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test("files placed by hand are hashed once, then served from the cached sidecar", async () => {
  const dir = await mkdtemp(join(tmpdir(), "s3kit-hand-"));
  dirs.push(dir);
  await writeFile(join(dir, "photo.jpg"), "by hand");
  const store = openObjectStore(pathToFileURL(dir).href);
  const first = await store.head("photo.jpg");
  expect(first?.etag).toBe(`"${hashBytes("by hand", "md5")}"`);
  expect(await readdir(join(dir, ".s3kit/meta"))).toEqual(["photo.jpg.json"]);
  // A put after that replaces the cache, metadata included.
  await store.put("photo.jpg", "by store", { metadata: { a: "1" } });
  const second = await store.head("photo.jpg");
  expect(second?.etag).toBe(`"${hashBytes("by store", "md5")}"`);
  expect(second?.metadata).toEqual({ a: "1" });
});
