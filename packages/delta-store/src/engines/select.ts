import { DeltaError } from "../errors.ts";
import type { EngineName } from "../metadata.ts";
import type { EngineChoice } from "../options.ts";
import type { DeltaEngine } from "./engine.ts";
import { WASM_MAX_ENCODE_REFERENCE_BYTES, WASM_MAX_TARGET_BYTES } from "./xdelta3-wasm.ts";

export type Engines = Record<EngineName, DeltaEngine>;

/** The delta format of a deltaspace: VCDIFF (DeltaGlider's, any xdelta3 decodes it) or zstd (s3kit only). */
export type DeltaFormat = "vcdiff" | "zstd";

export function formatOf(engine: EngineName): DeltaFormat {
  return engine === "zstd" ? "zstd" : "vcdiff";
}

/** What {@link selectEncoder} decided: an engine, or none and why (the file is then stored directly). */
export type EncoderSelection = { engine: DeltaEngine; why?: undefined } | { engine?: undefined; why: string };

const MIB = 1024 * 1024;
const mib = (n: number) => `${Math.round((n / MIB) * 100) / 100} MiB`;

/**
 * The engine for a new delta.
 *
 * `auto` never breaks DeltaGlider compatibility: in a VCDIFF deltaspace (every DeltaGlider one, and every new
 * one) it picks the native `xdelta3` binary (DeltaGlider's own engine and delta sizes, any size, streams),
 * else `xdelta3-wasm` where its fixed memory suffices (any xdelta3 decodes its deltas), else no engine: the
 * file is stored directly and `why` says so. zstd is used only when asked for (`engine: "zstd"`), or by `auto`
 * in a deltaspace whose reference was created for zstd, so that a deltaspace never mixes formats unasked.
 * An explicit engine is honoured or fails with `delta.engineUnavailable`.
 */
export async function selectEncoder(
  engines: Engines,
  choice: EngineChoice,
  referenceSize: number,
  targetSize: number,
  deltaspaceFormat: DeltaFormat = "vcdiff",
): Promise<EncoderSelection> {
  if (choice !== "auto") {
    const engine = engines[choice];
    if (!(await engine.available())) {
      throw new DeltaError(
        "delta.engineUnavailable",
        `The \`${choice}\` engine is not available here; use \`engine: "auto"\`.`,
      );
    }
    if (!engine.canEncode(referenceSize, targetSize)) {
      throw new DeltaError(
        "delta.engineUnavailable",
        `The \`${choice}\` engine cannot encode a ${targetSize}-byte file against a ${referenceSize}-byte reference (size limit); use \`engine: "auto"\`.`,
      );
    }
    return { engine };
  }
  if (deltaspaceFormat === "zstd") {
    const zstd = engines.zstd;
    if ((await zstd.available()) && zstd.canEncode(referenceSize, targetSize)) return { engine: zstd };
    return {
      why: `the deltaspace holds zstd deltas and zstd cannot encode here (reference + file ${referenceSize + targetSize} bytes, or no zstd in node:zlib); auto does not mix formats in one deltaspace`,
    };
  }
  if (await engines.xdelta3.available()) return { engine: engines.xdelta3 };
  const wasm = engines["xdelta3-wasm"];
  const wasmUp = await wasm.available();
  if (wasmUp && wasm.canEncode(referenceSize, targetSize)) return { engine: wasm };
  return {
    why: `no xdelta3 binary on PATH (install xdelta3 for deltas of any size) and ${
      wasmUp
        ? `the file (${mib(targetSize)}) or reference (${mib(referenceSize)}) exceeds xdelta3-wasm's limits (file ≤ ${mib(WASM_MAX_TARGET_BYTES)}, reference ≤ ${mib(WASM_MAX_ENCODE_REFERENCE_BYTES)})`
        : "xdelta3-wasm could not be loaded"
    }; stored directly so DeltaGlider and any xdelta3 can still read it (engine: "zstd" makes a delta only s3kit reads)`,
  };
}

/** The engine to decode a stored delta with: the one recorded in its metadata, or a compatible one. */
export async function selectDecoder(
  engines: Engines,
  recorded: string,
  input: { referenceSize: number; fileSize: number; deltaHead: Uint8Array },
  key: string,
): Promise<DeltaEngine> {
  let candidates: DeltaEngine[];
  if (recorded === "zstd") candidates = [engines.zstd];
  else if (recorded === "xdelta3-wasm") candidates = [engines["xdelta3-wasm"], engines.xdelta3];
  else if (recorded === "xdelta3") candidates = [engines.xdelta3, engines["xdelta3-wasm"]];
  else {
    throw new DeltaError(
      "delta.engineUnavailable",
      `${key} was made by the engine \`${recorded}\`, which this version does not know; upgrade @toolkit/delta-store.`,
      { key },
    );
  }
  const reasons: string[] = [];
  for (const engine of candidates) {
    if (!(await engine.available())) {
      reasons.push(`${engine.name} is not installed`);
      continue;
    }
    const why = engine.cannotDecode(input);
    if (why === undefined) return engine;
    reasons.push(`${engine.name}: ${why}`);
  }
  throw new DeltaError(
    "delta.engineUnavailable",
    `Cannot decode ${key} (made by ${recorded}): ${reasons.join("; ")}. Install xdelta3 (apt install xdelta3) and retry.`,
    { key },
  );
}
