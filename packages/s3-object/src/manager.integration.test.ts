import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openObjectStore } from "@toolkit/shared";
import { createTestBucket, startFaultProxy, startS3Server, testClientOptions } from "@toolkit/shared/testing";
import { beforeAll, expect, test } from "vitest";
import { S3FileManager } from "./index.ts";

let server: Awaited<ReturnType<typeof startS3Server>>;
beforeAll(async () => {
  server = await startS3Server();
});

async function setup(tag: string, endpoint?: string) {
  const { url } = await createTestBucket(server, tag);
  const store = openObjectStore(url, testClientOptions(server));
  const base = await mkdtemp(join(tmpdir(), "s3o-mgr-"));
  const manager = new S3FileManager({
    cacheDir: join(base, "cache"),
    concurrency: 4,
    ...testClientOptions(server, endpoint ?? server.endpoint),
  });
  return { url, store, base, manager };
}

const exists = (p: string) =>
  readFile(p).then(
    () => true,
    () => false,
  );

test("downloadPrefix into a directory under ~/.cache gets every file (no default exclude hides dot dirs)", async () => {
  const { url, store, base, manager } = await setup("dotcache");
  await store.put("data/a.txt", "A");
  await store.put("data/sub/b.txt", "B");
  await store.put("data/.hidden", "H");
  const target = join(base, "home", ".cache", "s3kit", "data");
  const result = await manager.downloadPrefix(`${url}data/`, target);
  expect(result).toMatchObject({ transferred: 3, failed: 0 });
  expect(await readFile(join(target, "a.txt"), "utf8")).toBe("A");
  expect(await readFile(join(target, "sub", "b.txt"), "utf8")).toBe("B");
  expect(await readFile(join(target, ".hidden"), "utf8")).toBe("H");
  await manager.close();
});

test("a no-change downloadPrefix costs only the listing", async () => {
  const proxy = await startFaultProxy({ target: server.endpoint });
  try {
    const { url, store, base, manager } = await setup("nochange", proxy.endpoint);
    for (const k of ["a", "b", "c", "d"]) await store.put(`p/${k}`, k);
    const target = join(base, "out");
    expect((await manager.downloadPrefix(`${url}p/`, target)).transferred).toBe(4);
    const before = proxy.requests.length;
    const again = await manager.downloadPrefix(`${url}p/`, target);
    expect(again).toMatchObject({ transferred: 0, skipped: 4 });
    expect(proxy.requests.slice(before).map((r) => r.method)).toEqual(["GET"]); // one ListObjectsV2
    await manager.close();
  } finally {
    await proxy.stop();
  }
});

test("delete removes only stray files inside the target, never excluded ones or files outside", async () => {
  const { url, store, base, manager } = await setup("mirror");
  await store.put("m/keep.txt", "K");
  const target = join(base, "target");
  await mkdir(join(target, ".git"), { recursive: true });
  await writeFile(join(target, ".git", "config"), "git");
  await writeFile(join(target, "stray.txt"), "S");
  await writeFile(join(base, "outside.txt"), "O");
  // One delete of a one-item destination is 100 %: the count limit lifts the share limit (rail 3).
  const options = { delete: true, exclude: [".git/**"], maxDelete: 1 };
  const plan = await manager.downloadPrefix(`${url}m/`, target, { ...options, dryRun: true });
  expect(plan.plan?.deletes.map((d) => d.path)).toEqual([join(target, "stray.txt")]);
  expect(await exists(join(target, "stray.txt"))).toBe(true); // dry run changed nothing
  expect(await exists(join(target, "keep.txt"))).toBe(false);
  const result = await manager.downloadPrefix(`${url}m/`, target, options);
  expect(result).toMatchObject({ transferred: 1, deleted: 1, failed: 0 });
  expect(await exists(join(target, "stray.txt"))).toBe(false);
  expect(await exists(join(target, ".git", "config"))).toBe(true);
  expect(await exists(join(base, "outside.txt"))).toBe(true);
  await manager.close();
});

test("uploadPrefix uploads changed files only, delete removes remote strays but not excluded keys", async () => {
  const { url, store, base, manager } = await setup("upprefix");
  const src = join(base, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "a.txt"), "A");
  await writeFile(join(src, "sub", "b.txt"), "B");
  await writeFile(join(src, "skip.tmp"), "T");
  await store.put("up/old.txt", "old");
  await store.put("up/keep.tmp", "remote only, excluded");
  const first = await manager.uploadPrefix(src, `${url}up/`, { exclude: ["*.tmp"], delete: true, maxDelete: 1 });
  expect(first).toMatchObject({ transferred: 2, deleted: 1, failed: 0 });
  const keys: string[] = [];
  for await (const e of store.list({ prefix: "up/" })) if (e.kind === "object") keys.push(e.key);
  expect(keys.sort()).toEqual(["up/a.txt", "up/keep.tmp", "up/sub/b.txt"]);
  await writeFile(join(src, "a.txt"), "A2");
  const second = await manager.uploadPrefix(src, `${url}up/`, { exclude: ["*.tmp"] });
  expect(second).toMatchObject({ transferred: 1, skipped: 1, failed: 0 });
  expect(Buffer.from(await store.getBytes("up/a.txt")).toString()).toBe("A2");
  await manager.close();
});

test("downloadAll and uploadAll report per-item results; a conflict is one failed item", async () => {
  const { url, store, manager } = await setup("all");
  await store.put("x", "1");
  await store.put("y", "2");
  const files = [manager.file(`${url}x`), manager.file(`${url}y`)];
  const down = await manager.downloadAll(files);
  expect(down).toMatchObject({ transferred: 2, failed: 0, bytes: 2 });
  await writeFile(files[0]!.localPath, "1b");
  await writeFile(files[1]!.localPath, "2b");
  await store.put("y", "someone else");
  const up = await manager.uploadAll(files);
  expect(up).toMatchObject({ transferred: 1, failed: 1 });
  expect(up.items.find((i) => i.status === "failed")?.error).toMatchObject({ code: "object.conflict" });
  await manager.close();
});

test("a dry run marks unchanged objects as unchanged and plans only real transfers", async () => {
  const { url, store, base, manager } = await setup("dryrun");
  await store.put("d/a", "A");
  await store.put("d/b", "B");
  const target = join(base, "t");
  await manager.downloadPrefix(`${url}d/`, target);
  await store.put("d/b", "B2");
  const plan = await manager.downloadPrefix(`${url}d/`, target, { dryRun: true });
  expect(plan).toMatchObject({ dryRun: true, skipped: 1 });
  expect(plan.plan?.transfers.map((t) => t.key)).toEqual(["b"]);
  expect(await readFile(join(target, "b"), "utf8")).toBe("B");
  await manager.downloadPrefix(`${url}d/`, target);
  await writeFile(join(target, "a"), "A local");
  const upPlan = await manager.uploadPrefix(target, `${url}d/`, { dryRun: true });
  expect(upPlan.plan?.transfers.map((t) => t.key)).toEqual(["a"]);
  await manager.close();
});

test("onProgress reports bytes and items; the last call has every item done", async () => {
  const { url, store, base } = await setup("progress");
  await store.put("g/a", "A".repeat(1000));
  await store.put("g/b", "B".repeat(3000));
  const calls: { loadedBytes: number; completedItems?: number; totalItems?: number }[] = [];
  const manager = new S3FileManager({
    cacheDir: join(base, "cache"),
    concurrency: 2,
    onProgress: (p) => calls.push(p),
    ...testClientOptions(server),
  });
  const result = await manager.downloadPrefix(`${url}g/`, join(base, "g"));
  expect(result).toMatchObject({ transferred: 2, transferredBytes: 4000 });
  expect(calls.length).toBeGreaterThan(0);
  expect(calls.at(-1)).toMatchObject({ loadedBytes: 4000, completedItems: 2, totalItems: 2 });
  expect(calls.every((c, i) => i === 0 || c.loadedBytes >= calls[i - 1]!.loadedBytes)).toBe(true);
  await manager.close();
});

test("a listed key that would land outside the target directory is a failed item; nothing is written outside", async () => {
  const { base, manager } = await setup("escape");
  const { client, bucket } = await createTestBucket(server, "escape-raw");
  const { PutObjectCommand } = await import("@aws-sdk/client-s3");
  // The shared store refuses such keys; a foreign writer (raw SDK) can still create them.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "e/../../evil.txt", Body: "E" }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "e/ok.txt", Body: "O" }));
  client.destroy();
  const target = join(base, "deep", "target");
  const result = await manager.downloadPrefix(`s3://${bucket}/e/`, target);
  expect(result).toMatchObject({ transferred: 1, failed: 1 });
  expect(result.failures).toEqual([expect.objectContaining({ key: "../../evil.txt", code: "invalidRemoteData" })]);
  expect(await readFile(join(target, "ok.txt"), "utf8")).toBe("O");
  expect(await exists(join(base, "evil.txt"))).toBe(false);
  expect(await exists(join(base, "deep", "evil.txt"))).toBe(false);
  await manager.close();
});
