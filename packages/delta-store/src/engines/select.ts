import { DeltaError } from "../errors.ts";
import type { EngineName } from "../metadata.ts";
import type { EngineChoice } from "../options.ts";
import type { DeltaEngine } from "./engine.ts";

export type Engines = Record<EngineName, DeltaEngine>;

/**
 * The engine for a new delta. `auto`, from the bench: xdelta3-wasm where its fixed memory suffices (files up
 * to 1 MiB: same delta sizes as the binary, ~6x the put rate since no process is spawned, and its deltas
 * decode with any xdelta3), else the native xdelta3 binary (DeltaGlider-compatible, streams any size,
 * smallest deltas on real releases), else zstd. `undefined` = no engine can do it (stored directly).
 */
export async function selectEncoder(
  engines: Engines,
  choice: EngineChoice,
  referenceSize: number,
  targetSize: number,
): Promise<DeltaEngine | undefined> {
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
    return engine;
  }
  for (const name of ["xdelta3-wasm", "xdelta3", "zstd"] as const) {
    const engine = engines[name];
    if ((await engine.available()) && engine.canEncode(referenceSize, targetSize)) return engine;
  }
  return undefined;
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
