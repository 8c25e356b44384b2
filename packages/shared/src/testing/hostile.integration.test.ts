import { lstat, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, test } from "vitest";
import { createTestBucket, testClientOptions } from "./fixtures.ts";
import {
  createHostileSandbox,
  diffTrees,
  HOSTILE_SECRET,
  type HostileSandbox,
  seedHostileStore,
  snapshotTree,
} from "./hostile.ts";
import { startS3Server } from "./servers.ts";

const sandboxes: HostileSandbox[] = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.remove())));
const sandbox = async () => {
  const s = await createHostileSandbox();
  sandboxes.push(s);
  return s;
};

describe("hostile-input kit", () => {
  test("plants every crafted key under an S3 prefix, byte for byte, path keys included", async () => {
    const box = await sandbox();
    const server = await startS3Server();
    const { bucket, url, client } = await createTestBucket(server, "hostile");
    const seed = await seedHostileStore({
      location: `${url}pre/`,
      outsideDir: box.outside,
      clientOptions: testClientOptions(server),
      bombBytes: 4 * 1024 * 1024,
    });
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) listed.push(o.Key!.slice("pre/".length));
      token = page.NextContinuationToken;
    } while (token);
    client.destroy();
    expect(new Set(listed)).toEqual(new Set(seed.items.map((i) => i.key)));
    for (const key of ["../escaped.txt", "a//b.txt", "a/./b.txt", "nul\0byte.txt", "odd/CON", "empty/zero.bin"]) {
      expect(listed).toContain(key);
    }
    expect(seed.items.find((i) => i.key.startsWith("/"))?.key).toBe(`${box.outside}/abs-escaped.txt`);
    const { ok, failed, unlisted } = seed.expected("linux");
    expect(unlisted).toEqual([]);
    expect(failed).toContain("../escaped.txt");
    expect(failed).toContain("lies/hash-is-path.txt");
    expect(ok).toContain("odd/CON");
    expect(seed.expected("win32").failed).toContain("odd/CON");
    expect(seed.item("bomb/bomb.gz")).toMatchObject({ decodeFails: true, download: "ok" });
    expect(seed.item("bomb/bomb.gz").size).toBeLessThan(64 * 1024);
  });

  test("plants symlinks, a FIFO and a nested .s3kit in a file:// store, aiming at the outside folder", async () => {
    const box = await sandbox();
    const seed = await seedHostileStore({ location: pathToFileURL(box.store).href, outsideDir: box.outside });
    expect(seed.items.some((i) => i.category === "pathKey")).toBe(false);
    expect(await readlink(join(box.store, "d", "loop"))).toBe("..");
    expect(await readlink(join(box.store, "etc"))).toBe(box.outside);
    expect((await lstat(join(box.store, "sub"))).isSymbolicLink()).toBe(true);
    expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
    expect(await readFile(join(box.store, "odd", "cafe\u0301.txt"), "utf8")).toBe("odd key odd/cafe\u0301.txt\n");
    expect((await lstat(join(box.store, "empty", "zero.bin"))).size).toBe(0);
    const { unlisted } = seed.expected();
    expect(unlisted).toEqual(expect.arrayContaining(["d/loop", "etc", "sub", "secret-link.txt", "dangling"]));
    expect(unlisted).toContain("nested/.s3kit/hidden.txt");
  });

  test("snapshotTree never follows links and diffTrees names every change", async () => {
    const box = await sandbox();
    await seedHostileStore({ location: pathToFileURL(box.store).href, outsideDir: box.outside, bombBytes: 1024 });
    const before = await snapshotTree(box.root, { exclude: ["target"] });
    expect(before["store/etc"]).toBe(`link -> ${box.outside}`);
    expect(Object.keys(before).some((p) => p.startsWith("store/etc/"))).toBe(false);
    expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
    await writeFile(join(box.target, "ignored.txt"), "inside the target: not a change");
    await writeFile(join(box.root, "escaped.txt"), "x");
    await writeFile(join(box.outside, "secret.txt"), "changed");
    const diff = diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }));
    expect(diff).toEqual([
      expect.stringMatching(/^\+ escaped\.txt \(file /),
      expect.stringMatching(/^~ \.: dir /),
      expect.stringMatching(/^~ outside\/secret\.txt: file /),
    ]);
  });
});
