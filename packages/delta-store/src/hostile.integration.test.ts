// The hostile-input kit (@toolkit/shared/testing) against delta-store's read commands: list (ls), get (cp down)
// and verify, on moto and the file:// store, plus crafted deltas of our own (a hash that is a path, a bomb, a
// negative size, a ref-key that climbs out). Nothing outside the target folder may change, and each bad item
// is exactly one failed item with a one-line message; good items come back byte-identical.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { keyToLocalPath, type ObjectStore, openObjectStore } from "@toolkit/shared";
import {
  createHostileSandbox,
  createTestBucket,
  diffTrees,
  HOSTILE_SECRET,
  type HostileSandbox,
  seedHostileStore,
  snapshotTree,
  startS3Server,
  type TestServer,
  testClientOptions,
} from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBytes, tempDir, versionOf } from "./__fixtures__/versions.ts";
import { createDeltaStore, type DeltaListEntry } from "./index.ts";

let server: TestServer;
let work: string;
const sandboxes: HostileSandbox[] = [];

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir("hostile");
});
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.remove()));
  await rm(work, { recursive: true, force: true });
});

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Deltas crafted against a real reference: what each must give. */
async function plantDeltas(raw: ObjectStore, bucketPrefix: string, secretPath: string) {
  const dir = await tempDir("hostile-deltas");
  const ref = realBytes(150_000);
  const next = versionOf(ref, 2);
  await writeFile(join(dir, "ref"), ref);
  await writeFile(join(dir, "next"), next);
  await writeFile(join(dir, "zeros"), Buffer.alloc(16 * 1024 * 1024));
  execFileSync("xdelta3", ["-e", "-f", "-9", "-s", join(dir, "ref"), join(dir, "next"), join(dir, "d")]);
  execFileSync("xdelta3", ["-e", "-f", "-9", "-s", join(dir, "ref"), join(dir, "zeros"), join(dir, "bomb")]);
  const delta = await readFile(join(dir, "d"));
  const bomb = await readFile(join(dir, "bomb"));
  await rm(dir, { recursive: true, force: true });
  await raw.put("deltas/reference.bin", ref, {
    metadata: { "dg-tool": "deltaglider/6.1.2", "dg-file-sha256": sha(ref), "dg-note": "reference" },
  });
  const meta = (extra: Record<string, string>) => ({
    "dg-tool": "deltaglider/6.1.2",
    "dg-file-sha256": sha(next),
    "dg-file-size": String(next.length),
    "dg-ref-key": `${bucketPrefix}deltas/reference.bin`,
    "dg-ref-sha256": sha(ref),
    ...extra,
  });
  const hashAsPath = `../../../../../../../..${secretPath}`;
  const planted: { key: string; body: Uint8Array; metadata: Record<string, string>; ok: boolean }[] = [
    { key: "deltas/good.tar", body: delta, metadata: meta({}), ok: true },
    // An unusable ref-key is not followed: the deltaspace's own reference.bin is used, and the file decodes.
    {
      key: "deltas/refkey-escape.tar",
      body: delta,
      metadata: meta({ "dg-ref-key": "../../../outside/secret.txt" }),
      ok: true,
    },
    { key: "deltas/hash-path.tar", body: delta, metadata: meta({ "dg-ref-sha256": hashAsPath }), ok: false },
    { key: "deltas/abs-hash.tar", body: delta, metadata: meta({ "dg-file-sha256": secretPath }), ok: false },
    { key: "deltas/negative.tar", body: delta, metadata: meta({ "dg-file-size": "-1" }), ok: false },
    {
      key: "deltas/bomb.tar",
      body: bomb,
      metadata: meta({ "dg-file-size": "10", "dg-file-sha256": sha(Buffer.alloc(10)) }),
      ok: false,
    },
  ];
  for (const p of planted) await raw.put(`${p.key}.delta`, p.body, { metadata: p.metadata });
  return { planted, next };
}

describe.each(["s3", "file"] as const)("delta-store read commands against the hostile-input kit (%s)", (kind) => {
  it("list, get and verify: nothing outside the target changes; each bad item is one failed item", async () => {
    const box = await createHostileSandbox(`delta-${kind}`);
    sandboxes.push(box);
    let location: string;
    let bucketPrefix = "";
    if (kind === "s3") {
      const { url, client } = await createTestBucket(server, "hostile-delta");
      client.destroy();
      location = `${url}hostile/`;
      bucketPrefix = "hostile/";
    } else {
      location = pathToFileURL(box.store).href;
    }
    const seed = await seedHostileStore({
      location,
      outsideDir: box.outside,
      ...(kind === "s3" ? { clientOptions: testClientOptions(server) } : {}),
      bombBytes: 4 * 1024 * 1024,
    });
    const raw = openObjectStore(location, kind === "s3" ? testClientOptions(server) : {});
    const { planted, next } = await plantDeltas(raw, bucketPrefix, seed.secretPath);
    await raw.close();

    const store = createDeltaStore({
      location,
      ...(kind === "s3" ? testClientOptions(server) : {}),
      // Outside the snapshot root: the cache is allowed to change.
      cache: { dir: join(work, `cache-${randomBytes(4).toString("hex")}`) },
    });
    const before = await snapshotTree(box.root, { exclude: ["target"] });

    // ls -r: one pass, never an exception, entries with hostile metadata carry a `problem`.
    const listed: DeltaListEntry[] = [];
    for await (const entry of store.list("", { recursive: true })) listed.push(entry);
    const files = listed.filter((e) => e.kind !== "folder");
    const problems = new Map(files.filter((e) => e.problem).map((e) => [e.key, e.problem!]));

    // cp down of every listed file into the target (the key becomes a path only through keyToLocalPath), and
    // verify of each: every outcome is either the right bytes or one failed item with a one-line message.
    const outcome = new Map<string, { ok: true } | { ok: false; error: string }>();
    const verified = new Map<string, boolean>();
    for (const entry of files) {
      let dest: string;
      try {
        dest = keyToLocalPath(box.target, entry.key).absolute;
      } catch (error) {
        outcome.set(entry.key, { ok: false, error: (error as Error).message });
        continue;
      }
      const got = await store.get(entry.key, dest).then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ ok: false as const, error: (error as Error).message }),
      );
      outcome.set(entry.key, got);
      verified.set(
        entry.key,
        await store.verify(entry.key).then(
          (v) => v.valid,
          () => false,
        ),
      );
      if (!got.ok) expect(existsSync(dest), `no file for failed ${JSON.stringify(entry.key)}`).toBe(false);
    }
    await store.close();

    // Nothing outside the target changed: not the outside secret, not the store (a read writes nothing).
    expect(diffTrees(before, await snapshotTree(box.root, { exclude: ["target"] }))).toEqual([]);
    expect(await readFile(seed.secretPath, "utf8")).toBe(HOSTILE_SECRET);

    // What the kit says must fail, fails, one item each. delta-store also fails the items whose declared size
    // is a lie (`decodeFails`: the bombs, the size mismatch): for it `dg-file-size` is the file's size, and the
    // stored body is longer.
    const expected = seed.expected();
    const shouldFail = new Set([
      ...expected.failed,
      ...seed.items.filter((i) => i.decodeFails && i.listed).map((i) => i.key),
      ...planted.filter((p) => !p.ok).map((p) => p.key),
    ]);
    const shouldPass = [
      ...expected.ok.filter((k) => !shouldFail.has(k)),
      ...planted.filter((p) => p.ok).map((p) => p.key),
    ];
    for (const key of shouldPass) {
      expect(outcome.get(key), `${JSON.stringify(key)} downloads`).toEqual({ ok: true });
      expect(verified.get(key), `${JSON.stringify(key)} verifies`).toBe(true);
      const local = await readFile(keyToLocalPath(box.target, key).absolute);
      const planned = planted.find((p) => p.key === key);
      if (planned) expect(local.equals(next)).toBe(true);
      else expect(sha(local)).toBe(seed.item(key).sha256);
    }
    for (const key of shouldFail) {
      const result = outcome.get(key);
      if (result === undefined) {
        // Not listed at all: only the store layer may drop a key it cannot represent (file:// holds no path keys).
        expect(files.some((f) => f.key === key)).toBe(false);
        continue;
      }
      expect(result.ok, `${JSON.stringify(key)} fails`).toBe(false);
      // Remote lies fail verify too (a key that is only a bad local path, e.g. 300 bytes long, may verify).
      if (key.startsWith("lies/") || key.startsWith("bomb/") || key.startsWith("deltas/")) {
        expect(verified.get(key), `${JSON.stringify(key)} fails verify`).toBe(false);
      }
      if (!result.ok) {
        expect(result.error.length).toBeGreaterThan(10);
        expect(result.error).not.toMatch(/\n/);
      }
    }
    // Each listed file is exactly one outcome; no key listed twice.
    expect(new Set(files.map((f) => f.key)).size).toBe(files.length);
    // The planted deltas with hostile metadata are flagged by ls, with the field named.
    expect(problems.get("deltas/hash-path.tar")).toMatch(/dg-ref-sha256/);
    expect(problems.get("deltas/abs-hash.tar")).toMatch(/dg-file-sha256/);
    expect(problems.get("deltas/negative.tar")).toMatch(/dg-file-size/);
    const messages = [...outcome.entries()]
      .filter(([, o]) => !o.ok)
      .map(([k, o]) => [k, (o as { error: string }).error]);
    expect(Object.fromEntries(messages)).toMatchObject({
      "deltas/bomb.tar": expect.stringMatching(/larger than its declared 10 bytes/),
      "deltas/hash-path.tar": expect.stringMatching(/dg-ref-sha256 .*64 lowercase hex/),
      "lies/hash-is-path.txt": expect.stringMatching(/dg-file-sha256 .*64 lowercase hex/),
      "lies/size-mismatch.txt": expect.stringMatching(/larger than its declared 10 bytes/),
      "lies/sha256-mismatch.txt": expect.stringMatching(/SHA-256/),
    });
    expect((await readdir(box.target, { recursive: true })).filter((n) => String(n).includes("s3kit-part"))).toEqual(
      [],
    );
  });
});
