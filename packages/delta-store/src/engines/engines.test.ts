import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sha256Hex } from "@toolkit/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realBytes, tempDir, versionOf } from "../__fixtures__/versions.ts";
import { isDeltaError } from "../errors.ts";
import type { DeltaMeta } from "../metadata.ts";
import { describeEngines } from "./describe.ts";
import type { DeltaEngine } from "./engine.ts";
import { isVcdiff, vcdiffSecondaryCompressor } from "./engine.ts";
import { type Engines, selectEncoder } from "./select.ts";
import {
  createNativeXdelta3Engine,
  DEFAULT_XDELTA3_LEVEL,
  encodeFlags,
  INPUT_WINDOW_BYTES,
  sourceWindowBytes,
} from "./xdelta3-native.ts";
import { createWasmXdelta3Engine, WASM_MAX_TARGET_BYTES } from "./xdelta3-wasm.ts";
import { createZstdEngine, zstdWindowLog } from "./zstd.ts";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("engines");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta = (fileSize: number, extra: Partial<DeltaMeta> = {}): DeltaMeta => ({
  fileSha256: "0".repeat(64) as Sha256Hex,
  fileSize,
  refKey: "reference.bin",
  refSha256: "0".repeat(64) as Sha256Hex,
  deltaSize: 0,
  engine: "xdelta3",
  ...extra,
});

async function roundTrip(engine: DeltaEngine, size: number) {
  const base = realBytes(size);
  const next = versionOf(base, 3);
  const ref = join(dir, `${engine.name}-ref`);
  const target = join(dir, `${engine.name}-new`);
  const delta = join(dir, `${engine.name}-delta`);
  const out = join(dir, `${engine.name}-out`);
  await writeFile(ref, base);
  await writeFile(target, next);
  const encoded = await engine.encode({
    referencePath: ref,
    referenceSize: base.length,
    targetPath: target,
    targetSize: next.length,
    outputPath: delta,
    maxOutputBytes: next.length,
  });
  expect(encoded.tooLarge).toBe(false);
  expect(encoded.size).toBeLessThan(next.length / 20);
  await engine.decode({
    referencePath: ref,
    referenceSize: base.length,
    delta: createReadStream(delta),
    deltaSize: encoded.size,
    sink: createWriteStream(out),
    meta: meta(next.length, encoded.zstdWindowLog ? { zstdWindowLog: encoded.zstdWindowLog } : {}),
  });
  expect((await readFile(out)).equals(next)).toBe(true);
  return { delta: await readFile(delta), ref, target, base, next };
}

describe("engines", () => {
  it("native xdelta3 round-trips and writes LZMA-compressed VCDIFF", async () => {
    const engine = createNativeXdelta3Engine();
    expect(await engine.available()).toBe(true);
    const { delta } = await roundTrip(engine, 2 * 1024 * 1024);
    expect(isVcdiff(delta)).toBe(true);
    expect(vcdiffSecondaryCompressor(delta)).toBe(true);
  });

  it("native xdelta3 encodes with the measured flags, and a plain `xdelta3 -d -s` (DeltaGlider's read) rebuilds it", async () => {
    const engine = createNativeXdelta3Engine();
    const { ref, next } = await roundTrip(engine, 3 * 1024 * 1024 + 17);
    expect(encodeFlags(3 * 1024 * 1024 + 17)).toEqual([
      "-e",
      "-f",
      `-${DEFAULT_XDELTA3_LEVEL}`,
      "-N",
      "-B",
      String(4 * 1024 * 1024),
      "-W",
      String(INPUT_WINDOW_BYTES),
    ]);
    const delta = join(dir, "xdelta3-new.vcdiff");
    const encoded = await engine.encode({
      referencePath: ref,
      referenceSize: 3 * 1024 * 1024 + 17,
      targetPath: join(dir, "xdelta3-new"),
      targetSize: next.length,
      outputPath: delta,
      maxOutputBytes: next.length,
    });
    expect(encoded.deltaCmd).toBe(
      `xdelta3 ${encodeFlags(3 * 1024 * 1024 + 17).join(" ")} -s reference.bin xdelta3-new`,
    );
    const out = join(dir, "xdelta3-plain-out");
    execFileSync("xdelta3", ["-d", "-f", "-s", ref, delta, out]);
    expect((await readFile(out)).equals(next)).toBe(true);
  });

  it("native xdelta3 refuses a level outside 1–9", () => {
    for (const level of [0, 10, 2.5]) {
      expect(() => createNativeXdelta3Engine("xdelta3", { level })).toThrow(/level/);
    }
  });

  it("xdelta3-wasm round-trips below its limit and refuses above it", async () => {
    const engine = createWasmXdelta3Engine();
    expect(await engine.available()).toBe(true);
    const { delta } = await roundTrip(engine, 512 * 1024);
    expect(vcdiffSecondaryCompressor(delta)).toBe(false);
    expect(engine.canEncode(1024, WASM_MAX_TARGET_BYTES)).toBe(true);
    expect(engine.canEncode(1024, WASM_MAX_TARGET_BYTES + 1)).toBe(false);
    expect(engine.cannotDecode({ referenceSize: 10, fileSize: 10, deltaHead: delta.subarray(0, 8) })).toBeUndefined();
  });

  it("xdelta3-wasm reports an over-ratio delta as too large", async () => {
    const engine = createWasmXdelta3Engine();
    const ref = join(dir, "wasm-ratio-ref");
    const target = join(dir, "wasm-ratio-new");
    await writeFile(ref, realBytes(100_000));
    await writeFile(target, randomBytes(100_000));
    const result = await engine.encode({
      referencePath: ref,
      referenceSize: 100_000,
      targetPath: target,
      targetSize: 100_000,
      outputPath: join(dir, "wasm-ratio-out"),
      maxOutputBytes: 50_000,
    });
    expect(result.tooLarge).toBe(true);
  });

  it("xdelta3-wasm cannot decode a default (LZMA) native delta, and says so", async () => {
    const wasm = createWasmXdelta3Engine();
    const native = createNativeXdelta3Engine();
    const { delta } = await roundTrip(native, 256 * 1024);
    expect(wasm.cannotDecode({ referenceSize: 1, fileSize: 1, deltaHead: delta.subarray(0, 8) })).toMatch(/LZMA/);
  });

  it("xdelta3-wasm decodes a native delta made with -S none", async () => {
    const base = realBytes(300_000);
    const next = versionOf(base, 2);
    const ref = join(dir, "s-ref");
    const target = join(dir, "s-new");
    const delta = join(dir, "s-delta");
    await writeFile(ref, base);
    await writeFile(target, next);
    execFileSync("xdelta3", ["-e", "-f", "-9", "-S", "none", "-s", ref, target, delta]);
    const out = join(dir, "s-out");
    await createWasmXdelta3Engine().decode({
      referencePath: ref,
      referenceSize: base.length,
      delta: createReadStream(delta),
      deltaSize: 0,
      sink: createWriteStream(out),
      meta: meta(next.length),
    });
    expect((await readFile(out)).equals(next)).toBe(true);
  });

  it("zstd with the reference as dictionary round-trips", async () => {
    const engine = createZstdEngine({ level: 9 });
    expect(await engine.available()).toBe(true);
    const { delta } = await roundTrip(engine, 2 * 1024 * 1024);
    expect(delta.readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it("a corrupt delta fails with delta.integrity (native and zstd)", async () => {
    for (const engine of [createNativeXdelta3Engine(), createZstdEngine({ level: 3 })]) {
      const { delta, ref, next, base } = await roundTrip(engine, 300_000);
      delta[Math.floor(delta.length / 2)]! ^= 0xff;
      const corrupt = join(dir, `${engine.name}-corrupt`);
      await writeFile(corrupt, delta);
      const out = join(dir, `${engine.name}-corrupt-out`);
      const attempt = engine.decode({
        referencePath: ref,
        referenceSize: base.length,
        delta: createReadStream(corrupt),
        deltaSize: delta.length,
        sink: createWriteStream(out),
        meta: meta(next.length, { zstdWindowLog: zstdWindowLog(base.length, next.length) }),
      });
      await expect(attempt).rejects.toSatisfy((error: unknown) => isDeltaError(error, "delta.integrity"));
    }
  });

  it("sizes windows to the data", () => {
    expect(sourceWindowBytes(0)).toBe(1024 * 1024);
    expect(sourceWindowBytes(1000)).toBe(1024 * 1024);
    expect(sourceWindowBytes(1024 * 1024 + 1)).toBe(2 * 1024 * 1024);
    expect(sourceWindowBytes(10_000_000)).toBe(16 * 1024 * 1024);
    expect(sourceWindowBytes(100 * 1024 * 1024)).toBe(128 * 1024 * 1024);
    expect(sourceWindowBytes(10 * 1024 ** 3)).toBe(256 * 1024 * 1024);
    expect(zstdWindowLog(1, 1)).toBe(20);
    expect(zstdWindowLog(100 * 1024 * 1024, 100 * 1024 * 1024)).toBe(28);
    expect(zstdWindowLog(4 * 1024 ** 3, 0)).toBe(31);
  });

  it("auto picks only VCDIFF engines: the binary, else xdelta3-wasm where it fits, else none (and says why)", async () => {
    const fake = (name: keyof Engines, up: boolean, maxTarget = Number.POSITIVE_INFINITY) =>
      ({
        name,
        available: async () => up,
        canEncode: (_ref: number, target: number) => target <= maxTarget,
      }) as unknown as DeltaEngine;
    const engines = (binary: boolean, wasm = true): Engines => ({
      xdelta3: fake("xdelta3", binary),
      "xdelta3-wasm": fake("xdelta3-wasm", wasm, WASM_MAX_TARGET_BYTES),
      zstd: fake("zstd", true),
    });
    const small = 100_000;
    const large = 5 * 1024 * 1024;
    expect((await selectEncoder(engines(true), "auto", small, small)).engine?.name).toBe("xdelta3");
    expect((await selectEncoder(engines(true), "auto", large, large)).engine?.name).toBe("xdelta3");
    expect((await selectEncoder(engines(false), "auto", small, small)).engine?.name).toBe("xdelta3-wasm");
    const none = await selectEncoder(engines(false), "auto", large, large);
    expect(none.engine).toBeUndefined();
    expect(none.why).toMatch(/no xdelta3 binary on PATH.*exceeds xdelta3-wasm's limits.*stored directly/);
    expect((await selectEncoder(engines(false, false), "auto", small, small)).why).toMatch(/could not be loaded/);
    // zstd only when asked for, or in a deltaspace that already holds zstd deltas.
    expect((await selectEncoder(engines(false), "zstd", large, large)).engine?.name).toBe("zstd");
    expect((await selectEncoder(engines(true), "auto", small, small, "zstd")).engine?.name).toBe("zstd");
    expect((await selectEncoder(engines(false), "auto", small, small, "vcdiff")).engine?.name).toBe("xdelta3-wasm");
  });

  it("describeEngines says what auto would use, with and without the binary", async () => {
    const here = await describeEngines();
    expect(here.engines.map((e) => e.name)).toEqual(["xdelta3", "xdelta3-wasm", "zstd"]);
    expect(here.engines[0]).toMatchObject({ available: true, version: expect.stringMatching(/^3\./) });
    expect(here.auto).toMatchObject({ small: "xdelta3", large: "xdelta3" });
    expect(here.auto.summary).toMatch(/^auto: xdelta3 3\.[\d.]+ for every size/);
    const without = await describeEngines({ xdelta3Path: join(dir, "no-such-xdelta3") });
    expect(without.engines[0]).toMatchObject({ available: false });
    expect(without.engines[0]!.version).toBeUndefined();
    expect(without.auto).toMatchObject({ small: "xdelta3-wasm", large: "direct" });
    expect(without.auto.summary).toMatch(/larger files stored directly/);
  });
});
