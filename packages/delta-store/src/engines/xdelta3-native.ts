import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeltaError } from "../errors.ts";
import type { DecodeInput, DeltaEngine, EncodeInput, EncodeResult } from "./engine.ts";

const MIB = 1024 * 1024;
/** Smallest `-B` we pass (xdelta3 refuses less than 512 KiB). */
export const MIN_SOURCE_WINDOW_BYTES = MIB;
/**
 * Largest `-B` we pass. Measured with xdelta3 3.0.11 `-9` on a 256 MiB file: encode peaks at ~3.2x the
 * window (831 MiB RSS at 256 MiB, 241 MiB at 64 MiB), decode at ~1x (272 MiB). Capping it bounds memory for
 * any artifact size; beyond it only matches farther apart than the window are missed.
 */
export const MAX_SOURCE_WINDOW_BYTES = 256 * MIB;
/**
 * `-W`: the input (target) window, xdelta3's largest (16 MiB; its default is 8 MiB). A file up to 16 MiB is
 * one window, so its matches and its LZMA section are not cut in two; on the prettier corpus (10 MB tars) this
 * made deltas 11 % smaller at `-9` and 11 % at `-6` (README "Choosing the xdelta3 settings"). xdelta3 sizes
 * the window down to small files itself, so it costs nothing there.
 */
export const INPUT_WINDOW_BYTES = 16 * MIB;
/**
 * The compression level (`-1` … `-9`). Chosen from the measured sweep (README "Choosing the xdelta3
 * settings"): with `-B` sized to the reference and `-W 16 MiB`, this level makes deltas no larger than
 * DeltaGlider's `xdelta3 -e -9 -s` on the bench corpora for a fraction of its CPU.
 */
export const DEFAULT_XDELTA3_LEVEL = 6;

/**
 * `-B` for a reference: the reference size rounded up to a power of two (so the whole reference is one window
 * and every match is found), between 1 MiB and 256 MiB. Not xdelta3's 64 MiB default: the encoder allocates
 * and clears hash tables sized by `-B`, which cost a 900 KB file ~0.47 s of CPU and 138 MiB of RSS at 64 MiB
 * against ~0.02 s and 9 MiB at 1 MiB, and a 10 MB file ~40 % of its encode CPU (measured, README).
 */
export function sourceWindowBytes(referenceSize: number): number {
  let window = MIN_SOURCE_WINDOW_BYTES;
  while (window < referenceSize && window < MAX_SOURCE_WINDOW_BYTES) window *= 2;
  return window;
}

/**
 * The `xdelta3 -e` flags for a reference of this size (before `-s`): `-e -f -6 -N -B <reference, rounded up>
 * -W 16 MiB`. `-N` skips xdelta3's search for repeats inside the new file itself (matches against the
 * reference are still all searched): the LZMA secondary compression of the added bytes finds most of those
 * repeats anyway, so it cost +6.6 % delta bytes at `-6` on prettier for a third less CPU, and nothing on the
 * synthetic corpus.
 */
export function encodeFlags(referenceSize: number, level: number = DEFAULT_XDELTA3_LEVEL): string[] {
  return [
    "-e",
    "-f",
    `-${level}`,
    "-N",
    "-B",
    String(sourceWindowBytes(referenceSize)),
    "-W",
    String(INPUT_WINDOW_BYTES),
  ];
}

interface Run {
  code: number | null;
  stderr: string;
}

function run(
  binary: string,
  args: string[],
  io: { stdin?: Readable; stdout?: Writable; signal?: AbortSignal },
): Promise<Run> {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(binary, args, {
      stdio: [io.stdin ? "pipe" : "ignore", io.stdout ? "pipe" : "ignore", "pipe"],
      ...(io.signal ? { signal: io.signal } : {}),
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      if (stderr.length < 4096) stderr += text;
    });
    const streams: Promise<void>[] = [];
    // A decoder that stops early closes stdin: EPIPE there is reported through the exit code instead.
    if (io.stdin) streams.push(pipeline(io.stdin, child.stdin!).catch(() => {}));
    let outError: unknown;
    if (io.stdout)
      streams.push(
        pipeline(child.stdout!, io.stdout).catch((error: unknown) => {
          outError = error;
        }),
      );
    child.on("error", (error) => {
      io.stdin?.destroy();
      reject(io.signal?.aborted ? io.signal.reason : error);
    });
    child.on("close", (code) => {
      void Promise.all(streams).then(() => {
        if (io.signal?.aborted) return reject(io.signal.reason);
        // The sink failed (e.g. the size cap tripped, then the child died of SIGPIPE): that is the cause.
        if (outError) return reject(outError);
        resolve({ code, stderr: stderr.trim() });
      });
    });
  });
}

/**
 * The native `xdelta3` binary (Debian's 3.0.11 with LZMA secondary compression): streams any size.
 * `level` (1–9) is for measurements; the store always uses {@link DEFAULT_XDELTA3_LEVEL}.
 */
export function createNativeXdelta3Engine(
  binary = "xdelta3",
  options: { level?: number } = {},
): DeltaEngine & { version(): Promise<string | undefined> } {
  const level = options.level ?? DEFAULT_XDELTA3_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new DeltaError("delta.invalidOptions", `xdelta3 level must be an integer from 1 to 9, not ${level}.`);
  }
  let probe: Promise<Run | undefined> | undefined;
  const probeOnce = () => {
    probe ??= run(binary, ["-V"], {}).catch(() => undefined);
    return probe;
  };
  return {
    name: "xdelta3",
    async available() {
      return (await probeOnce())?.code === 0;
    },
    /** `3.0.11` from `xdelta3 -V` (printed on stderr), when the binary runs. */
    async version() {
      const r = await probeOnce();
      return r?.code === 0 ? /version ([0-9][\w.]*)/i.exec(r.stderr)?.[1] : undefined;
    },
    canEncode: () => true,
    cannotDecode: () => undefined,

    async encode(input: EncodeInput): Promise<EncodeResult> {
      // DeltaGlider runs `xdelta3 -e -9 -s reference.bin new out`. The flags here change only how the encoder
      // searches (level, -B, -W), not the format: a plain `xdelta3 -d -s reference.bin` (DeltaGlider's read)
      // decodes the result, LZMA secondary compression included.
      const args = encodeFlags(input.referenceSize, level);
      const result = await run(binary, [...args, "-s", input.referencePath, input.targetPath, input.outputPath], {
        ...(input.signal ? { signal: input.signal } : {}),
      });
      if (result.code !== 0) {
        throw new DeltaError(
          "delta.engineFailed",
          `xdelta3 failed to encode ${basename(input.targetPath)} (exit ${result.code}): ${result.stderr || "no message"}.`,
        );
      }
      const size = (await stat(input.outputPath)).size;
      return {
        tooLarge: size > input.maxOutputBytes,
        size,
        deltaCmd: `xdelta3 ${args.join(" ")} -s reference.bin ${basename(input.targetPath)}`,
      };
    },

    async decode(input: DecodeInput): Promise<void> {
      // The whole reference in one source window (up to the cap), whatever -B the delta was made with: the
      // format does not record it, and the decoder reads the (seekable) reference file by block as needed.
      const window = sourceWindowBytes(input.referenceSize);
      const args = ["-d", "-c", "-B", String(window), "-s", input.referencePath];
      const result = await run(binary, args, {
        stdin: input.delta,
        stdout: input.sink,
        ...(input.signal ? { signal: input.signal } : {}),
      });
      if (result.code !== 0) {
        throw new DeltaError(
          "delta.integrity",
          `xdelta3 could not decode the delta (exit ${result.code}): ${result.stderr || "no message"}; the delta or reference is corrupt.`,
        );
      }
    },
  };
}
