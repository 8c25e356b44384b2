import type { EngineName } from "../metadata.ts";
import { createNativeXdelta3Engine } from "./xdelta3-native.ts";
import { createWasmXdelta3Engine, WASM_MAX_ENCODE_REFERENCE_BYTES, WASM_MAX_TARGET_BYTES } from "./xdelta3-wasm.ts";
import { createZstdEngine } from "./zstd.ts";

/** One delta engine and whether it runs here. */
export interface EngineStatus {
  name: EngineName;
  available: boolean;
  /** The binary's version (`xdelta3` only, when installed). */
  version?: string;
  /** What it is used for, and its limits. */
  notes: string;
}

/** What `engine: "auto"` does on this machine. */
export interface AutoEngines {
  /** Engine for new deltaspaces whose files fit xdelta3-wasm (≤ 1 MiB, reference ≤ 2 MiB). */
  small: EngineName | "direct";
  /** Engine for larger files. */
  large: EngineName | "direct";
  /** One line for `s3kit doctor`, e.g. `auto: xdelta3 3.0.11 for every size (VCDIFF, DeltaGlider-compatible)`. */
  summary: string;
}

export interface EngineDescription {
  engines: EngineStatus[];
  auto: AutoEngines;
}

const MIB = 1024 * 1024;

/**
 * The delta engines, whether each runs here, and what `auto` (the default) would use for new deltas: for
 * `s3kit doctor` and `store.engines()`. Spawns `xdelta3 -V` once; loads the wasm module.
 * @param options.xdelta3Path the native binary. @default "xdelta3" (looked up on PATH)
 */
export async function describeEngines(options: { xdelta3Path?: string } = {}): Promise<EngineDescription> {
  const binary = options.xdelta3Path ?? "xdelta3";
  const native = createNativeXdelta3Engine(binary);
  const wasm = createWasmXdelta3Engine();
  const zstd = createZstdEngine();
  const [nativeUp, version, wasmUp, zstdUp] = await Promise.all([
    native.available(),
    native.version(),
    wasm.available(),
    zstd.available(),
  ]);
  const engines: EngineStatus[] = [
    {
      name: "xdelta3",
      available: nativeUp,
      ...(version ? { version } : {}),
      notes: `native binary \`${binary}\`: any size, streams; DeltaGlider's engine (VCDIFF with LZMA); decodes every DeltaGlider delta`,
    },
    {
      name: "xdelta3-wasm",
      available: wasmUp,
      notes: `WebAssembly, 16 MiB fixed memory: encodes files up to ${WASM_MAX_TARGET_BYTES / MIB} MiB (reference up to ${WASM_MAX_ENCODE_REFERENCE_BYTES / MIB} MiB); VCDIFF without secondary compression (any xdelta3 decodes it); cannot decode LZMA deltas`,
    },
    {
      name: "zstd",
      available: zstdUp,
      notes:
        "node:zlib zstd with the reference as dictionary (reference + file up to 2 GiB, reference held in memory); only with engine zstd: DeltaGlider cannot read these deltas",
    },
  ];
  let auto: AutoEngines;
  if (nativeUp) {
    auto = {
      small: "xdelta3",
      large: "xdelta3",
      summary: `auto: xdelta3${version ? ` ${version}` : ""} for every size (VCDIFF, DeltaGlider-compatible)`,
    };
  } else if (wasmUp) {
    auto = {
      small: "xdelta3-wasm",
      large: "direct",
      summary: `auto: xdelta3-wasm for files up to ${WASM_MAX_TARGET_BYTES / MIB} MiB; larger files stored directly (no xdelta3 binary on PATH: install xdelta3 for deltas of any size)`,
    };
  } else {
    auto = {
      small: "direct",
      large: "direct",
      summary: "auto: every file stored directly (no xdelta3 binary on PATH and xdelta3-wasm could not be loaded)",
    };
  }
  return { engines, auto };
}
