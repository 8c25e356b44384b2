import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createTestBucket,
  startFaultProxy,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBytes, tempDir, versionOf, writeVersions } from "./__fixtures__/versions.ts";
import { createDeltaStore, type DeltaStore, isDeltaError } from "./index.ts";

let server: TestServer;
let work: string;
const opened: { store: DeltaStore; raw: ObjectStore }[] = [];

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir("it");
});
afterAll(async () => {
  for (const { store, raw } of opened) {
    await store.close();
    await raw.close();
  }
  await rm(work, { recursive: true, force: true });
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A delta store on a fresh bucket (or a fresh file:// dir), its raw object store, and a private cache dir. */
async function openFresh(
  kind: "s3" | "file",
  tag: string,
  options: Partial<Parameters<typeof createDeltaStore>[0]> = {},
) {
  let location: string;
  if (kind === "s3") {
    const { url } = await createTestBucket(server, tag);
    location = `${url}releases/`;
  } else {
    const dir = join(work, `store-${tag}-${randomBytes(3).toString("hex")}`);
    await mkdir(dir, { recursive: true });
    location = `file://${dir}`;
  }
  const cacheDir = join(work, `cache-${tag}-${randomBytes(3).toString("hex")}`);
  const store = createDeltaStore({
    location,
    ...(kind === "s3" ? testClientOptions(server) : {}),
    cache: { dir: cacheDir },
    ...options,
  });
  const raw = openObjectStore(location, kind === "s3" ? testClientOptions(server) : {});
  opened.push({ store, raw });
  return { store, raw, cacheDir, location };
}

async function rawKeys(raw: ObjectStore, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of raw.list({ prefix })) if (e.kind === "object") keys.push(e.key);
  return keys;
}

async function flipByte(raw: ObjectStore, key: string): Promise<void> {
  const info = await raw.head(key);
  const bytes = Buffer.from(await raw.getBytes(key));
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await raw.put(key, bytes, { metadata: info!.metadata });
}

describe.each(["s3", "file"] as const)("delta-store on %s", (kind) => {
  it("round-trips 10 successive versions of an artifact kept in one deltaspace", async () => {
    const { store, raw } = await openFresh(kind, "ten");
    const dir = await tempDir("ten");
    const versions = await writeVersions(dir, 10, 1536 * 1024);
    const results = [];
    for (const v of versions) results.push(await store.put(v.path, `app/${v.name}`));
    expect(results[0]!.stored).toBe("reference");
    for (const r of results.slice(1)) {
      expect(r.stored).toBe("delta");
      expect(r.engine).toBe("xdelta3");
      expect(r.storedBytes).toBeLessThan(r.fileBytes / 50);
    }
    const keys = await rawKeys(raw, "app/");
    expect(keys).toContain("app/reference.bin");
    expect(keys.filter((k) => k.endsWith(".delta"))).toHaveLength(10);
    const refInfo = await raw.head("app/reference.bin");
    expect(refInfo!.metadata["dg-file-sha256"]).toBe(sha(versions[0]!.bytes));
    expect(refInfo!.metadata["dg-note"]).toBe("reference");
    const deltaInfo = await raw.head(`app/${versions[4]!.name}.delta`);
    expect(deltaInfo!.metadata).toMatchObject({
      "dg-file-sha256": sha(versions[4]!.bytes),
      "dg-file-size": String(versions[4]!.bytes.length),
      "dg-ref-sha256": sha(versions[0]!.bytes),
      "dg-engine": "xdelta3",
    });
    // Bucket-relative, as DeltaGlider writes and reads it (the store sits at `releases/` in the bucket).
    expect(deltaInfo!.metadata["dg-ref-key"]).toBe(kind === "s3" ? "releases/app/reference.bin" : "app/reference.bin");
    expect(deltaInfo!.metadata["dg-delta-cmd"]).toMatch(/^xdelta3 -e -f -6 -N -B \d+ /);
    expect(deltaInfo!.metadata["dg-delta-size"]).toBe(String(deltaInfo!.size));
    // What DeltaGlider does on a read: `xdelta3 -d -s reference.bin <name>.delta` on the raw objects.
    const rawDir = join(dir, "raw");
    await mkdir(rawDir);
    await writeFile(join(rawDir, "reference.bin"), await raw.getBytes("app/reference.bin"));
    await writeFile(join(rawDir, "v4.delta"), await raw.getBytes(`app/${versions[4]!.name}.delta`));
    execFileSync("xdelta3", [
      "-d",
      "-f",
      "-s",
      join(rawDir, "reference.bin"),
      join(rawDir, "v4.delta"),
      join(rawDir, "v4"),
    ]);
    expect((await readFile(join(rawDir, "v4"))).equals(versions[4]!.bytes)).toBe(true);

    for (const v of versions) {
      const out = join(dir, "out", v.name);
      const got = await store.get(`app/${v.name}`, out);
      expect(got.sha256Verified).toBe(true);
      expect((await readFile(out)).equals(v.bytes)).toBe(true);
    }
    const listed = [];
    for await (const e of store.list("app/")) listed.push(e);
    expect(listed.map((e) => e.key).sort()).toEqual(versions.map((v) => `app/${v.name}`).sort());
    for (const e of listed) {
      if (e.kind === "folder") throw new Error("unexpected folder");
      expect(e.size).toBe(versions.find((v) => `app/${v.name}` === e.key)!.bytes.length);
    }
    const stats = await store.stats("app/");
    expect(stats.files).toBe(10);
    expect(stats.references).toBe(1);
    expect(stats.originalBytes).toBe(versions.reduce((s, v) => s + v.bytes.length, 0));
    expect(stats.savings).toBeGreaterThan(0.85);
    expect((await store.verify(`app/${versions[7]!.name}`)).valid).toBe(true);
  });

  it("stores a file directly when its delta exceeds maxRatio", async () => {
    const { store, raw } = await openFresh(kind, "ratio", { maxRatio: 0.5 });
    const dir = await tempDir("ratio");
    const [v0] = await writeVersions(dir, 1, 200_000, ".zip");
    await store.put(v0!.path, "app/a-1.zip");
    const unrelated = join(dir, "a-2.zip");
    const bytes = randomBytes(200_000);
    await writeFile(unrelated, bytes);
    const result = await store.put(unrelated, "app/a-2.zip");
    expect(result.stored).toBe("direct");
    expect(result.reason).toBe("ratioExceeded");
    expect(result.ratio).toBeGreaterThan(0.5);
    expect((await raw.head("app/a-2.zip"))!.metadata["dg-compression"]).toBe("none");
    expect(await raw.head("app/a-2.zip.delta")).toBeUndefined();
    const out = join(dir, "out.zip");
    await store.get("app/a-2.zip", out);
    expect((await readFile(out)).equals(bytes)).toBe(true);
    // Not eligible by type: stored directly, never as a reference.
    const text = join(dir, "notes.txt");
    await writeFile(text, "hello");
    expect((await store.put(text, "app/notes.txt")).reason).toBe("notEligible");
  });

  it("two concurrent first uploads give one reference and two correct files", async () => {
    const { store, raw } = await openFresh(kind, "race");
    const dir = await tempDir("race");
    const versions = await writeVersions(dir, 2, 400_000);
    const [a, b] = await Promise.all(versions.map((v) => store.put(v.path, `app/${v.name}`)));
    expect([a!.stored, b!.stored].sort()).toEqual(["delta", "reference"]);
    const keys = await rawKeys(raw, "app/");
    expect(keys.filter((k) => k.endsWith("reference.bin"))).toEqual(["app/reference.bin"]);
    for (const v of versions) {
      const out = join(dir, "out", v.name);
      await store.get(`app/${v.name}`, out);
      expect((await readFile(out)).equals(v.bytes)).toBe(true);
    }
  });

  it("catches a flipped byte in a delta and leaves the destination untouched", async () => {
    const { store, raw } = await openFresh(kind, "flip");
    const dir = await tempDir("flip");
    const versions = await writeVersions(dir, 2, 300_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    await flipByte(raw, `app/${versions[1]!.name}.delta`);
    const out = join(dir, "existing.tar");
    await writeFile(out, "previous content");
    const attempt = store.get(`app/${versions[1]!.name}`, out);
    await expect(attempt).rejects.toSatisfy((e: unknown) => isDeltaError(e, "delta.integrity"));
    expect(await readFile(out, "utf8")).toBe("previous content");
    expect((await readdir(dir)).filter((n) => n.includes("s3kit-part"))).toEqual([]);
    const verified = await store.verify(`app/${versions[1]!.name}`);
    expect(verified.valid).toBe(false);
  });

  it("catches a flipped byte in the cached reference, refetches it, and catches a corrupt stored reference", async () => {
    const { store, raw, cacheDir } = await openFresh(kind, "cache");
    const dir = await tempDir("cache");
    const versions = await writeVersions(dir, 2, 300_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    const refSha = sha(versions[0]!.bytes);
    const entry = join(cacheDir, refSha.slice(0, 2), refSha.slice(2, 4), refSha);
    expect(existsSync(entry)).toBe(true);
    const cached = await readFile(entry);
    cached[1000]! ^= 0x01;
    await writeFile(entry, cached);
    const out = join(dir, "out.tar");
    await store.get(`app/${versions[1]!.name}`, out);
    expect((await readFile(out)).equals(versions[1]!.bytes)).toBe(true);
    expect(sha(await readFile(entry))).toBe(refSha);

    await rm(cacheDir, { recursive: true, force: true });
    await flipByte(raw, "app/reference.bin");
    const attempt = store.get(`app/${versions[1]!.name}`, join(dir, "out2.tar"));
    await expect(attempt).rejects.toSatisfy((e: unknown) => isDeltaError(e, "delta.integrity"));
    expect(existsSync(join(dir, "out2.tar"))).toBe(false);
  });

  it("decodes a DeltaGlider delta made by the xdelta3 CLI with default settings", async () => {
    const { store, raw, location } = await openFresh(kind, "dg");
    const dir = await tempDir("dg");
    const versions = await writeVersions(dir, 2, 500_000);
    const ref = versions[0]!;
    const next = versions[1]!;
    const deltaPath = join(dir, "new.delta");
    execFileSync("xdelta3", ["-e", "-f", "-9", "-s", ref.path, next.path, deltaPath]);
    const bucketPrefix = location.startsWith("s3://") ? "releases/" : "";
    const created = "2026-11-20T10:00:00.000000Z";
    await raw.put("builds/reference.bin", ref.bytes, {
      metadata: {
        "dg-tool": "deltaglider/6.1.2",
        "dg-source-name": ref.name,
        "dg-file-sha256": sha(ref.bytes),
        "dg-created-at": created,
        "dg-note": "reference",
      },
    });
    const delta = await readFile(deltaPath);
    await raw.put(`builds/${next.name}.delta`, delta, {
      metadata: {
        "dg-tool": "deltaglider/6.1.2",
        "dg-original-name": next.name,
        "dg-file-sha256": sha(next.bytes),
        "dg-file-size": String(next.bytes.length),
        "dg-created-at": created,
        "dg-ref-key": `${bucketPrefix}builds/reference.bin`,
        "dg-ref-sha256": sha(ref.bytes),
        "dg-delta-size": String(delta.length),
        "dg-delta-cmd": `xdelta3 -e -9 -s reference.bin ${next.name}`,
      },
    });
    // A legacy-spelled direct object (older DeltaGlider wrote `file-sha256`; moto drops `_` header names).
    await raw.put("builds/readme.txt", "hello", {
      metadata: { "file-sha256": sha(Buffer.from("hello")), compression: "none" },
    });
    const out = join(dir, "out.tar");
    const got = await store.get(`builds/${next.name}`, out);
    expect(got.engine).toBe("xdelta3");
    expect((await readFile(out)).equals(next.bytes)).toBe(true);
    expect((await store.get("builds/readme.txt", join(dir, "readme.txt"))).sha256Verified).toBe(true);
    const listed: string[] = [];
    for await (const e of store.list("builds")) listed.push(e.key);
    expect(listed).toEqual([`builds/${next.name}`, "builds/readme.txt"]);
  });

  it("keeps sibling prefixes out of list, delete and sync", async () => {
    const { store, raw } = await openFresh(kind, "sib");
    const dir = await tempDir("sib");
    const versions = await writeVersions(dir, 2, 100_000);
    for (const prefix of ["app", "app-old", "apple"]) {
      for (const v of versions) await store.put(v.path, `${prefix}/${v.name}`);
    }
    const listed: string[] = [];
    for await (const e of store.list("app")) listed.push(e.key);
    expect(listed.every((k) => k.startsWith("app/"))).toBe(true);
    expect(listed).toHaveLength(2);

    const local = join(dir, "local");
    await mkdir(local);
    await writeFile(join(local, "only.tar"), versions[0]!.bytes);
    // Both files of app/ go: 100 % of the destination, so the share limit (rail 3) is lifted on purpose.
    const synced = await store.sync(local, "app", { delete: true, maxDeletePercent: 100 });
    expect(synced.deleted.sort()).toEqual(versions.map((v) => `app/${v.name}`).sort());
    const removed = await store.deletePrefix("app");
    expect(removed.deleted).toEqual(["app/only.tar"]);
    const keys = await rawKeys(raw);
    expect(keys.filter((k) => k.startsWith("app/"))).toEqual([]);
    expect(keys.filter((k) => k.startsWith("app-old/"))).toHaveLength(3);
    expect(keys.filter((k) => k.startsWith("apple/"))).toHaveLength(3);
  });

  it("syncs in both directions by content, with --delete and dry runs", async () => {
    const { store } = await openFresh(kind, "sync");
    const dir = await tempDir("sync");
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    const base = realBytes(120_000);
    await writeFile(join(src, "a.tar"), base);
    await writeFile(join(src, "sub", "b.tar"), versionOf(base, 1));
    await writeFile(join(src, "notes.txt"), "notes");
    await writeFile(join(src, "skip.tmp"), "temp");

    const dry = await store.sync(src, "rel", { dryRun: true, exclude: ["*.tmp"] });
    expect(dry.transferred.sort()).toEqual(["rel/a.tar", "rel/notes.txt", "rel/sub/b.tar"]);
    const none: string[] = [];
    for await (const e of store.list("rel")) none.push(e.key);
    expect(none).toEqual([]);

    const up = await store.sync(src, "rel", { exclude: ["*.tmp"] });
    expect(up.direction).toBe("upload");
    expect(up.transferred).toHaveLength(3);
    const again = await store.sync(src, "rel", { exclude: ["*.tmp"] });
    expect(again.transferred).toEqual([]);
    expect(again.skipped).toHaveLength(3);

    // Download into an empty directory, then the remote changes while the local copy is newer.
    const dest = join(dir, "dest");
    const down = await store.sync("rel/", dest);
    expect(down.direction).toBe("download");
    expect(down.transferred.sort()).toEqual(["a.tar", "notes.txt", "sub/b.tar"]);
    expect((await readFile(join(dest, "sub", "b.tar"))).equals(versionOf(base, 1))).toBe(true);
    const changed = versionOf(base, 5);
    await writeFile(join(src, "a.tar"), changed);
    await store.put(join(src, "a.tar"), "rel/a.tar");
    const future = new Date(Date.now() + 3_600_000);
    await utimes(join(dest, "a.tar"), future, future);
    await writeFile(join(dest, "extra.bin"), "local only");
    const down2 = await store.sync("rel", dest, { delete: true });
    expect(down2.transferred).toEqual(["a.tar"]);
    expect(down2.deleted).toEqual(["extra.bin"]);
    expect((await readFile(join(dest, "a.tar"))).equals(changed)).toBe(true);
    expect(existsSync(join(dest, "extra.bin"))).toBe(false);

    await expect(store.sync("rel", "also-remote")).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.invalidOptions"),
    );
  });

  it("sync: a listed entry with corrupt metadata is a failed item and blocks every delete, both ways", async () => {
    const { store, raw } = await openFresh(kind, "syncprob");
    const dir = await tempDir("syncprob");
    const versions = await writeVersions(dir, 3, 100_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    const [first, bad, third] = versions as [(typeof versions)[0], (typeof versions)[0], (typeof versions)[0]];
    const badKey = `app/${bad.name}.delta`;
    const info = await raw.head(badKey);
    await raw.put(badKey, await raw.getBytes(badKey), { metadata: { ...info!.metadata, "dg-file-size": "-1" } });

    // Upload from a folder holding only the first file: the other two would go, but a listing problem blocks it.
    const local = join(dir, "local");
    await mkdir(local);
    await writeFile(join(local, first.name), first.bytes);
    const up = await store.sync(local, "app", { delete: true, maxDeletePercent: 100, statePath: false });
    expect(up.failed).toEqual([expect.objectContaining({ key: `app/${bad.name}`, code: "delta.integrity" })]);
    expect(up.deleted).toEqual([]);
    expect(up.deleteBlocked).toMatch(/.+/);
    const keys = await rawKeys(raw, "app/");
    expect(keys).toContain(`app/${third.name}.delta`);
    expect(keys).toContain(badKey);

    // Download: the bad entry is one failed item, the others arrive, the local-only file stays.
    const dest = join(dir, "dest");
    await mkdir(dest);
    await writeFile(join(dest, "extra.bin"), "mine");
    const down = await store.sync("app", dest, { delete: true, maxDeletePercent: 100, statePath: false });
    expect(down.failed.map((f) => f.key)).toEqual([bad.name]);
    expect(down.transferred.sort()).toEqual([first.name, third.name].sort());
    expect(down.deleted).toEqual([]);
    expect(existsSync(join(dest, "extra.bin"))).toBe(true);
    expect(existsSync(join(dest, bad.name))).toBe(false);
  });

  it("deletes the reference only when nothing depends on it", async () => {
    const { store, raw } = await openFresh(kind, "rm");
    const dir = await tempDir("rm");
    const versions = await writeVersions(dir, 3, 100_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    const first = await store.delete(`app/${versions[0]!.name}`);
    expect(first.referenceDeleted).toBe(false);
    expect(await raw.head("app/reference.bin")).toBeDefined();
    const out = join(dir, "out.tar");
    await store.get(`app/${versions[2]!.name}`, out);
    expect((await readFile(out)).equals(versions[2]!.bytes)).toBe(true);
    await store.delete(`app/${versions[1]!.name}`);
    const last = await store.delete(`app/${versions[2]!.name}`);
    expect(last.referenceDeleted).toBe(true);
    expect(await rawKeys(raw, "app/")).toEqual([]);
    await expect(store.delete("app/missing.tar")).rejects.toSatisfy((e: unknown) => isDeltaError(e, "delta.notFound"));
    await expect(store.get("app/missing.tar", out)).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.notFound"),
    );
  });
});

describe("delta-store engines and options (file://)", () => {
  it.each([
    ["zstd", 600_000],
    ["xdelta3-wasm", 300_000],
    ["xdelta3", 300_000],
  ] as const)("engine %s is used when chosen, recorded, and decodes", async (engine, size) => {
    const { store, raw } = await openFresh("file", `eng-${engine}`, { engine });
    const dir = await tempDir(`eng-${engine}`);
    const versions = await writeVersions(dir, 4, size);
    for (const v of versions) expect((await store.put(v.path, `app/${v.name}`)).engine).toBe(engine);
    expect((await raw.head(`app/${versions[3]!.name}.delta`))!.metadata["dg-engine"]).toBe(engine);
    for (const v of versions) {
      const out = join(dir, "out", v.name);
      await store.get(`app/${v.name}`, out);
      expect((await readFile(out)).equals(v.bytes)).toBe(true);
    }
    // maxRatio holds for every engine: an unrelated file's delta is not kept.
    const unrelated = join(dir, "unrelated.tar");
    await writeFile(unrelated, randomBytes(size));
    const direct = await store.put(unrelated, "app/unrelated.tar");
    expect(direct).toMatchObject({ stored: "direct", reason: "ratioExceeded", engine });
    expect(await raw.head("app/unrelated.tar.delta")).toBeUndefined();
  });

  it("tries only the configured deltaExtensions as deltas", async () => {
    const { store, raw } = await openFresh("file", "ext", { deltaExtensions: [".IMG"] });
    const dir = await tempDir("ext");
    const versions = await writeVersions(dir, 2, 100_000, ".img");
    for (const v of versions) await store.put(v.path, `disk/${v.name}`);
    expect((await raw.head(`disk/${versions[1]!.name}.delta`))?.metadata["dg-ref-sha256"]).toBe(
      sha(versions[0]!.bytes),
    );
    const [tar] = await writeVersions(dir, 1, 100_000, ".tar");
    expect(await store.put(tar!.path, "disk/a.tar")).toMatchObject({ stored: "direct", reason: "notEligible" });
    expect(await raw.head("disk/a.tar")).toBeDefined();
  });

  it("refuses xdelta3-wasm above its measured limit instead of failing inside", async () => {
    const { store } = await openFresh("file", "wasm-big", { engine: "xdelta3-wasm" });
    const dir = await tempDir("wasm-big");
    const versions = await writeVersions(dir, 2, 1_200_000);
    await store.put(versions[0]!.path, "app/a.tar").catch(() => undefined);
    await expect(store.put(versions[1]!.path, "app/b.tar")).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.engineUnavailable"),
    );
  });

  it("reports an unknown engine on an existing delta", async () => {
    const { store, raw } = await openFresh("file", "unknown");
    const dir = await tempDir("unknown");
    const versions = await writeVersions(dir, 2, 100_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    const key = `app/${versions[1]!.name}.delta`;
    const info = await raw.head(key);
    await raw.put(key, await raw.getBytes(key), { metadata: { ...info!.metadata, "dg-engine": "bsdiff" } });
    await expect(store.get(`app/${versions[1]!.name}`, join(dir, "x"))).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.engineUnavailable"),
    );
  });

  it("rejects reserved, over-long and bad keys and options with one-line errors", async () => {
    const { store } = await openFresh("file", "keys");
    const dir = await tempDir("keys");
    const file = join(dir, "f.zip");
    await writeFile(file, "x");
    for (const key of ["app/reference.bin", "app/x.delta", `app/${"a".repeat(1020)}.zip`, "a//b.zip", "app/"]) {
      await expect(store.put(file, key)).rejects.toSatisfy((e: unknown) => isDeltaError(e, "delta.invalidKey"));
    }
    expect(() => createDeltaStore({ location: "file:///tmp/x", maxRatio: 2 })).toThrow(/maxRatio.*2/);
    expect(() => createDeltaStore({ location: "file:///tmp/x", engine: "bsdiff" as never })).toThrow(/engine/);
    await expect(store.put(join(dir, "missing.zip"), "app/m.zip")).rejects.toSatisfy((e: unknown) =>
      isDeltaError(e, "delta.notFound"),
    );
  });

  it("encrypts cached references with AES-256-GCM when the key is set, and recovers from a corrupt entry", async () => {
    process.env.S3KIT_TEST_DELTA_KEY = randomBytes(32).toString("hex");
    try {
      const dir = await tempDir("enc");
      const encCache = join(dir, "cache");
      const { store: encStore } = await openFresh("file", "enc", {
        cache: { dir: encCache, encryptionKeyEnv: "S3KIT_TEST_DELTA_KEY" },
      });
      const versions = await writeVersions(dir, 2, 200_000);
      for (const v of versions) await encStore.put(v.path, `app/${v.name}`);
      const refSha = sha(versions[0]!.bytes);
      const entry = join(encCache, refSha.slice(0, 2), refSha.slice(2, 4), `${refSha}.enc`);
      const encrypted = await readFile(entry);
      expect(encrypted.includes(versions[0]!.bytes.subarray(5000, 5064))).toBe(false);
      encrypted[encrypted.length - 40]! ^= 0x01;
      await writeFile(entry, encrypted);
      const out = join(dir, "out.tar");
      await encStore.get(`app/${versions[1]!.name}`, out);
      expect((await readFile(out)).equals(versions[1]!.bytes)).toBe(true);
      expect((await stat(entry)).size).toBeGreaterThan(versions[0]!.bytes.length);
    } finally {
      delete process.env.S3KIT_TEST_DELTA_KEY;
    }
  });

  it("aborts a get without leaving a file", async () => {
    const { store } = await openFresh("file", "abort");
    const dir = await tempDir("abort");
    const versions = await writeVersions(dir, 2, 300_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    const controller = new AbortController();
    controller.abort();
    const out = join(dir, "aborted.tar");
    await expect(store.get(`app/${versions[1]!.name}`, out, { signal: controller.signal })).rejects.toThrow();
    expect(existsSync(out)).toBe(false);
  });

  it("under 503s and a connection cut mid-body, operations end correct or fail clearly with nothing half-written", async () => {
    const { url } = await createTestBucket(server, "faults");
    const proxy = await startFaultProxy({
      target: server.endpoint,
      faults: [
        { match: { method: "PUT" }, probability: 0.3, action: { type: "slowDown" } },
        { match: { method: "HEAD" }, probability: 0.2, action: { type: "internalError" } },
      ],
    });
    try {
      const store = createDeltaStore({
        location: `${url}rel/`,
        ...testClientOptions(server, proxy.endpoint),
        cache: { dir: join(work, `cache-faults-${randomBytes(3).toString("hex")}`) },
      });
      opened.push({ store, raw: openObjectStore(url, testClientOptions(server)) });
      const dir = await tempDir("faults");
      const versions = await writeVersions(dir, 3, 200_000);
      for (const v of versions) await store.put(v.path, `app/${v.name}`);
      expect(proxy.requests.some((r) => r.fault === "slowDown")).toBe(true);
      proxy.setFaults([{ match: { method: "GET", path: /\.delta/ }, times: 1, action: { type: "resetMidBody" } }]);
      const out = join(dir, "out.tar");
      const first = await store.get(`app/${versions[2]!.name}`, out).then(
        () => "ok",
        (error: unknown) => error,
      );
      if (first !== "ok") {
        expect(isDeltaError(first, "delta.integrity")).toBe(false);
        expect(existsSync(out)).toBe(false);
        await store.get(`app/${versions[2]!.name}`, out);
      }
      expect((await readFile(out)).equals(versions[2]!.bytes)).toBe(true);
      expect((await readdir(dir)).filter((n) => n.includes("s3kit-part"))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
