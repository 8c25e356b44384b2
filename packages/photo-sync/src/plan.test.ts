import { mkdir, mkdtemp, readdir, rm, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type ObjectStore, openObjectStore, partSizeFor } from "@toolkit/shared";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { contentTypeFor } from "./content-type.ts";
import { isPhotoSyncError } from "./errors.ts";
import { applyPlan, planSync, syncDirectory } from "./index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "photo-sync-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name);
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), body);
  }
  return root;
}

describe("options", () => {
  test("bad options fail with one line naming the option and the value", async () => {
    const source = await tree("opts", { "a.jpg": "a" });
    const attempt = (extra: Record<string, unknown>) =>
      planSync({ source, destination: join(dir, "opts-out"), ...extra } as never).catch((e: unknown) => e);
    const e1 = await attempt({ maxDelete: -1 });
    expect(isPhotoSyncError(e1, "photoSync.invalidOptions")).toBe(true);
    expect((e1 as Error).message).toMatch(/^planSync: invalid `maxDelete` \(-1\)/);
    expect((e1 as Error).message).not.toContain("\n");
    const e2 = await attempt({ compare: "fast" });
    expect((e2 as Error).message).toMatch(/`compare` \("fast"\)/);
    const e3 = await attempt({ exlude: ["x"] });
    expect((e3 as Error).message).toMatch(/unknown option.*`exlude`/);
    const e4 = await attempt({ credentials: { accessKeyId: 1, secretAccessKey: "s3cr3t" } });
    expect((e4 as Error).message).not.toContain("s3cr3t");
    const e5 = await applyPlan({} as never, { concurrency: 0 }).catch((e: unknown) => e);
    expect((e5 as Error).message).toMatch(/^applyPlan: invalid `concurrency` \(0\)/);
  });

  test("a missing source and a destination inside the source are clear errors", async () => {
    const missing = await planSync({ source: join(dir, "nope"), destination: join(dir, "x") }).catch((e: unknown) => e);
    expect(isPhotoSyncError(missing, "photoSync.sourceNotFound")).toBe(true);
    const source = await tree("self", { "a.jpg": "a" });
    const self = await planSync({ source, destination: source, statePath: false }).catch((e: unknown) => e);
    expect(isPhotoSyncError(self, "photoSync.invalidOptions")).toBe(true);
  });
});

describe("planSync and syncDirectory on file://", () => {
  test("a destination folder inside the source is never scanned into itself", async () => {
    const source = await tree("nested", { "a.jpg": "a", "b/c.jpg": "c" });
    const summary = await syncDirectory({ source, destination: join(source, "backup"), statePath: false });
    expect(summary.transferred).toBe(2);
    const again = await syncDirectory({ source, destination: join(source, "backup"), statePath: false });
    expect(again.scanned).toBe(2);
    expect(again.transferred).toBe(0);
    expect((await readdir(join(source, "backup"))).sort()).toEqual([".s3kit", "a.jpg", "b"]);
  });

  test("symlinks are skipped and counted unless followed", async () => {
    const source = await tree("links", { "real/a.jpg": "a" });
    await symlink(join(source, "real"), join(source, "link-dir"));
    await symlink(join(source, "real/a.jpg"), join(source, "link.jpg"));
    await symlink(source, join(source, "real/loop"));
    const plain = await planSync({ source, destination: join(dir, "links-out"), statePath: false });
    expect(plain.totals.symlinks).toBe(3);
    expect(plain.transfers.map((u) => u.key)).toEqual(["real/a.jpg"]);
    const followed = await planSync({
      source,
      destination: join(dir, "links-out"),
      statePath: false,
      followSymlinks: true,
    });
    expect(followed.transfers.map((u) => u.key).sort()).toEqual(["link-dir/a.jpg", "link.jpg", "real/a.jpg"]);
  });

  test("the state file makes an mtime-only change an upload and a no-change run a skip", async () => {
    const source = await tree("state", { "a.jpg": "aaaa" });
    const options = { source, destination: join(dir, "state-out"), statePath: join(dir, "state.ndjson") };
    expect((await syncDirectory(options)).transferred).toBe(1);
    expect((await syncDirectory(options)).transferred).toBe(0);
    const later = new Date(Date.now() + 60_000);
    await utimes(join(source, "a.jpg"), later, later);
    const plan = await planSync(options);
    expect(plan.transfers.map((u) => [u.key, u.reason])).toEqual([["a.jpg", "modified"]]);
  });

  test("a Lightroom lock file gives a warning", async () => {
    const source = await tree("lock", { "Cat.lrcat": "db", "Cat.lrcat.lock": "" });
    const plan = await planSync({ source, destination: join(dir, "lock-out"), statePath: false });
    expect(plan.warnings.join()).toMatch(/Lightroom looks open/);
    expect(plan.transfers.map((u) => u.key)).toEqual(["Cat.lrcat"]);
  });
});

describe("applyPlan", () => {
  test("uploads at most `concurrency` files at once", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 24; i++) files[`d${i % 3}/f${i}.jpg`] = `body ${i}`;
    const source = await tree("bounded", files);
    const inner = openObjectStore(pathToFileURL(join(dir, "bounded-out")).href);
    let inFlight = 0;
    let most = 0;
    const store: ObjectStore = {
      ...inner,
      put: async (...args: Parameters<ObjectStore["put"]>) => {
        most = Math.max(most, ++inFlight);
        try {
          await new Promise((r) => setTimeout(r, 5));
          return await inner.put(...args);
        } finally {
          inFlight--;
        }
      },
    };
    const summary = await syncDirectory({ source, destination: inner.url, store, statePath: false, concurrency: 3 });
    expect(summary.transferred).toBe(24);
    expect(most).toBe(3);
    await inner.close();
  });
});

describe("applyPlan memory bound", () => {
  test("large (multipart) files go at most concurrency / 4 at once, each with more parts in flight", async () => {
    const source = await tree("large", { "small.jpg": "s" });
    const MiB = 1024 * 1024;
    for (let i = 0; i < 5; i++) {
      await writeFile(join(source, `big-${i}.dng`), "");
      await truncate(join(source, `big-${i}.dng`), 5 * MiB + 1 + i); // sparse: no disk used
    }
    const inner = openObjectStore(pathToFileURL(join(dir, "large-out")).href);
    let large = 0;
    let most = 0;
    const parts: number[] = [];
    const store: ObjectStore = {
      ...inner,
      put: async (key, body, options = {}) => {
        const isLarge = (options.contentLength ?? 0) > 5 * MiB;
        if (isLarge) {
          most = Math.max(most, ++large);
          parts.push(options.partConcurrency ?? 0);
        }
        try {
          await new Promise((r) => setTimeout(r, 10));
          return await inner.put(key, body, options);
        } finally {
          if (isLarge) large--;
        }
      },
    };
    const summary = await syncDirectory({
      source,
      destination: inner.url,
      store,
      statePath: false,
      concurrency: 8,
      multipartThresholdBytes: 5 * MiB,
      partSizeBytes: 5 * MiB,
    });
    expect(summary.transferred).toBe(6);
    expect(most).toBe(2);
    expect(parts.slice(0, 2)).toEqual([4, 4]);
    expect(Math.max(...parts)).toBeLessThanOrEqual(8);
    await inner.close();
  });
});

describe("helpers", () => {
  test("content types cover camera raw files", () => {
    expect(contentTypeFor("a/IMG_1.JPG")).toBe("image/jpeg");
    expect(contentTypeFor("IMG_1.CR3")).toBe("image/x-canon-cr3");
    expect(contentTypeFor("DSC_1.nef")).toBe("image/x-nikon-nef");
    expect(contentTypeFor("x.xmp")).toBe("application/rdf+xml");
    expect(contentTypeFor("Catalog.lrcat")).toBe("application/octet-stream");
  });

  test("part size grows so a file fits in 10,000 parts", () => {
    const MiB = 1024 * 1024;
    expect(partSizeFor(100 * MiB, 8 * MiB)).toBe(8 * MiB);
    expect(partSizeFor(200_000 * MiB, 8 * MiB)).toBe(20 * MiB);
  });
});
