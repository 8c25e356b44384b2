import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeltaError } from "../errors.ts";
import type { DecodeInput, DeltaEngine, EncodeInput, EncodeResult } from "./engine.ts";

const MIB = 1024 * 1024;
/** xdelta3's default source window (`-B`). */
const DEFAULT_SOURCE_WINDOW_BYTES = 64 * MIB;
/**
 * Largest `-B` we pass. Measured with xdelta3 3.0.11 `-9` on a 256 MiB file: encode peaks at ~3.2x the
 * window (831 MiB RSS at 256 MiB, 241 MiB at 64 MiB), decode at ~1x (272 MiB). Capping it bounds memory for
 * any artifact size; beyond it only matches farther apart than the window are missed.
 */
export const MAX_SOURCE_WINDOW_BYTES = 256 * MIB;

/** `-B` for a reference: the whole reference in one window (so every match is found), at least the default. */
export function sourceWindowBytes(referenceSize: number): number {
  let window = DEFAULT_SOURCE_WINDOW_BYTES;
  while (window < referenceSize && window < MAX_SOURCE_WINDOW_BYTES) window *= 2;
  return window;
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

/** The native `xdelta3` binary (Debian's 3.0.11 with LZMA secondary compression): streams any size. */
export function createNativeXdelta3Engine(
  binary = "xdelta3",
): DeltaEngine & { version(): Promise<string | undefined> } {
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
      // DeltaGlider runs `xdelta3 -e -9 -s reference.bin new out`; -B only widens the match window so that
      // references larger than 64 MiB are searched whole (the output format is the same).
      const window = sourceWindowBytes(input.referenceSize);
      const args = ["-e", "-f", "-9", ...(window !== DEFAULT_SOURCE_WINDOW_BYTES ? ["-B", String(window)] : [])];
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
