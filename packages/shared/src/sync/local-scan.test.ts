import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPathFilter } from "./filter.ts";
import { scanLocalTree } from "./local-scan.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "local-scan-"));
  for (let i = 0; i < 150; i++) {
    const sub = join(root, `shoot ${Math.floor(i / 50)}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `IMG_${String(i).padStart(4, "0")}.jpg`), "x".repeat(i));
  }
  await writeFile(join(root, "skip.tmp"), "tmp");
  await writeFile(join(root, ".photo.jpg.s3kit-partial-0123456789ab"), "partial");
  await symlink(join(root, "shoot 0"), join(root, "link"));
  await mkdir(join(root, "locked"));
  await writeFile(join(root, "locked", "secret.jpg"), "s");
  await chmod(join(root, "locked"), 0o000);
});
afterAll(async () => {
  await chmod(join(root, "locked"), 0o700);
  await rm(root, { recursive: true, force: true });
});

// The scan stats with synchronous calls while they are fast and with parallel asynchronous ones after a slow
// batch (slowStatBatchMs: -1 makes the first batch "slow"): both must see the same tree.
describe.each([
  ["synchronous stats", undefined],
  ["asynchronous stats after a slow batch", -1],
])("scanLocalTree with %s", (_, slowStatBatchMs) => {
  test("finds every file with its size, skips links, partial files and excluded names, reports unreadable folders", async () => {
    const result = await scanLocalTree(root, {
      filter: createPathFilter(["*.tmp"]),
      followSymlinks: false,
      ...(slowStatBatchMs !== undefined ? { slowStatBatchMs } : {}),
    });
    const files = result.files.filter((f) => !f.key.startsWith("locked/"));
    expect(files).toHaveLength(150);
    expect(files[0]).toMatchObject({ key: "shoot 0/IMG_0000.jpg", size: 0 });
    expect(files.find((f) => f.key === "shoot 2/IMG_0149.jpg")?.size).toBe(149);
    expect(files.every((f) => f.mtimeMs > 0 && f.ctimeMs > 0)).toBe(true);
    expect(result.symlinks).toBe(1);
    expect(result.excluded).toBe(1);
    expect(result.partials).toEqual([join(root, ".photo.jpg.s3kit-partial-0123456789ab")]);
    // root reads every folder; others cannot enter the locked one
    if (process.getuid?.() !== 0) expect(result.errors.map((e) => [e.path, e.code])).toEqual([["locked", "EACCES"]]);
  });

  test("follows a link to a folder when asked", async () => {
    const result = await scanLocalTree(root, {
      filter: createPathFilter([]),
      followSymlinks: true,
      ...(slowStatBatchMs !== undefined ? { slowStatBatchMs } : {}),
    });
    expect(result.files.filter((f) => f.key.startsWith("link/"))).toHaveLength(50);
    expect(result.symlinks).toBe(0);
  });
});
