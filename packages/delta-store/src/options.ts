import type { ConditionalWritesMode, Location, Logger, ObjectStore } from "@toolkit/shared";
import { z } from "zod";
import { DeltaError } from "./errors.ts";
import type { ReferenceCacheOptions } from "./reference-cache.ts";

/** `auto` picks per file from what is installed and what fits (see README); the others force one engine. */
export type EngineChoice = "auto" | "xdelta3" | "xdelta3-wasm" | "zstd";

/**
 * Extensions stored as deltas by default: DeltaGlider's list (archives, packages, images). Whole-stream
 * compressed formats rarely delta well, but `maxRatio` stores those directly when they do not.
 */
export const DEFAULT_DELTA_EXTENSIONS: readonly string[] = [
  ".tar.gz",
  ".tar.bz2",
  ".tar.xz",
  ".tar.zst",
  ".zip",
  ".tar",
  ".gz",
  ".tgz",
  ".bz2",
  ".xz",
  ".zst",
  ".7z",
  ".rar",
  ".dmg",
  ".iso",
  ".img",
  ".pkg",
  ".deb",
  ".rpm",
  ".apk",
  ".jar",
  ".war",
  ".ear",
  ".whl",
  ".bin",
  ".exe",
  ".so",
  ".dll",
  ".wasm",
  ".sql",
  ".dump",
  ".bak",
  ".backup",
];

export interface DeltaStoreOptions {
  /** `s3://bucket/prefix` or `file:///abs/dir`. */
  location: string | Location;
  /** An object store to use instead of opening `location` (it is not closed by `close()`). */
  store?: ObjectStore;
  /** S3 endpoint (MinIO, LocalStack, a test server). @default from the environment */
  endpoint?: string;
  region?: string;
  profile?: string;
  /** Static credentials (tests). @default the SDK's default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * A delta is kept only when `deltaBytes <= maxRatio * fileBytes`; otherwise the file is stored directly.
   * `1` keeps every delta no larger than its file. @default 0.5 (DeltaGlider's default, here enforced)
   */
  maxRatio?: number;
  /** Delta engine for new deltas. Existing deltas are always decoded with the engine that made them. @default "auto" */
  engine?: EngineChoice;
  /** File-name suffixes (case-insensitive) that are tried as deltas; others are stored directly. @default {@link DEFAULT_DELTA_EXTENSIONS} */
  deltaExtensions?: readonly string[];
  /** Store every file directly (no references, no deltas). @default false */
  noDelta?: boolean;
  /** Reference cache on the local disk. */
  cache?: ReferenceCacheOptions;
  /** The native xdelta3 binary. @default "xdelta3" (looked up on PATH) */
  xdelta3Path?: string;
  /** zstd level for the `zstd` engine (1-22). Above 12 it gets ~20x slower for little gain (see README). @default 9 */
  zstdLevel?: number;
  /** Requests in flight for listings (HEAD per delta), `sync` and bulk deletes. @default 8 */
  concurrency?: number;
  logger?: Logger;
  /**
   * How the reference's `If-None-Match: *` and the `If-Match` deletes are enforced on the store this opens
   * (not on a `store` you pass). `probe`: learn once per endpoint and bucket whether PutObject honours them
   * (`probeConditionalPut`, four requests then cached a day) and otherwise HEAD first, with one warning;
   * `headFirst`: always HEAD first; `native`: the headers alone. @default "probe"
   */
  conditionalWrites?: ConditionalWritesMode;
  /** Called once with a one-line warning when conditional writes fall back to a HEAD check (also `warnings`, logged at `warn`). */
  onWarning?: (message: string) => void;
}

const engineSchema = z.enum(["auto", "xdelta3", "xdelta3-wasm", "zstd"]);

const optionsSchema = z.object({
  location: z.union([z.string().min(1), z.object({ kind: z.enum(["s3", "file"]) }).loose()]),
  store: z.custom<ObjectStore>().optional(),
  endpoint: z.string().optional(),
  region: z.string().optional(),
  profile: z.string().optional(),
  credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).loose().optional(),
  maxRatio: z.number().gt(0).lte(1).optional(),
  engine: engineSchema.optional(),
  deltaExtensions: z.array(z.string().min(1)).optional(),
  noDelta: z.boolean().optional(),
  cache: z
    .object({
      dir: z.string().min(1).optional(),
      maxBytes: z.number().int().min(0).optional(),
      encryptionKeyEnv: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
  xdelta3Path: z.string().min(1).optional(),
  zstdLevel: z.number().int().min(1).max(22).optional(),
  concurrency: z.number().int().min(1).max(256).optional(),
  logger: z.custom<Logger>().optional(),
  conditionalWrites: z.enum(["native", "headFirst", "probe"]).optional(),
  onWarning: z.custom<(message: string) => void>((v) => typeof v === "function", "expected a function").optional(),
});

function describe(value: unknown, path: string): string {
  if (path.startsWith("credentials")) return "<redacted>";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Validate with a zod schema and throw one `delta.invalidOptions` line naming the option and the bad value. */
export function parseOptions<T>(schema: z.ZodType<T>, input: unknown, fn: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join(".") || "options";
  let value: unknown = input;
  for (const segment of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[segment];
  throw new DeltaError(
    "delta.invalidOptions",
    `${fn}: invalid \`${path}\` (${describe(value, path)}): ${issue.message}.`,
  );
}

export function validateStoreOptions(options: DeltaStoreOptions): DeltaStoreOptions {
  parseOptions(optionsSchema, options, "createDeltaStore");
  return options;
}

export const putOptionsSchema = z
  .object({
    maxRatio: z.number().gt(0).lte(1).optional(),
    engine: engineSchema.optional(),
    noDelta: z.boolean().optional(),
    signal: z.instanceof(AbortSignal).optional(),
    onProgress: z.custom<(p: unknown) => void>((v) => typeof v === "function", "expected a function").optional(),
  })
  .strict();
