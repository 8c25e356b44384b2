import { mkdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { hashBytes } from "./hashing.ts";
import type { Logger } from "./logger.ts";
import type { ListEntry, ObjectStore, SkippedEntry } from "./object-store.ts";
import { openObjectStore } from "./open-object-store.ts";
import {
  createHostileSandbox,
  diffTrees,
  HOSTILE_SECRET,
  type HostileSandbox,
  type HostileSeed,
  seedHostileStore,
  snapshotTree,
} from "./testing/hostile.ts";

const sandboxes: HostileSandbox[] = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.remove())));

async function hostile(): Promise<{ box: HostileSandbox; seed: HostileSeed }> {
  const box = await createHostileSandbox("file-store");
  sandboxes.push(box);
  const seed = await seedHostileStore({
    location: pathToFileURL(box.store).href,
    outsideDir: box.outside,
    bombBytes: 64 * 1024,
  });
  return { box, seed };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (message) => warnings.push(message) };
}

async function collect(store: ObjectStore, options = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.list(options) as AsyncIterable<ListEntry>)
    out.push(e.kind === "object" ? e.key : e.prefix);
  return out;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("file:// store: reading writes nothing", () => {
  test("files placed by hand get their MD5 as ETag, and head/list/get create no sidecar", async () => {
    const box = await createHostileSandbox("hand");
    sandboxes.push(box);
    await writeFile(join(box.store, "photo.jpg"), "by hand");
    await mkdir(join(box.store, "sub"));
    await writeFile(join(box.store, "sub", "two.txt"), "two");
    const before = await snapshotTree(box.store);
    const store = openObjectStore(pathToFileURL(box.store).href);
    expect((await store.head("photo.jpg"))?.etag).toBe(`"${hashBytes("by hand", "md5")}"`);
    expect(await collect(store)).toEqual(["photo.jpg", "sub/two.txt"]);
    expect(await collect(store, { delimiter: "/" })).toEqual(["photo.jpg", "sub/"]);
    expect(Buffer.from(await store.getBytes("sub/two.txt")).toString()).toBe("two");
    expect(diffTrees(before, await snapshotTree(box.store))).toEqual([]);
    // A put after that writes the sidecar, metadata included.
    await store.put("photo.jpg", "by store", { metadata: { a: "1" } });
    const second = await store.head("photo.jpg");
    expect(second?.etag).toBe(`"${hashBytes("by store", "md5")}"`);
    expect(second?.metadata).toEqual({ a: "1" });
  });

  test("a sidecar that lies (a path as ETag, wrong size) is ignored: the ETag is the file's MD5", async () => {
    const box = await createHostileSandbox("sidecar");
    sandboxes.push(box);
    const store = openObjectStore(pathToFileURL(box.store).href);
    await store.put("x.txt", "real", { metadata: { a: "1" } });
    const sidecar = join(box.store, ".s3kit", "meta", "x.txt.json");
    const parsed = JSON.parse(await readFile(sidecar, "utf8"));
    await writeFile(sidecar, JSON.stringify({ ...parsed, etag: '"../../../etc/passwd"' }));
    expect((await store.head("x.txt"))?.etag).toBe(`"${hashBytes("real", "md5")}"`);
    await writeFile(sidecar, "{not json");
    expect((await store.head("x.txt"))?.etag).toBe(`"${hashBytes("real", "md5")}"`);
  });
});

describe("file:// store against the hostile kit", () => {
  test("a recursive listing ends, skips and reports every link and FIFO, hides .s3kit, and writes nothing", async () => {
    const { box, seed } = await hostile();
    const before = await snapshotTree(box.root);
    const reported: SkippedEntry[] = [];
    const logger = recordingLogger();
    const store = openObjectStore(pathToFileURL(box.store).href, {
      logger,
      onSkippedEntry: (entry) => reported.push(entry),
    });
    const listed = await collect(store);
    const expected = seed.items.filter((i) => i.listed).map((i) => i.key);
    expect(listed).toEqual([...expected].sort(byteOrder));
    const unlisted = seed.items.filter((i) => i.category === "symlink" || i.category === "special");
    expect(reported.map((r) => r.path).sort()).toEqual(unlisted.map((i) => i.key).sort());
    expect(reported.find((r) => r.path === "d/loop")?.reason).toBe("symbolicLink");
    if (reported.some((r) => r.path === "fifo"))
      expect(reported.find((r) => r.path === "fifo")?.reason).toBe("notAFile");
    expect(logger.warnings).toHaveLength(reported.length);
    expect(logger.warnings.find((w) => w.includes("d/loop"))).toMatch(/symbolic link.*never follows/);
    expect(listed.some((k) => k.includes(".s3kit"))).toBe(false);
    expect(await collect(store, { delimiter: "/" })).not.toContain("etc/");
    expect(await collect(store, { prefix: "etc/" })).toEqual([]);
    expect(await collect(store, { prefix: "d/loop/" })).toEqual([]);
    for (const key of expected) await store.head(key);
    expect(diffTrees(before, await snapshotTree(box.root))).toEqual([]);
  });

  test("reads never follow a link: head sees nothing, get is notFound naming the link", async () => {
    const { box, seed } = await hostile();
    const store = openObjectStore(pathToFileURL(box.store).href);
    for (const key of [
      "etc/secret.txt",
      "secret-link.txt",
      "d/loop/file.txt",
      "d/loop/d/file.txt",
      "sub/inside-link.txt",
    ]) {
      expect(await store.head(key), key).toBeUndefined();
      await expect(store.get(key), key).rejects.toMatchObject({
        code: "notFound",
        message: expect.stringMatching(/symbolic link/),
      });
    }
    if (seed.items.some((i) => i.key === "fifo")) {
      expect(await store.head("fifo")).toBeUndefined();
      await expect(store.get("fifo")).rejects.toMatchObject({ code: "notFound" });
    }
    await expect(store.get("nested/.s3kit/hidden.txt")).rejects.toMatchObject({ code: "invalidKey" });
    await expect(store.copy("etc/secret.txt", "copied.txt")).rejects.toMatchObject({ code: "notFound" });
    expect(await store.head("copied.txt")).toBeUndefined();
    expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
    expect(Buffer.from(await store.getBytes("d/file.txt")).toString()).toBe("in d\n");
    expect((await store.getBytes("empty/zero.bin", { range: { start: 0, end: 1023 } })).byteLength).toBe(0);
    void box;
  });

  test("writes and deletes through a link are refused or do nothing; the outside stays as it was", async () => {
    const { box, seed } = await hostile();
    const store = openObjectStore(pathToFileURL(box.store).href);
    const outside = await snapshotTree(box.outside);
    for (const key of ["sub/new.txt", "etc/new.txt", "d/loop/new.txt", "secret-link.txt", "dangling"]) {
      await expect(store.put(key, "written through a link"), key).rejects.toMatchObject({
        code: "invalidKey",
        message: expect.stringMatching(/symbolic link.*never writes through links/),
      });
      await expect(store.put(key, "x", { ifNoneMatch: "*" }), key).rejects.toMatchObject({ code: "invalidKey" });
    }
    await expect(store.put("deeper/.s3kit/x", "x")).rejects.toMatchObject({ code: "invalidKey" });
    for (const key of ["etc/secret.txt", "sub/inside-link.txt", "secret-link.txt"]) await store.delete(key);
    const result = await store.deleteMany(["etc/secret.txt", "sub/inside-link.txt"]);
    expect(result.errors).toEqual([]);
    expect(diffTrees(outside, await snapshotTree(box.outside))).toEqual([]);
    expect(await readlink(join(box.store, "secret-link.txt"))).toBe(seed.secretPath);
    expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
  });

  test("a store whose .s3kit is a link out refuses every write instead of writing through it", async () => {
    const box = await createHostileSandbox("system-link");
    sandboxes.push(box);
    await symlink(box.outside, join(box.store, ".s3kit"));
    const store = openObjectStore(pathToFileURL(box.store).href);
    const before = await snapshotTree(box.outside);
    await expect(store.put("a.txt", "x")).rejects.toMatchObject({
      code: "invalidKey",
      message: expect.stringMatching(/`\.s3kit` is a symbolic link/),
    });
    await expect(store.put("b.txt", "x", { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "invalidKey" });
    expect(diffTrees(before, await snapshotTree(box.outside))).toEqual([]);
    await rm(join(box.store, ".s3kit"));
  });
});
