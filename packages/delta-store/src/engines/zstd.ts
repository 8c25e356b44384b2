import { createReadStream, createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { DeltaError } from "../errors.ts";
import type { DecodeInput, DeltaEngine, EncodeInput, EncodeResult } from "./engine.ts";

/** zstd's largest window on 64-bit builds: reference + file must fit in 2 GiB. */
export const ZSTD_MAX_WINDOW_LOG = 31;
const ZSTD_MIN_WINDOW_LOG = 20;

/** The window a delta of `target` against `reference` needs: matches may reach back over the whole reference. */
export function zstdWindowLog(referenceSize: number, targetSize: number): number {
  const needed = Math.ceil(Math.log2(Math.max(1, referenceSize + targetSize)));
  return Math.min(ZSTD_MAX_WINDOW_LOG, Math.max(ZSTD_MIN_WINDOW_LOG, needed));
}

class TooLarge extends Error {}

/**
 * zstd with the reference as a raw-content dictionary (`node:zlib`, Node >= 22.15), like `zstd --patch-from`:
 * long-distance matching and a window covering reference + file. The reference is held in memory.
 */
export function createZstdEngine(options: { level?: number } = {}): DeltaEngine {
  const level = options.level ?? 9;
  const hasZstd = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === "function";
  return {
    name: "zstd",
    available: async () => hasZstd,
    canEncode: (referenceSize, targetSize) => referenceSize + targetSize <= 2 ** ZSTD_MAX_WINDOW_LOG,
    cannotDecode: ({ deltaHead }) =>
      deltaHead.length >= 4 && !isZstdFrame(deltaHead) ? "the delta is not a zstd frame" : undefined,

    async encode(input: EncodeInput): Promise<EncodeResult> {
      if (!hasZstd)
        throw new DeltaError("delta.engineUnavailable", "This Node.js has no zstd in node:zlib (needs >= 22.15).");
      const windowLog = zstdWindowLog(input.referenceSize, input.targetSize);
      const dictionary = await readFile(input.referencePath, input.signal ? { signal: input.signal } : {});
      const { constants } = zlib;
      const compressor = zlib.createZstdCompress({
        dictionary,
        pledgedSrcSize: input.targetSize,
        params: {
          [constants.ZSTD_c_compressionLevel]: level,
          [constants.ZSTD_c_windowLog]: windowLog,
          [constants.ZSTD_c_enableLongDistanceMatching]: 1,
          [constants.ZSTD_c_checksumFlag]: 1,
        },
      } as zlib.ZstdOptions);
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          if (size > input.maxOutputBytes) return callback(new TooLarge());
          callback(null, chunk);
        },
      });
      const deltaCmd = `zstd -${level} --long=${windowLog} --patch-from=reference.bin ${basename(input.targetPath)}`;
      try {
        await pipeline(
          createReadStream(input.targetPath),
          compressor,
          counter,
          createWriteStream(input.outputPath),
          input.signal ? { signal: input.signal } : {},
        );
      } catch (error) {
        if (error instanceof TooLarge) return { tooLarge: true, size, deltaCmd, zstdWindowLog: windowLog };
        throw error;
      }
      return { tooLarge: false, size, deltaCmd, zstdWindowLog: windowLog };
    },

    async decode(input: DecodeInput): Promise<void> {
      if (!hasZstd)
        throw new DeltaError("delta.engineUnavailable", "This Node.js has no zstd in node:zlib (needs >= 22.15).");
      const dictionary = await readFile(input.referencePath, input.signal ? { signal: input.signal } : {});
      const { constants } = zlib;
      // The window a genuine delta of this file needs, never more than recorded: a hostile frame cannot make
      // the decoder allocate a larger window than the validated sizes justify.
      const windowLogMax = Math.min(
        input.meta.zstdWindowLog ?? ZSTD_MAX_WINDOW_LOG,
        zstdWindowLog(input.referenceSize, input.meta.fileSize),
      );
      const decompressor = zlib.createZstdDecompress({
        dictionary,
        params: { [constants.ZSTD_d_windowLogMax]: windowLogMax },
      } as zlib.ZstdOptions);
      try {
        await pipeline(input.delta, decompressor, input.sink, input.signal ? { signal: input.signal } : {});
      } catch (error) {
        if (input.signal?.aborted) throw input.signal.reason;
        if ((error as { code?: string }).code?.startsWith("ERR_ZSTD") || (error as { errno?: number }).errno) {
          throw new DeltaError(
            "delta.integrity",
            `zstd could not decode the delta: ${(error as Error).message}; the delta or reference is corrupt.`,
            { cause: error },
          );
        }
        throw error;
      }
    },
  };
}

function isZstdFrame(head: Uint8Array): boolean {
  return head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
}
