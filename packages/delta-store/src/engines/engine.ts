import type { Readable, Writable } from "node:stream";
import type { DeltaMeta, EngineName } from "../metadata.ts";

export interface EncodeInput {
  /** The reference, a plain file on the local disk (seekable). */
  referencePath: string;
  referenceSize: number;
  /** The new version. */
  targetPath: string;
  targetSize: number;
  /** Where the delta goes (created or overwritten). */
  outputPath: string;
  /** Stop early and report `tooLarge` once the delta would exceed this many bytes. */
  maxOutputBytes: number;
  signal?: AbortSignal;
}

export interface EncodeResult {
  /** `true` when the delta exceeded `maxOutputBytes` (the output file is then unusable). */
  tooLarge: boolean;
  /** Bytes of the delta (when not too large). */
  size: number;
  /** The command line an xdelta3 user would type to make the same delta (`dg-delta-cmd`). */
  deltaCmd: string;
  /** Window log a zstd delta needs on decode. */
  zstdWindowLog?: number;
}

export interface DecodeInput {
  referencePath: string;
  referenceSize: number;
  /** The delta's bytes as a stream (straight from the store). */
  delta: Readable;
  /** The delta's size in bytes. */
  deltaSize: number;
  /** Receives the reconstructed file; `decode` resolves once it has finished. */
  sink: Writable;
  meta: DeltaMeta;
  signal?: AbortSignal;
}

/** A delta codec. Each one is a separate module so that `auto` can choose by what is installed and by size. */
export interface DeltaEngine {
  readonly name: EngineName;
  /** Whether the engine runs here (binary installed, zlib has zstd, …). Memoised. */
  available(): Promise<boolean>;
  /** Whether it can encode these sizes (the wasm build has a fixed memory). */
  canEncode(referenceSize: number, targetSize: number): boolean;
  /** Whether it can decode this delta (sizes; the wasm build has no LZMA). `undefined` = yes. */
  cannotDecode(input: { referenceSize: number; fileSize: number; deltaHead: Uint8Array }): string | undefined;
  encode(input: EncodeInput): Promise<EncodeResult>;
  decode(input: DecodeInput): Promise<void>;
}

/** VCDIFF: `D6 C3 C4 00`, then the header indicator; bit 0 says a secondary compressor (LZMA, DJW, FGK) follows. */
export function vcdiffSecondaryCompressor(head: Uint8Array): boolean {
  return head.length >= 5 && head[0] === 0xd6 && head[1] === 0xc3 && head[2] === 0xc4 && (head[4]! & 0x01) === 1;
}

export function isVcdiff(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0xd6 && head[1] === 0xc3 && head[2] === 0xc4 && head[3] === 0x00;
}
