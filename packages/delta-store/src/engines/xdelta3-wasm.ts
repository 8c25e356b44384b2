import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { DeltaError } from "../errors.ts";
import {
  type DecodeInput,
  type DeltaEngine,
  type EncodeInput,
  type EncodeResult,
  vcdiffSecondaryCompressor,
} from "./engine.ts";

const MIB = 1024 * 1024;
/**
 * Measured limits of `xdelta3-wasm@1.0.0` (fixed 16 MiB memory, no growth): encoding a 1 MiB input works,
 * 1.004 MiB returns ENOMEM, whatever the output limit; the source may be larger (2 MiB source with a
 * 0.5 MiB input works). Decoding works with a 4 MiB source and 4 MiB output, fails at 6 MiB.
 * We stay inside what was measured and fall back to another engine beyond it.
 */
export const WASM_MAX_TARGET_BYTES = 1 * MIB;
export const WASM_MAX_ENCODE_REFERENCE_BYTES = 2 * MIB;
export const WASM_MAX_DECODE_BYTES = 8 * MIB;

type Wasm = typeof import("xdelta3-wasm");
let loading: Promise<Wasm | undefined> | undefined;

function load(): Promise<Wasm | undefined> {
  loading ??= (async () => {
    try {
      const wasm = await import("xdelta3-wasm");
      await wasm.init();
      return wasm;
    } catch {
      return undefined;
    }
  })();
  return loading;
}

async function wasmOrThrow(): Promise<Wasm> {
  const wasm = await load();
  if (!wasm) throw new DeltaError("delta.engineUnavailable", "The xdelta3-wasm engine could not be loaded.");
  return wasm;
}

/**
 * The `xdelta3-wasm` package: xdelta3 3.1.1 compiled to WebAssembly, whole-buffer only, no LZMA. Used for
 * small inputs where spawning a process costs more than the work, and where no `xdelta3` binary exists.
 */
export function createWasmXdelta3Engine(): DeltaEngine {
  return {
    name: "xdelta3-wasm",
    available: async () => (await load()) !== undefined,
    canEncode: (referenceSize, targetSize) =>
      targetSize <= WASM_MAX_TARGET_BYTES && referenceSize <= WASM_MAX_ENCODE_REFERENCE_BYTES,
    cannotDecode({ referenceSize, fileSize, deltaHead }) {
      if (vcdiffSecondaryCompressor(deltaHead)) {
        return "the delta uses secondary (LZMA) compression, which xdelta3-wasm cannot decode";
      }
      if (referenceSize + fileSize > WASM_MAX_DECODE_BYTES) {
        return `reference + file (${referenceSize + fileSize} bytes) exceed xdelta3-wasm's ${WASM_MAX_DECODE_BYTES}-byte limit`;
      }
      return undefined;
    },

    async encode(input: EncodeInput): Promise<EncodeResult> {
      const wasm = await wasmOrThrow();
      input.signal?.throwIfAborted();
      const [reference, target] = await Promise.all([readFile(input.referencePath), readFile(input.targetPath)]);
      // The output limit doubles as the ratio check: ENOSPC means the delta would be too large.
      const limit = Math.max(64, Math.min(input.maxOutputBytes, target.length + 1024));
      const result = wasm.xd3_encode_memory(target, reference, limit, wasm.xd3_smatch_cfg.DEFAULT);
      const deltaCmd = `xdelta3 -e -S none -s reference.bin ${basename(input.targetPath)}`;
      if (result.str === "ENOSPC") return { tooLarge: true, size: limit + 1, deltaCmd };
      if (result.ret !== 0) {
        throw new DeltaError(
          "delta.engineFailed",
          `xdelta3-wasm failed to encode ${basename(input.targetPath)}: ${result.str}.`,
        );
      }
      await writeFile(input.outputPath, result.output, input.signal ? { signal: input.signal } : {});
      return { tooLarge: result.output.length > input.maxOutputBytes, size: result.output.length, deltaCmd };
    },

    async decode(input: DecodeInput): Promise<void> {
      const wasm = await wasmOrThrow();
      const chunks: Buffer[] = [];
      let deltaBytes = 0;
      for await (const chunk of input.delta) {
        input.signal?.throwIfAborted();
        deltaBytes += (chunk as Buffer).length;
        // Whole-buffer decoding: a delta larger than the module's memory is refused before it is held.
        if (deltaBytes > WASM_MAX_DECODE_BYTES) {
          input.delta.destroy();
          throw new DeltaError(
            "delta.integrity",
            `the delta is larger than ${WASM_MAX_DECODE_BYTES} bytes, more than xdelta3-wasm can hold; it is corrupt or needs the xdelta3 binary.`,
          );
        }
        chunks.push(chunk as Buffer);
      }
      const reference = await readFile(input.referencePath);
      const result = wasm.xd3_decode_memory(Buffer.concat(chunks), reference, input.meta.fileSize + 1);
      if (result.ret !== 0) {
        throw new DeltaError(
          "delta.integrity",
          `xdelta3-wasm could not decode the delta: ${result.str}; the delta or reference is corrupt.`,
        );
      }
      await new Promise<void>((resolve, reject) => {
        input.sink.on("error", reject);
        input.sink.end(Buffer.from(result.output), () => resolve());
      });
    },
  };
}
