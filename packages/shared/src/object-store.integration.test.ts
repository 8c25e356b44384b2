import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { openObjectStore } from "./index.ts";
import { testObjectStore } from "./object-store.conformance.ts";
import type { ObjectStore } from "./object-store.ts";
import { createTestBucket, startS3Server, testClientOptions } from "./testing/index.ts";

const opened: ObjectStore[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

testObjectStore("S3 (local server)", async () => {
  const server = await startS3Server();
  const { url } = await createTestBucket(server, "conformance");
  const store = openObjectStore(`${url}some/prefix`, testClientOptions(server));
  opened.push(store);
  return store;
});

testObjectStore("file://", async () => {
  const dir = await mkdtemp(join(tmpdir(), "s3kit-conformance-"));
  dirs.push(dir);
  return openObjectStore(pathToFileURL(dir).href);
});

describe("file:// specifics", () => {
  test("keys can never escape the root, and the system folder stays hidden", async () => {
    const dir = await mkdtemp(join(tmpdir(), "s3kit-escape-"));
    dirs.push(dir);
    const store = openObjectStore(pathToFileURL(join(dir, "root")).href);
    for (const key of ["../outside.txt", "a/../../outside.txt", ".s3kit/meta/x"]) {
      await expect(store.put(key, "x")).rejects.toMatchObject({ code: "invalidKey" });
    }
    await store.put("inside.txt", "x", { metadata: { a: "1" } });
    expect((await readdir(dir)).sort()).toEqual(["root"]);
    const listed: string[] = [];
    for await (const e of store.list()) listed.push(e.kind === "object" ? e.key : e.prefix);
    expect(listed).toEqual(["inside.txt"]);
  });

  test("a file edited behind the store's back gets a fresh ETag", async () => {
    const dir = await mkdtemp(join(tmpdir(), "s3kit-edit-"));
    dirs.push(dir);
    const store = openObjectStore(pathToFileURL(dir).href);
    const { etag } = await store.put("x.txt", "one");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "x.txt"), "two, longer");
    const info = await store.head("x.txt");
    expect(info?.etag).not.toBe(etag);
    await expect(store.put("x.txt", "three", { ifMatch: etag })).rejects.toMatchObject({ code: "preconditionFailed" });
  });
});
