// A restore is a reading command: it must hold against the hostile-input kit of @toolkit/shared/testing, on S3
// and on a file:// store. Nothing is written outside the target folder, every hostile item is one failed item
// (or never listed), every ordinary one is restored byte for byte, and no partial file is left.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { keyToLocalPath } from "@toolkit/shared";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  HOSTILE_SECRET,
  type HostileSandbox,
  type HostileSeed,
  seedHostileStore,
  snapshotTree,
  startS3Server,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, describe, expect, test } from "vitest";
import { restoreDirectory } from "./index.ts";

const sandboxes: HostileSandbox[] = [];
afterAll(() => Promise.all(sandboxes.map((s) => s.remove())));

async function restoreHostile(box: HostileSandbox, seed: HostileSeed, source: string, connection: object) {
  const before = await snapshotTree(box.root, { exclude: ["target"] });
  const summary = await restoreDirectory({
    source,
    destination: box.target,
    statePath: false,
    defaultExcludes: false,
    attempts: 1,
    ...connection,
  });
  // Nothing outside the target folder changed; the secret is intact.
  expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
  expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);
  const { ok, failed } = seed.expected();
  expect(summary.failures.map((f) => f.key).sort()).toEqual([...failed].sort());
  for (const failure of summary.failures) expect(failure.message).not.toContain("\n");
  for (const key of ok) {
    const item = seed.item(key);
    const path = keyToLocalPath(box.target, key.normalize("NFC")).absolute;
    const bytes = await readFile(path);
    expect(createHash("sha256").update(bytes).digest("hex"), key).toBe(item.sha256);
  }
  const written = (await readdir(box.target, { recursive: true })).map(String);
  expect(written.filter((name) => name.includes(".s3kit-partial-"))).toEqual([]);
  expect(summary.transferred).toBe(ok.length);
  return summary;
}

describe("photo-sync restore against the hostile-input kit", () => {
  test("an S3 prefix of crafted keys, lying metadata and bombs", async () => {
    const box = await createHostileSandbox("restore-s3");
    sandboxes.push(box);
    const server = await startS3Server();
    const { url } = await createTestBucket(server, "ps-hostile");
    const seed = await seedHostileStore({
      location: `${url}pre/`,
      outsideDir: box.outside,
      clientOptions: testClientOptions(server),
      bombBytes: 4 * 1024 * 1024,
    });
    const summary = await restoreHostile(box, seed, `${url}pre/`, testClientOptions(server));
    expect(summary.failures.find((f) => f.key === "lies/sha256-mismatch.txt")?.message).toMatch(/SHA-256/);
  });

  test("a file:// store with symlinks, a FIFO and a nested .s3kit", async () => {
    const box = await createHostileSandbox("restore-file");
    sandboxes.push(box);
    const seed = await seedHostileStore({
      location: pathToFileURL(box.store).href,
      outsideDir: box.outside,
      bombBytes: 1024 * 1024,
    });
    await restoreHostile(box, seed, pathToFileURL(box.store).href, {});
  });
});
