// Issue 13 findings 1, 4, 5, 6 and 11 against moto and the file:// store: remote data (metadata, bodies) never
// reaches a local path, an allocation or a delete unchecked, and readers never see an older version.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import { createTestBucket, startS3Server, type TestServer, testClientOptions } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBytes, tempDir, writeVersions } from "./__fixtures__/versions.ts";
import { createDeltaStore, type DeltaStore, isDeltaError } from "./index.ts";

let server: TestServer;
let work: string;
const opened: { store: DeltaStore; raw: ObjectStore }[] = [];

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir("trust");
});
afterAll(async () => {
  for (const { store, raw } of opened) {
    await store.close();
    await raw.close();
  }
  await rm(work, { recursive: true, force: true });
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

type Kind = "s3" | "file";

/** A fresh bucket prefix (or file:// dir) and its raw object store. */
async function freshLocation(kind: Kind, tag: string): Promise<{ location: string; raw: ObjectStore }> {
  let location: string;
  if (kind === "s3") {
    const { url } = await createTestBucket(server, tag);
    location = `${url}releases/`;
  } else {
    const dir = join(work, `store-${tag}-${randomBytes(3).toString("hex")}`);
    await mkdir(dir, { recursive: true });
    location = `file://${dir}`;
  }
  return { location, raw: openObjectStore(location, kind === "s3" ? testClientOptions(server) : {}) };
}

function open(
  kind: Kind,
  location: string,
  raw: ObjectStore,
  options: Partial<Parameters<typeof createDeltaStore>[0]> = {},
): DeltaStore {
  const store = createDeltaStore({
    location,
    ...(kind === "s3" ? testClientOptions(server) : {}),
    cache: { dir: join(work, `cache-${randomBytes(4).toString("hex")}`) },
    ...options,
  });
  opened.push({ store, raw });
  return store;
}

/** Replace an object's metadata (same bytes). */
async function setMeta(raw: ObjectStore, key: string, patch: Record<string, string>): Promise<void> {
  const info = await raw.head(key);
  await raw.put(key, await raw.getBytes(key), { metadata: { ...info!.metadata, ...patch } });
}

const leftovers = async (dir: string) => (await readdir(dir)).filter((n) => n.includes("s3kit-part"));

describe.each(["s3", "file"] as const)("remote data is untrusted (%s)", (kind) => {
  it("a dg-ref-sha256 or reference dg-file-sha256 that is a path fails the item and deletes nothing (13.1)", async () => {
    const { location, raw } = await freshLocation(kind, "hashpath");
    // The cache sits five levels below `root`: the old code joined `../../../../x/notes.txt` into
    // `<cache>/../../../../../x/notes.txt` = `root/x/notes.txt`, found a hash mismatch and removed it.
    const root = await tempDir("hashpath");
    const cacheDir = join(root, "a", "b", "c", "d", "cache");
    await mkdir(join(root, "x"), { recursive: true });
    const notes = join(root, "x", "notes.txt");
    await writeFile(notes, "my notes\n");
    const store = open(kind, location, raw, { cache: { dir: cacheDir } });
    const versions = await writeVersions(root, 3, 200_000);
    await store.put(versions[0]!.path, `app/${versions[0]!.name}`);
    await store.put(versions[1]!.path, `app/${versions[1]!.name}`);

    await setMeta(raw, `app/${versions[1]!.name}.delta`, { "dg-ref-sha256": "../../../../x/notes.txt" });
    const out = join(root, "out.tar");
    const error = await store.get(`app/${versions[1]!.name}`, out).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(existsSync(notes)).toBe(true);
    expect(await readFile(notes, "utf8")).toBe("my notes\n");
    expect(isDeltaError(error, "delta.integrity")).toBe(true);
    expect((error as Error).message).toMatch(/dg-ref-sha256 of .*\.delta is "\.\.\/\.\.\/\.\.\/\.\.\/x\/notes\.txt"/);
    expect((error as Error).message).toMatch(/64 lowercase hex/);
    expect(existsSync(out)).toBe(false);
    expect(await leftovers(root)).toEqual([]);
    // verify and list report it too, without touching the file.
    const verified = await store.verify(`app/${versions[1]!.name}`);
    expect(verified).toMatchObject({ valid: false, error: expect.stringMatching(/dg-ref-sha256/) });
    const listed = [];
    for await (const e of store.list("app/")) listed.push(e);
    expect(listed.find((e) => e.key === `app/${versions[1]!.name}`)).toMatchObject({
      problem: expect.stringMatching(/dg-ref-sha256/),
    });
    expect(existsSync(notes)).toBe(true);

    // Upload through a reference.bin whose dg-file-sha256 is a path: no delta, nothing deleted.
    await setMeta(raw, "app/reference.bin", { "dg-file-sha256": "../../../../x/notes.txt" });
    const put = await store.put(versions[2]!.path, `app/${versions[2]!.name}`);
    expect(put).toMatchObject({
      stored: "direct",
      reason: "referenceUnusable",
      detail: expect.stringMatching(/dg-file-sha256/),
    });
    expect(await readFile(notes, "utf8")).toBe("my notes\n");
    const back = join(root, "back.tar");
    await store.get(`app/${versions[2]!.name}`, back);
    expect((await readFile(back)).equals(versions[2]!.bytes)).toBe(true);
  });

  it("a failed delete of the older form never makes the older version current (13.4)", async () => {
    const { location, raw } = await freshLocation(kind, "order");
    // The delete of any `.delta` fails, as a network cut or a denied permission would make it.
    const failingDeletes = new Proxy(raw, {
      get(target, prop, receiver) {
        if (prop === "delete") {
          return async (key: string, opts?: unknown) => {
            if (key.endsWith(".delta")) throw Object.assign(new Error("injected: delete refused"), { code: "EIO" });
            return target.delete(key, opts as never);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as ObjectStore;
    const store = open(kind, location, raw, { store: failingDeletes });
    const dir = await tempDir("order");
    const versions = await writeVersions(dir, 3, 150_000);
    await store.put(versions[0]!.path, "app/first.tar");
    // S3 reports LastModified in whole seconds: start at the top of a second so that the delta (v1) and the
    // direct object (v2) carry the same second, the tie the old code resolved in favour of the delta.
    if (kind === "s3") await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    expect((await store.put(versions[1]!.path, "app/b.tar")).stored).toBe("delta");
    const attempt = await store.put(versions[2]!.path, "app/b.tar", { noDelta: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(attempt).toBeDefined();
    expect(await raw.head("app/b.tar.delta")).toBeDefined();
    expect(await raw.head("app/b.tar")).toBeDefined();
    if (kind === "file") {
      // A writer with a clock ahead (or a later touch) makes the stale delta look newer: LastModified must
      // not decide.
      const future = new Date(Date.now() + 3_600_000);
      await utimes(join(location.slice("file://".length), "app", "b.tar.delta"), future, future);
    }
    const out = join(dir, "out.tar");
    const got = await store.get("app/b.tar", out);
    expect(got.kind).toBe("direct");
    // ls shows the current form only, with its size.
    const listed = [];
    for await (const e of store.list("app/")) listed.push(e);
    expect(listed.filter((e) => e.key === "app/b.tar")).toEqual([
      expect.objectContaining({ kind: "direct", size: versions[2]!.bytes.length }),
    ]);
    expect((await readFile(out)).equals(versions[2]!.bytes)).toBe(true);
    expect((await store.verify("app/b.tar")).kind).toBe("direct");
    expect(isDeltaError(attempt, "delta.storage")).toBe(true);
    expect((attempt as Error).message).toMatch(/readers take as current.*could not be deleted/);
    // Generations: 1 for the delta, 2 for the direct object written over it.
    expect((await raw.head("app/b.tar.delta"))!.metadata["dg-generation"]).toBe("1");
    expect((await raw.head("app/b.tar"))!.metadata["dg-generation"]).toBe("2");

    // Once deletes work again, the next upload (a delta again) wins over both and removes the direct one.
    const healthy = open(kind, location, raw);
    expect((await healthy.put(versions[1]!.path, "app/b.tar")).stored).toBe("delta");
    expect(await raw.head("app/b.tar")).toBeUndefined();
    expect((await raw.head("app/b.tar.delta"))!.metadata["dg-generation"]).toBe("3");
    await healthy.get("app/b.tar", out);
    expect((await readFile(out)).equals(versions[1]!.bytes)).toBe(true);
  });

  it("verify checks the stored reference, not the local cache (13.5)", async () => {
    const { location, raw } = await freshLocation(kind, "verify");
    let referenceGets = 0;
    const counting = new Proxy(raw, {
      get(target, prop, receiver) {
        if (prop === "get") {
          return (key: string, opts?: unknown) => {
            if (key.endsWith("reference.bin")) referenceGets++;
            return target.get(key, opts as never);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as ObjectStore;
    const store = open(kind, location, raw, { store: counting });
    const dir = await tempDir("verify");
    const versions = await writeVersions(dir, 2, 200_000);
    for (const v of versions) await store.put(v.path, `app/${v.name}`);
    // The cache holds the reference (seeded by the upload), yet verify reads the stored one, once per ETag.
    expect(referenceGets).toBe(0);
    expect((await store.verify(`app/${versions[1]!.name}`)).valid).toBe(true);
    expect(referenceGets).toBe(1);
    expect((await store.verify(`app/${versions[0]!.name}`)).valid).toBe(true);
    expect(referenceGets).toBe(1);

    const refBytes = Buffer.from(await raw.getBytes("app/reference.bin"));
    const refInfo = await raw.head("app/reference.bin");
    await raw.delete("app/reference.bin");
    const missing = await store.verify(`app/${versions[1]!.name}`);
    expect(missing).toMatchObject({
      valid: false,
      error: expect.stringMatching(/reference .*reference\.bin.* missing/),
    });

    // A stored reference with one flipped byte fails too, although the cached copy is intact.
    refBytes[1000]! ^= 0x01;
    await raw.put("app/reference.bin", refBytes, { metadata: refInfo!.metadata });
    const corrupt = await store.verify(`app/${versions[1]!.name}`);
    expect(corrupt).toMatchObject({ valid: false, error: expect.stringMatching(/reference hashes to/) });
  });

  it("decoded output is capped at dg-file-size in every engine and for direct objects (13.6)", async () => {
    const { location, raw } = await freshLocation(kind, "bomb");
    const store = open(kind, location, raw);
    const dir = await tempDir("bomb");
    const ref = realBytes(200_000);
    const refPath = join(dir, "reference.bin");
    await writeFile(refPath, ref);
    await raw.put("app/reference.bin", ref, {
      metadata: { "dg-file-sha256": sha(ref), "dg-file-size": String(ref.length), "dg-note": "reference" },
    });
    // 16 MiB of zeros: a few KB as a delta, a lying `dg-file-size: 10`.
    const bombSize = 16 * 1024 * 1024;
    const bombPath = join(dir, "bomb.raw");
    await writeFile(bombPath, Buffer.alloc(bombSize));
    const lying = (engine: string, extra: Record<string, string> = {}) => ({
      "dg-file-sha256": sha(Buffer.alloc(10)),
      "dg-file-size": "10",
      "dg-ref-key": `${kind === "s3" ? "releases/" : ""}app/reference.bin`,
      "dg-ref-sha256": sha(ref),
      "dg-engine": engine,
      ...extra,
    });
    const native = join(dir, "native.delta");
    execFileSync("xdelta3", ["-e", "-f", "-9", "-s", refPath, bombPath, native]);
    const plain = join(dir, "plain.delta");
    execFileSync("xdelta3", ["-e", "-f", "-9", "-S", "none", "-s", refPath, bombPath, plain]);
    const zstd = zstdCompressSync(Buffer.alloc(bombSize), {
      params: { [zlibConstants.ZSTD_c_windowLog]: 20, [zlibConstants.ZSTD_c_checksumFlag]: 1 },
      dictionary: ref,
    } as never);
    const bombs: [string, Uint8Array, Record<string, string>][] = [
      ["native.bin", await readFile(native), lying("xdelta3")],
      ["wasm.bin", await readFile(plain), lying("xdelta3-wasm")],
      ["zstd.bin", zstd, lying("zstd", { "dg-zstd-window-log": "20" })],
    ];
    for (const [name, body, metadata] of bombs) {
      expect(body.length).toBeLessThan(64 * 1024);
      await raw.put(`app/${name}.delta`, body, { metadata });
    }
    // A direct object with the same lie: 16 MiB stored, 10 bytes declared.
    await raw.put("app/direct.bin", Buffer.alloc(bombSize), {
      metadata: { "dg-file-sha256": sha(Buffer.alloc(10)), "dg-file-size": "10", "dg-compression": "none" },
    });

    for (const name of ["native.bin", "wasm.bin", "zstd.bin", "direct.bin"]) {
      const out = join(dir, `out-${name}`);
      const error = await store.get(`app/${name}`, out).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDeltaError(error, "delta.integrity"), `${name}: ${String(error)}`).toBe(true);
      // The wasm build stops by itself (its output buffer is sized from dg-file-size); the others hit the cap.
      if (name !== "wasm.bin") expect((error as Error).message).toMatch(/larger than its declared 10 bytes/);
      expect(existsSync(out)).toBe(false);
      expect(await leftovers(dir)).toEqual([]);
      expect((await store.verify(`app/${name}`)).valid).toBe(false);
    }
  });

  it("cache entries are 0600, and plaintext ones are removed (never served) once the key is set (13.11)", async () => {
    const { location, raw } = await freshLocation(kind, "cachekey");
    const dir = await tempDir("cachekey");
    const cacheDir = join(dir, "cache");
    const versions = await writeVersions(dir, 2, 200_000);
    const plainStore = open(kind, location, raw, {
      cache: { dir: cacheDir, encryptionKeyEnv: "S3KIT_TEST_KEY_13_11" },
    });
    // Seeded from the uploaded file (mode 0644 on disk): the entry is private anyway.
    for (const v of versions) await plainStore.put(v.path, `app/${v.name}`);
    const refSha = sha(versions[0]!.bytes);
    const plainEntry = join(cacheDir, refSha.slice(0, 2), refSha.slice(2, 4), refSha);
    expect(((await stat(versions[0]!.path)).mode & 0o777).toString(8)).toBe("644");
    expect(((await stat(plainEntry)).mode & 0o777).toString(8)).toBe("600");
    // Fetched (not seeded) entries too.
    await rm(plainEntry);
    await plainStore.get(`app/${versions[1]!.name}`, join(dir, "o1.tar"));
    expect(((await stat(plainEntry)).mode & 0o777).toString(8)).toBe("600");

    process.env.S3KIT_TEST_KEY_13_11 = randomBytes(32).toString("hex");
    try {
      // The reference is gone from the store: only the plaintext entry could still answer, and it must not.
      const refInfo = await raw.head("app/reference.bin");
      const refBody = await raw.getBytes("app/reference.bin");
      await raw.delete("app/reference.bin");
      const encStore = open(kind, location, raw, {
        cache: { dir: cacheDir, encryptionKeyEnv: "S3KIT_TEST_KEY_13_11" },
      });
      await expect(encStore.get(`app/${versions[1]!.name}`, join(dir, "o2.tar"))).rejects.toSatisfy((e: unknown) =>
        isDeltaError(e, "delta.integrity"),
      );
      expect(existsSync(plainEntry)).toBe(false);
      expect(existsSync(join(dir, "o2.tar"))).toBe(false);

      await raw.put("app/reference.bin", refBody, { metadata: refInfo!.metadata });
      await encStore.get(`app/${versions[1]!.name}`, join(dir, "o3.tar"));
      expect((await readFile(join(dir, "o3.tar"))).equals(versions[1]!.bytes)).toBe(true);
      const encEntry = `${plainEntry}.enc`;
      expect(((await stat(encEntry)).mode & 0o777).toString(8)).toBe("600");
      expect(existsSync(plainEntry)).toBe(false);
    } finally {
      delete process.env.S3KIT_TEST_KEY_13_11;
    }
  });
});
