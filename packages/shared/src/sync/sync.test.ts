import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ObjectStore } from "../object-store.ts";
import { openObjectStore } from "../open-object-store.ts";
import { applySyncPlan } from "./apply.ts";
import { isSyncError } from "./errors.ts";
import { META_SHA256 } from "./metadata.ts";
import type { PlanSyncOptions } from "./options.ts";
import { planSync } from "./plan.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sync-engine-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), body);
  }
  return root;
}

function fileStore(name: string): ObjectStore {
  return openObjectStore(pathToFileURL(join(dir, name)).href);
}

async function keys(store: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of store.list()) if (entry.kind === "object") out.push(entry.key);
  return out.sort();
}

async function sync(options: Omit<PlanSyncOptions, "statePath"> & { statePath?: string | false }) {
  const plan = await planSync({ statePath: false, ...options });
  return applySyncPlan(plan, { store: options.store });
}

async function files(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await files(root, path)));
    else out.push(path);
  }
  return out.sort();
}

describe("delete rails, upload", () => {
  test("rail 1: a missing source folder is an error before anything changes", async () => {
    const store = fileStore("r1-store");
    await store.put("keep.jpg", "k");
    const error = await planSync({ direction: "upload", local: join(dir, "src-typo"), store, delete: true }).catch(
      (e: unknown) => e,
    );
    expect(isSyncError(error, "sync.sourceNotFound")).toBe(true);
    expect((error as Error).message).toContain("src-typo");
    expect(await keys(store)).toEqual(["keep.jpg"]);
  });

  test("rail 2: an empty source folder stops the run before any change; allowEmptySource lifts it", async () => {
    const source = await tree("r2-empty", {});
    const store = fileStore("r2-store");
    for (let i = 0; i < 3; i++) await store.put(`p${i}.jpg`, "x");
    const plan = await planSync({ direction: "upload", local: source, store, delete: true, statePath: false });
    expect(plan.deleteBlocked?.code).toBe("emptySource");
    const error = await applySyncPlan(plan, { store }).catch((e: unknown) => e);
    expect(isSyncError(error, "sync.emptySource")).toBe(true);
    expect((error as Error).message).toContain("--allow-empty-source");
    expect(await keys(store)).toHaveLength(3);
    const summary = await sync({ direction: "upload", local: source, store, delete: true, allowEmptySource: true });
    expect(summary.deleted).toBe(3);
    expect(await keys(store)).toEqual([]);
  });

  test("rail 3: a 60 % delete stops at the share limit; maxDeletePercent or maxDelete lifts it", async () => {
    const source = await tree("r3-src", { "a.jpg": "a", "b.jpg": "b", "c.jpg": "c", "d.jpg": "d" });
    const store = fileStore("r3-store");
    await sync({ direction: "upload", local: source, store });
    for (let i = 0; i < 6; i++) await store.put(`old-${i}.jpg`, "o");
    const base = { direction: "upload" as const, local: source, store, delete: true };
    const error = await sync(base).catch((e: unknown) => e);
    expect(isSyncError(error, "sync.tooManyDeletes")).toBe(true);
    expect((error as Error).message).toMatch(/6 of 10 .*60 %.*--max-delete-percent 60.*--max-delete 6/);
    expect(await keys(store)).toHaveLength(10);
    const capped = await sync({ ...base, maxDelete: 5 }).catch((e: unknown) => e);
    expect(isSyncError(capped, "sync.tooManyDeletes")).toBe(true);
    expect((await sync({ ...base, maxDeletePercent: 60 })).deleted).toBe(6);
    for (let i = 0; i < 6; i++) await store.put(`old-${i}.jpg`, "o");
    expect((await sync({ ...base, maxDelete: 6 })).deleted).toBe(6);
    expect(await keys(store)).toEqual(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
  });

  test("rail 5: a failed transfer blocks every delete of the run", async () => {
    const source = await tree("r5-src", { "a.jpg": "a", "b.jpg": "b", "c.jpg": "c" });
    const store = fileStore("r5-store");
    await store.put("orphan.jpg", "o");
    const failing: ObjectStore = {
      ...store,
      put: async (key, body, options) => {
        if (key === "b.jpg") throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
        return store.put(key, body, options);
      },
    };
    const plan = await planSync({
      direction: "upload",
      local: source,
      store: failing,
      delete: true,
      maxDeletePercent: 100,
      statePath: false,
    });
    const summary = await applySyncPlan(plan, { store: failing, attempts: 1 });
    expect(summary.failed).toBe(1);
    expect(summary.deleted).toBe(0);
    expect(summary.deleteBlocked).toMatch(/1 transfer\(s\) failed/);
    expect(await keys(store)).toEqual(["a.jpg", "c.jpg", "orphan.jpg"]);
  });

  test("rail 6: deletes stay inside the prefix and never touch excluded keys", async () => {
    const source = await tree("r6-src", { "a.jpg": "a", "b.jpg": "b", "c.jpg": "c" });
    const root = fileStore("r6-root");
    await root.put("photos-old/x.jpg", "x");
    await root.put("photos/gone.jpg", "g");
    await root.put("photos/keep.tmp", "t");
    const store = openObjectStore(pathToFileURL(join(dir, "r6-root", "photos")).href);
    const options = { direction: "upload" as const, local: source, store, delete: true, exclude: ["*.tmp"] };
    // The one object under the prefix that takes part is 100 % of it: the share limit must be lifted.
    expect(isSyncError(await sync(options).catch((e: unknown) => e), "sync.tooManyDeletes")).toBe(true);
    const summary = await sync({ ...options, maxDeletePercent: 100 });
    expect(summary.deleted).toBe(1);
    expect(await keys(root)).toEqual([
      "photos-old/x.jpg",
      "photos/a.jpg",
      "photos/b.jpg",
      "photos/c.jpg",
      "photos/keep.tmp",
    ]);
  });
});

describe("local folder and file:// store", () => {
  test("a store inside the local folder is not scanned; a local folder inside the store is refused", async () => {
    const source = await tree("nest-src", { "a.jpg": "a" });
    const inner = openObjectStore(pathToFileURL(join(source, "backup")).href);
    expect((await sync({ direction: "upload", local: source, store: inner })).transferred).toBe(1);
    expect((await sync({ direction: "upload", local: source, store: inner })).transferred).toBe(0);
    const outer = fileStore("nest-outer");
    const error = await planSync({
      direction: "download",
      local: join(dir, "nest-outer", "restored"),
      store: outer,
    }).catch((e: unknown) => e);
    expect(isSyncError(error, "sync.invalidOptions")).toBe(true);
  });
});

describe("download", () => {
  test("restores bytes and mtimes; a re-run transfers nothing, with or without the state file", async () => {
    const mtime = new Date("2021-03-04T05:06:07.891Z");
    const source = await tree("dl-src", {
      "2024/Summer/IMG 1.CR2": randomBytes(3000),
      "Cafe\u0301.jpg": randomBytes(10),
      "empty.txt": Buffer.alloc(0),
    });
    for (const rel of await files(source)) await utimes(join(source, rel), mtime, mtime);
    const store = fileStore("dl-store");
    await sync({ direction: "upload", local: source, store });
    const target = join(dir, "dl-target");
    const statePath = join(dir, "dl.state");
    const first = await sync({ direction: "download", local: target, store, statePath });
    expect(first.transferred).toBe(3);
    expect(first.unverified).toBe(0);
    for (const rel of await files(source)) {
      const to = join(target, rel.normalize("NFC"));
      expect((await readFile(to)).equals(await readFile(join(source, rel))), rel).toBe(true);
      expect(Math.round((await stat(to)).mtimeMs)).toBe(mtime.getTime());
    }
    expect((await sync({ direction: "download", local: target, store, statePath })).transferred).toBe(0);
    expect((await sync({ direction: "download", local: target, store, statePath: false })).transferred).toBe(0);
  });

  test("an object that no longer matches its checksum is a failed item and its file is not written", async () => {
    const source = await tree("bad-src", { "a.jpg": "original a", "b.jpg": "original b" });
    const store = fileStore("bad-store");
    await sync({ direction: "upload", local: source, store });
    const info = await store.head("a.jpg");
    // Replaced behind s3kit's back, keeping the metadata that describes the old content.
    await store.put("a.jpg", "tampered!!", { metadata: info!.metadata });
    expect(info!.metadata[META_SHA256]).toMatch(/^[0-9a-f]{64}$/);
    const target = await tree("bad-target", { "a.jpg": "local a" });
    const summary = await sync({ direction: "download", local: target, store });
    expect(summary.transferred).toBe(1);
    expect(summary.failures.map((f) => [f.action, f.key, f.code])).toEqual([
      ["download", "a.jpg", "invalidRemoteData"],
    ]);
    expect(await readFile(join(target, "a.jpg"), "utf8")).toBe("local a");
    expect(await files(target)).toEqual(["a.jpg", "b.jpg"]);
  });

  test("partial files of an interrupted run are removed by the next one, never uploaded or counted", async () => {
    const store = fileStore("partial-store");
    await store.put("a.jpg", "a");
    const target = await tree("partial-target", { ".a.jpg.s3kit-partial-0123456789ab": "half" });
    const up = await planSync({ direction: "upload", local: target, store, statePath: false });
    expect(up.transfers).toEqual([]);
    const summary = await sync({ direction: "download", local: target, store });
    expect(summary.partialsRemoved).toBe(1);
    expect(await files(target)).toEqual(["a.jpg"]);
  });

  test("rails hold for downloads: an empty or missing prefix never empties the local folder", async () => {
    const target = await tree("dl-rails", { "a.jpg": "a", "b.jpg": "b" });
    const store = fileStore("dl-rails-empty");
    const error = await sync({ direction: "download", local: target, store, delete: true }).catch((e: unknown) => e);
    expect(isSyncError(error, "sync.emptySource")).toBe(true);
    expect(await files(target)).toEqual(["a.jpg", "b.jpg"]);
    await store.put("a.jpg", "a");
    await store.put("c.jpg", "c");
    const summary = await sync({ direction: "download", local: target, store, delete: true });
    expect(summary.deleted).toBe(1);
    expect(await files(target)).toEqual(["a.jpg", "c.jpg"]);
  });

  test("a key that cannot be a safe local path is a listing failure and blocks deletes", async () => {
    const listed = fileStore("unsafe-store");
    await listed.put("ok.jpg", "ok");
    const store: ObjectStore = {
      ...listed,
      list: async function* (options) {
        yield* listed.list(options);
        yield { kind: "object", key: "a//b.jpg", size: 1, etag: '"x"', lastModified: new Date() };
      },
    };
    const target = await tree("unsafe-target", { "local-only.jpg": "l" });
    const plan = await planSync({ direction: "download", local: target, store, delete: true, statePath: false });
    expect(plan.errors.map((e) => [e.action, e.key, e.code])).toEqual([["list", "a//b.jpg", "invalidRemoteData"]]);
    expect(plan.deleteBlocked?.code).toBe("scanErrors");
    const summary = await applySyncPlan(plan, { store });
    expect(summary.deleted).toBe(0);
    expect(await files(target)).toEqual(["local-only.jpg", "ok.jpg"]);
  });
});

describe("leftovers of killed uploads", () => {
  test("incomplete multipart uploads older than the age, for selected keys, are aborted before the run", async () => {
    const source = await tree("stale-src", { "a.jpg": "a" });
    const inner = fileStore("stale-store");
    const day = 24 * 60 * 60 * 1000;
    const uploads = [
      { key: "a.jpg", uploadId: "old", initiated: new Date(Date.now() - 2 * day) },
      { key: "b.jpg", uploadId: "young", initiated: new Date(Date.now() - 60_000) },
      { key: "x.tmp", uploadId: "excluded", initiated: new Date(Date.now() - 2 * day) },
    ];
    const aborted: string[] = [];
    const store: ObjectStore = {
      ...inner,
      listMultipartUploads: async function* () {
        yield* uploads;
      },
      abortMultipartUpload: async (_key, uploadId) => {
        aborted.push(uploadId);
      },
    };
    const plan = await planSync({ direction: "upload", local: source, store, exclude: ["*.tmp"], statePath: false });
    const summary = await applySyncPlan(plan, { store });
    expect(aborted).toEqual(["old"]);
    expect(summary.multipartUploadsAborted).toBe(1);
    aborted.length = 0;
    await applySyncPlan(plan, { store, staleUploadAgeMs: 0 });
    expect(aborted).toEqual(["old", "young"]);
  });
});

describe("the multipart marker", () => {
  test("only a run after one killed mid-multipart pays the ListMultipartUploads; a clean run leaves no marker", async () => {
    const source = await tree("marker-src", { "a.jpg": "a" });
    const inner = fileStore("marker-store");
    const statePath = join(dir, "marker.state");
    const marker = `${statePath}.multipart`;
    let lists = 0;
    let markerDuringPut: boolean | undefined;
    const store: ObjectStore = {
      ...inner,
      put: async (key, body, options) => {
        if (key === "big.dng")
          markerDuringPut = await stat(marker).then(
            () => true,
            () => false,
          );
        return inner.put(key, body, options);
      },
      listMultipartUploads: async function* () {
        lists++;
        yield* [];
      },
      abortMultipartUpload: async () => {},
    };
    const run = async () => {
      const plan = await planSync({ direction: "upload", local: source, store, statePath });
      return applySyncPlan(plan, { store, multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 });
    };
    await run();
    expect(lists).toBe(0);
    await writeFile(marker, "left by a killed run");
    await run();
    expect(lists).toBe(1);
    await expect(stat(marker)).rejects.toThrow();
    await writeFile(join(source, "big.dng"), Buffer.alloc(5 * 1024 * 1024 + 1));
    expect((await run()).transferred).toBe(1);
    expect(markerDuringPut).toBe(true);
    await expect(stat(marker)).rejects.toThrow();
    expect(lists).toBe(1);
  });
});

describe("a user with its own layout (list, transfer, deleteItems), as delta-store", () => {
  test("items map to stored objects its own way, and the rails and filters still hold", async () => {
    const inner = fileStore("own-layout");
    // The store holds `<item>.enc`; the sync sees items by their own names and sizes.
    const list = async function* () {
      for await (const e of inner.list()) {
        if (e.kind === "object" && e.key.endsWith(".enc")) {
          const info = await inner.head(e.key);
          yield {
            key: e.key.slice(0, -4),
            size: Number(info!.metadata.size),
            etag: e.etag,
            lastModifiedMs: e.lastModified.getTime(),
          };
        }
      }
    };
    const transfer = async (item: { key: string; path: string }) => {
      const body = await readFile(item.path);
      const put = await inner.put(`${item.key}.enc`, Buffer.from(body).reverse(), {
        metadata: { size: String(body.length) },
      });
      return { etag: put.etag, size: body.length };
    };
    const deleteItems = (keys: string[]) => inner.deleteMany(keys.map((k) => `${k}.enc`));
    const run = async (local: string, extra: Partial<PlanSyncOptions> = {}) => {
      const plan = await planSync({ direction: "upload", local, store: inner, list, statePath: false, ...extra });
      return applySyncPlan(plan, { store: inner, transfer, deleteItems });
    };
    const source = await tree("own-src", { "a.bin": "aaaa", "b.bin": "bb", "c.tmp": "c" });
    expect((await run(source, { exclude: ["*.tmp"] })).transferred).toBe(2);
    expect(await keys(inner)).toEqual(["a.bin.enc", "b.bin.enc"]);
    expect((await run(source, { exclude: ["*.tmp"] })).skipped).toBe(2);
    const empty = await tree("own-empty", {});
    const error = await run(empty, { delete: true }).catch((e: unknown) => e);
    expect(isSyncError(error, "sync.emptySource")).toBe(true);
    await rm(join(source, "b.bin"));
    const summary = await run(source, { delete: true, exclude: ["*.tmp"] });
    expect(summary.deleted).toBe(1);
    expect(await keys(inner)).toEqual(["a.bin.enc"]);
  });
});

describe("download compare without state", () => {
  test("a listing that carries the stored mtime saves the HEAD per file", async () => {
    const mtime = new Date("2020-02-02T02:02:02.020Z");
    const source = await tree("mt-src", { "a.jpg": "aaa", "b.jpg": "bbb" });
    for (const f of ["a.jpg", "b.jpg"]) await utimes(join(source, f), mtime, mtime);
    const inner = fileStore("mt-store");
    await sync({ direction: "upload", local: source, store: inner });
    const target = join(dir, "mt-target");
    await sync({ direction: "download", local: target, store: inner });
    let heads = 0;
    const store: ObjectStore = {
      ...inner,
      head: (key, options) => {
        heads++;
        return inner.head(key, options);
      },
    };
    expect((await sync({ direction: "download", local: target, store })).skipped).toBe(2);
    expect(heads).toBe(2);
    heads = 0;
    const list = async function* () {
      for await (const e of inner.list()) {
        if (e.kind !== "object") continue;
        yield {
          key: e.key,
          size: e.size,
          etag: e.etag,
          lastModifiedMs: e.lastModified.getTime(),
          mtimeMs: mtime.getTime(),
        };
      }
    };
    expect((await sync({ direction: "download", local: target, store, list })).skipped).toBe(2);
    expect(heads).toBe(0);
  });
});
