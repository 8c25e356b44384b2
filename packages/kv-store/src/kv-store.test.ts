import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type ObjectStore, ObjectStoreError, openObjectStore } from "@toolkit/shared";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { Codec } from "./codecs.ts";
import { isKvError, KvError } from "./errors.ts";
import { openKv } from "./kv-store.ts";
import { MANIFEST_KEY } from "./remote-format.ts";
import { collect, localPath } from "./testing/sync-suite.ts";

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return undefined;
  if (!(error instanceof KvError)) throw error;
  return error.code;
}

describe("local database", () => {
  it("works like an async Map", async () => {
    await using db = await openKv({ path: localPath("map") });
    expect(await db.get("a")).toBeUndefined();
    await db.set("a", { x: 1 });
    expect(await db.get("a")).toEqual({ x: 1 });
    expect(await db.has("a")).toBe(true);
    await db.setMany([
      ["b1", 1],
      ["b2", 2],
      ["c", null],
    ]);
    expect(Object.fromEntries(await db.getMany(["b1", "b2", "zz"]))).toEqual({ b1: 1, b2: 2 });
    expect(await db.size()).toBe(4);
    expect(await collect(db.entries({ prefix: "b" }))).toEqual([
      ["b1", 1],
      ["b2", 2],
    ]);
    expect(await collect(db.keys())).toEqual(["a", "b1", "b2", "c"]);
    expect(await collect(db.values({ prefix: "c" }))).toEqual([null]);
    expect(await db.delete("a")).toBe(true);
    expect(await db.delete("a")).toBe(false);
    expect(await db.has("a")).toBe(false);
    expect(await db.size()).toBe(3);
    expect(await db.changes()).toEqual({ added: ["b1", "b2", "c"], modified: [], deleted: [] });
  });

  it("iterates more keys than a page, in key order, with a prefix", async () => {
    await using db = await openKv({ path: localPath("pages") });
    const keys = Array.from({ length: 700 }, (_, i) => `p/${String(i).padStart(4, "0")}`);
    await db.setMany(keys.map((k) => [k, k]));
    await db.set("q", 1);
    await db.set("p", 0); // equal to the prefix is not under it only if shorter: "p" does not start with "p/"
    expect(await collect(db.keys({ prefix: "p/" }))).toEqual(keys);
    expect((await collect(db.keys())).length).toBe(702);
  });

  it("records per-key modification times", async () => {
    await using db = await openKv({ path: localPath("ts") });
    const before = Date.now();
    await db.set("k", 1);
    const ts = await db.getTimestamp("k");
    expect(ts).toBeInstanceOf(Date);
    expect(ts!.getTime()).toBeGreaterThanOrEqual(before - 1);
    await db.set("old", 1, { timestamp: new Date("2020-01-02T03:04:05Z") });
    expect((await db.getTimestamp("old"))?.toISOString()).toBe("2020-01-02T03:04:05.000Z");
    expect(await db.getTimestamp("missing")).toBeUndefined();
  });

  it("rejects bad keys with kv.invalidKey", async () => {
    await using db = await openKv({ path: localPath("keys") });
    expect(await code(db.set("", 1))).toBe("kv.invalidKey");
    expect(await code(db.set("x".repeat(1025), 1))).toBe("kv.invalidKey");
    expect(await code(db.set("é".repeat(513), 1))).toBe("kv.invalidKey"); // 1,026 bytes
    expect(await code(db.set("é".repeat(512), 1))).toBeUndefined(); // 1,024 bytes is fine
    expect(await code(db.set("\ud800", 1))).toBe("kv.invalidKey");
    expect(await code(db.get(42 as unknown as string))).toBe("kv.invalidKey");
    expect(await db.size()).toBe(1);
  });

  it("rejects values the codec cannot encode, naming the key, and keeps the old value", async () => {
    await using db = await openKv({ path: localPath("values") });
    await db.set("k", "old");
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [10n, undefined, circular, () => 1]) {
      const error = await db.set("k", bad).catch((e: unknown) => e);
      expect(isKvError(error, "kv.invalidValue")).toBe(true);
      expect((error as Error).message).toContain('"k"');
    }
    expect(
      await code(
        db.setMany([
          ["fine", 1],
          ["bad", 1n],
        ]),
      ),
    ).toBe("kv.invalidValue");
    expect(await db.has("fine")).toBe(false); // setMany is all or nothing
    expect(await db.get("k")).toBe("old");
  });

  it("string, bytes and custom codecs; the codec id is stored", async () => {
    const path = localPath("codecs");
    {
      await using db = await openKv({ path, codec: "string" });
      await db.set("s", "héllo");
      expect(await db.get("s")).toBe("héllo");
      expect(await code(db.set("n", 1 as unknown as string))).toBe("kv.invalidValue");
    }
    const error = await openKv({ path, codec: "json" }).catch((e: unknown) => e);
    expect(isKvError(error, "kv.codecMismatch")).toBe(true);
    expect((error as Error).message).toContain("`string`");
    await using bytes = await openKv({ path: localPath("bytes"), codec: "bytes" });
    await bytes.set("b", new Uint8Array([0, 1, 255]));
    expect([...((await bytes.get("b")) ?? [])]).toEqual([0, 1, 255]);
    await bytes.set("empty", new Uint8Array());
    expect((await bytes.get("empty"))?.byteLength).toBe(0);
    const upper: Codec<string> = {
      id: "upper/1",
      encode: (v) => Buffer.from(v.toUpperCase()),
      decode: (b) => Buffer.from(b).toString(),
    };
    await using custom = await openKv({ path: localPath("custom"), codec: upper });
    await custom.set("k", "abc");
    expect(await custom.get("k")).toBe("ABC");
    expect(await code(openKv({ path: localPath("x"), codec: { id: "bad id!" } as never }))).toBe("kv.invalidOptions");
  });

  it("flags: r and w need an existing file, r refuses writes, n starts empty", async () => {
    const path = localPath("flags");
    expect(await code(openKv({ path, flag: "r" }))).toBe("kv.notFound");
    expect(await code(openKv({ path, flag: "w" }))).toBe("kv.notFound");
    {
      await using db = await openKv({ path, flag: "c" });
      await db.set("k", 1);
    }
    {
      await using r = await openKv({ path, flag: "r" });
      expect(await r.get("k")).toBe(1);
      expect(await code(r.set("k", 2))).toBe("kv.readOnly");
      expect(await code(r.setMany([["k", 2]]))).toBe("kv.readOnly");
      expect(await code(r.delete("k"))).toBe("kv.readOnly");
    }
    {
      await using w = await openKv({ path, flag: "w" });
      await w.set("k", 3);
    }
    await using n = await openKv({ path, flag: "n" });
    expect(await n.size()).toBe(0);
  });

  it("several handles (as several processes) share one file", async () => {
    const path = localPath("shared");
    await using one = await openKv({ path });
    await using two = await openKv({ path });
    await one.set("a", 1);
    await two.set("b", 2);
    expect(await two.get("a")).toBe(1);
    expect(await one.get("b")).toBe(2);
    await Promise.all([
      one.setMany(Array.from({ length: 200 }, (_, i) => [`one${i}`, i])),
      two.setMany(Array.from({ length: 200 }, (_, i) => [`two${i}`, i])),
    ]);
    expect(await one.size()).toBe(402);
  });

  it("a corrupt or foreign local file is a clear error and is left untouched", async () => {
    const path = localPath("corrupt");
    writeFileSync(path, Buffer.alloc(8192, 7));
    const error = await openKv({ path }).catch((e: unknown) => e);
    expect(isKvError(error, "kv.corruptLocal")).toBe(true);
    expect((error as Error).message).toContain(path);
    expect(readFileSync(path).equals(Buffer.alloc(8192, 7))).toBe(true);

    const foreign = localPath("foreign");
    const other = new Database(foreign);
    other.exec("CREATE TABLE notes (id INTEGER)");
    other.close();
    expect(await code(openKv({ path: foreign }))).toBe("kv.corruptLocal");
  });

  it("a file damaged after open fails every call with kv.corruptLocal naming the file and the fix", async () => {
    const remoteDir = mkdtempSync(join(tmpdir(), "kv-corrupt-remote-"));
    const remote = pathToFileURL(remoteDir).href;
    const path = localPath("damaged");
    {
      await using db = await openKv({ path, remote });
      await db.setMany(Array.from({ length: 3000 }, (_, i) => [`key${String(i).padStart(5, "0")}`, "v".repeat(200)]));
    } // closing checkpoints the WAL into the file
    // The pages to overwrite: every page of the kv table and its index (page 1, the schema, and the small
    // meta/segments tables stay intact, so the file still opens).
    const probe = new Database(path, { readonly: true });
    const pageSize = probe.pragma("page_size", { simple: true }) as number;
    const keep = new Set(
      (
        probe.prepare("SELECT rootpage FROM sqlite_master WHERE name IN ('meta', 'segments')").pluck().all() as number[]
      ).concat(1),
    );
    const pages = probe.pragma("page_count", { simple: true }) as number;
    probe.close();
    expect(pages).toBeGreaterThan(20);

    const db = await openKv({ path, remote });
    const fd = openSync(path, "r+");
    for (let page = 2; page <= pages; page++) {
      if (!keep.has(page)) writeSync(fd, randomBytes(pageSize), 0, pageSize, (page - 1) * pageSize);
    }
    closeSync(fd);

    const attempts: [string, () => Promise<unknown>][] = [
      ["get", () => db.get("key00042")],
      ["set", () => db.set("key00042", "new")],
      ["list", () => collect(db.keys())],
      ["entries", () => collect(db.entries({ prefix: "key01" }))],
      ["size", () => db.size()],
      ["push", () => db.push()],
    ];
    for (const [name, call] of attempts) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isKvError(error, "kv.corruptLocal"), `${name}: ${String(error)}`).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain(path);
      expect(message).toContain("SQLITE_CORRUPT");
      expect(message).toContain(`pulled back from ${remote}`);
      expect((error as Error).cause).toBeDefined();
    }
    await db.close();
    // Opening it again names the file and the fix too.
    const reopened = await openKv({ path: path, remote })
      .then(
        async (again) => {
          try {
            await again.get("key00042");
          } finally {
            await again.close();
          }
        },
        (e: unknown) => e,
      )
      .catch((e: unknown) => e);
    expect(isKvError(reopened, "kv.corruptLocal")).toBe(true);
  });

  it("a damaged local-only file names a backup as the fix", async () => {
    const path = localPath("damaged-local");
    {
      await using db = await openKv({ path });
      await db.setMany(Array.from({ length: 2000 }, (_, i) => [`k${i}`, "x".repeat(200)]));
    }
    const db = await openKv({ path });
    const size = readFileSync(path).length;
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(size - 65536, 0xa5), 0, size - 65536, 65536);
    closeSync(fd);
    const error = await collect(db.keys()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isKvError(error, "kv.corruptLocal")).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain("restore it from a backup");
    await db.close();
  });

  it("validates options and names the bad one", async () => {
    const error = await openKv({ path: localPath("o"), flag: "x" as never }).catch((e: unknown) => e);
    expect(isKvError(error, "kv.invalidOptions")).toBe(true);
    expect((error as Error).message).toContain("`flag`");
    expect(await code(openKv({ path: "" }))).toBe("kv.invalidOptions");
    expect(await code(openKv({ path: localPath("o2"), remote: "http://example.com/x" }))).toBe("kv.invalidOptions");
    expect(await code(openKv({ path: localPath("o3"), graceMs: -1 }))).toBe("kv.invalidOptions");
  });

  it("sync without a remote, and use after close, fail clearly", async () => {
    const db = await openKv({ path: localPath("closed") });
    expect(await code(db.push())).toBe("kv.offline");
    expect(await code(db.pull())).toBe("kv.offline");
    await db.close();
    await db.close();
    expect(await code(db.get("a"))).toBe("kv.closed");
  });
});

describe("a manifest write whose answer is lost", () => {
  it("keeps the segment it committed, and the next push recognises its own write", async () => {
    const root = mkdtempSync(join(tmpdir(), "kv-lost-"));
    const url = pathToFileURL(root).href;
    const real = openObjectStore(url);
    let loseNext = false;
    // The write lands, then the caller sees a network failure (a timeout after the server committed).
    const lossy: ObjectStore = {
      ...real,
      async put(key, body, options) {
        const result = await real.put(key, body, options);
        if (key === MANIFEST_KEY && loseNext) {
          loseNext = false;
          throw new ObjectStoreError("network", "socket hang up after the request was sent");
        }
        return result;
      },
    };
    await using a = await openKv({ path: localPath("lost-a"), remote: url, store: lossy });
    await a.set("k", "v1");
    await a.push();
    await a.set("k", "v2");
    await a.set("other", 1);
    loseNext = true;
    expect(await code(a.push())).toBe("kv.remote");
    // The remote is at the new state and nothing it names is missing.
    await using reader = await openKv({ path: localPath("lost-r"), remote: url });
    expect(Object.fromEntries(await collect(reader.entries()))).toEqual({ k: "v2", other: 1 });
    // Re-running push converges without a false conflict or a second copy.
    const again = await a.push({ onConflict: "error" });
    expect(again).toMatchObject({ pushed: 0, deleted: 0, conflicts: [] });
    expect(await a.changes()).toEqual({ added: [], modified: [], deleted: [] });
  });
});
