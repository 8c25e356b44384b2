// Issue 14 (delta-store): `auto` never breaks DeltaGlider compatibility. Without an xdelta3 binary it writes
// VCDIFF (xdelta3-wasm) where that fits and stores the rest directly, never zstd; a deltaspace keeps one
// format unless an engine is asked for.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ObjectStore, openObjectStore } from "@toolkit/shared";
import { createTestBucket, startS3Server, type TestServer, testClientOptions } from "@toolkit/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, writeVersions } from "./__fixtures__/versions.ts";
import { createDeltaStore, type DeltaStore } from "./index.ts";

let server: TestServer;
let work: string;
const opened: { store: DeltaStore; raw: ObjectStore }[] = [];

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir("engines-it");
});
afterAll(async () => {
  for (const { store, raw } of opened) {
    await store.close();
    await raw.close();
  }
  await rm(work, { recursive: true, force: true });
});

async function openFresh(kind: "s3" | "file", tag: string, options: Partial<Parameters<typeof createDeltaStore>[0]>) {
  let location: string;
  if (kind === "s3") {
    const { url } = await createTestBucket(server, tag);
    location = `${url}releases/`;
  } else {
    const dir = join(work, `store-${tag}-${randomBytes(3).toString("hex")}`);
    await mkdir(dir, { recursive: true });
    location = `file://${dir}`;
  }
  const store = createDeltaStore({
    location,
    ...(kind === "s3" ? testClientOptions(server) : {}),
    cache: { dir: join(work, `cache-${randomBytes(4).toString("hex")}`) },
    ...options,
  });
  const raw = openObjectStore(location, kind === "s3" ? testClientOptions(server) : {});
  opened.push({ store, raw });
  return { store, raw };
}

/** What DeltaGlider does on a read: `xdelta3 -d -s reference.bin <name>.delta out` on the raw objects. */
async function decodeWithCli(raw: ObjectStore, dir: string, deltaKey: string, refKey: string): Promise<Buffer> {
  const ref = join(dir, `ref-${randomBytes(3).toString("hex")}`);
  const delta = join(dir, `delta-${randomBytes(3).toString("hex")}`);
  const out = join(dir, `out-${randomBytes(3).toString("hex")}`);
  await writeFile(ref, await raw.getBytes(refKey));
  await writeFile(delta, await raw.getBytes(deltaKey));
  execFileSync("xdelta3", ["-d", "-f", "-s", ref, delta, out]);
  return readFile(out);
}

describe.each(["s3", "file"] as const)("auto engine without an xdelta3 binary (%s)", (kind) => {
  it("writes VCDIFF deltas the xdelta3 CLI decodes, stores what xdelta3-wasm cannot take directly, never zstd", async () => {
    // Engine resolution as on a machine without the binary: the configured xdelta3 does not exist.
    const { store, raw } = await openFresh(kind, "nobin", { xdelta3Path: join(work, "no-such-dir", "xdelta3") });
    const dir = await tempDir("nobin");
    const versions = await writeVersions(dir, 3, 600_000);
    const results = [];
    for (const v of versions) results.push(await store.put(v.path, `app/${v.name}`));
    expect(results.map((r) => [r.stored, r.engine])).toEqual([
      ["reference", "xdelta3-wasm"],
      ["delta", "xdelta3-wasm"],
      ["delta", "xdelta3-wasm"],
    ]);
    expect((await raw.head("app/reference.bin"))!.metadata["dg-engine"]).toBe("xdelta3-wasm");
    for (const v of versions) {
      const info = await raw.head(`app/${v.name}.delta`);
      expect(info!.metadata["dg-engine"]).toBe("xdelta3-wasm");
      const decoded = await decodeWithCli(raw, dir, `app/${v.name}.delta`, "app/reference.bin");
      expect(decoded.equals(v.bytes)).toBe(true);
    }

    // Over xdelta3-wasm's limit: stored directly, with the reason, not as a zstd delta.
    const big = await writeVersions(join(dir), 2, 1_500_000, ".zip");
    const first = await store.put(big[0]!.path, `large/${big[0]!.name}`);
    expect(first).toMatchObject({
      stored: "direct",
      reason: "noEngine",
      detail: expect.stringMatching(/no xdelta3 binary on PATH.*xdelta3-wasm's limits/),
    });
    expect(first.engine).toBeUndefined();
    // No orphan reference for a deltaspace that got no delta.
    expect(await raw.head("large/reference.bin")).toBeUndefined();
    const listed: string[] = [];
    for await (const o of raw.list({ prefix: "" })) if (o.kind === "object") listed.push(o.key);
    for (const key of listed.filter((k) => k.endsWith(".delta"))) {
      expect((await raw.head(key))!.metadata["dg-engine"]).not.toBe("zstd");
    }
    // The direct object is what DeltaGlider reads as a plain file.
    const out = join(dir, "large.zip");
    await store.get(`large/${big[0]!.name}`, out);
    expect((await readFile(out)).equals(big[0]!.bytes)).toBe(true);
  });

  it("keeps one format per deltaspace: auto follows a zstd deltaspace, an asked-for engine is honoured and flagged", async () => {
    const { store, raw } = await openFresh(kind, "mix", {});
    const dir = await tempDir("mix");
    const versions = await writeVersions(dir, 4, 300_000);
    // A deltaspace created with zstd on purpose: later auto uploads stay zstd (no silent mix).
    await store.put(versions[0]!.path, `z/${versions[0]!.name}`, { engine: "zstd" });
    expect((await raw.head("z/reference.bin"))!.metadata["dg-engine"]).toBe("zstd");
    const auto = await store.put(versions[1]!.path, `z/${versions[1]!.name}`);
    expect(auto).toMatchObject({ stored: "delta", engine: "zstd" });
    expect(auto.detail).toBeUndefined();
    // An older s3kit reference without dg-engine: the first file's zero-diff delta tells the format.
    const ref = await raw.head("z/reference.bin");
    const { "dg-engine": _dropped, ...older } = ref!.metadata;
    await raw.put("z/reference.bin", await raw.getBytes("z/reference.bin"), { metadata: older });
    expect((await store.put(versions[2]!.path, `z/${versions[2]!.name}`)).engine).toBe("zstd");

    // A VCDIFF deltaspace (the default): auto uses the binary; zstd only when asked, and the result says so.
    await store.put(versions[0]!.path, `v/${versions[0]!.name}`);
    expect((await raw.head("v/reference.bin"))!.metadata["dg-engine"]).toBe("xdelta3");
    expect((await store.put(versions[1]!.path, `v/${versions[1]!.name}`)).engine).toBe("xdelta3");
    const asked = await store.put(versions[2]!.path, `v/${versions[2]!.name}`, { engine: "zstd" });
    expect(asked).toMatchObject({ engine: "zstd", detail: expect.stringMatching(/mixes formats.*DeltaGlider cannot/) });
    // A DeltaGlider reference (no dg-engine, no zero-diff delta of ours): VCDIFF.
    const dgRef = await raw.head("v/reference.bin");
    await raw.put("w/reference.bin", await raw.getBytes("v/reference.bin"), {
      metadata: { "dg-tool": "deltaglider/6.1.2", "dg-file-sha256": dgRef!.metadata["dg-file-sha256"]! },
    });
    expect((await store.put(versions[3]!.path, `w/${versions[3]!.name}`)).engine).toBe("xdelta3");
  });
});
