import { posix, win32 } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import type { z } from "zod";
import { ObjectStoreError } from "../errors.ts";

// The trust boundary: everything a bucket, a `file://` store or a table returns (keys, metadata, manifest
// entries, listing rows, sizes) is a plain `string`/`unknown` until one of these functions has parsed it.
// Only their branded results may reach the file system, a cache path, an allocation or a delete.

declare const brand: unique symbol;
/** A SHA-256 digest as exactly 64 lowercase hex characters, parsed from untrusted input. */
export type Sha256Hex = string & { readonly [brand]: "Sha256Hex" };
/** A relative path of plain segments (no `..`, `.`, empty segment, NUL, drive or root): safe to join under a folder. */
export type SafeRelativePath = string & { readonly [brand]: "SafeRelativePath" };

const SHA256_HEX = /^[0-9a-f]{64}$/;

function untrusted(what: string, value: unknown, why: string): ObjectStoreError {
  const shown =
    typeof value === "string" ? JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value) : String(value);
  return new ObjectStoreError("invalidRemoteData", `${what} is ${shown}: ${why}.`);
}

/** True when `value` is exactly 64 lowercase hex characters. */
export function isSha256Hex(value: unknown): value is Sha256Hex {
  return typeof value === "string" && SHA256_HEX.test(value);
}

/**
 * Parse a SHA-256 hex digest that came from a remote (metadata, a manifest, a file name).
 * @param what names the value in the error, e.g. `metadata dg-file-sha256 of s3://b/x.delta`.
 * @throws ObjectStoreError `invalidRemoteData` naming `what` and the value.
 */
export function parseSha256Hex(value: unknown, what: string): Sha256Hex {
  if (!isSha256Hex(value)) throw untrusted(what, value, "expected 64 lowercase hex characters (a SHA-256 digest)");
  return value;
}

/**
 * Parse a size in bytes that came from a remote: a safe non-negative integer (a number, or a string of digits).
 * @param maxBytes refuse sizes above this. @default Number.MAX_SAFE_INTEGER
 * @throws ObjectStoreError `invalidRemoteData` naming `what` and the value.
 */
export function parseSize(value: unknown, what: string, maxBytes = Number.MAX_SAFE_INTEGER): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d{1,16}$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw untrusted(what, value, "expected a non-negative integer number of bytes");
  if (n > maxBytes) throw untrusted(what, value, `larger than the allowed ${maxBytes} bytes`);
  return n;
}

/**
 * Parse a remote value (metadata record, manifest entry, listing row) with a zod schema.
 * @throws ObjectStoreError `invalidRemoteData` naming `what` and the first issue.
 */
export function parseRemote<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
  throw new ObjectStoreError("invalidRemoteData", `${what} is not valid${where}: ${issue?.message ?? "invalid"}.`, {
    cause: result.error,
  });
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Options of {@link keyToLocalPath}. */
export interface KeyToLocalPathOptions {
  /** Whose path rules apply. `win32` also refuses `\`, `:`, `*?"<>|`, control characters, reserved names (CON, NUL, COM1…) and segments ending in `.` or space. @default process.platform */
  platform?: NodeJS.Platform;
}

/**
 * The one way a remote key becomes a local path: `root` joined with the key's segments, after refusing
 * `..` and `.` segments, an absolute key, NUL, empty segments (`a//b`, a trailing `/`) and, for Windows,
 * `\`, `:`, reserved names and characters. The result is always inside `root`.
 * @returns the safe relative path (with the platform's separator) and the absolute path.
 * @throws ObjectStoreError `invalidRemoteData` naming the key and the reason: callers report it as one failed item.
 */
export function keyToLocalPath(
  root: string,
  key: string,
  options: KeyToLocalPathOptions = {},
): { relative: SafeRelativePath; absolute: string } {
  const windows = (options.platform ?? process.platform) === "win32";
  const paths = windows ? win32 : posix;
  const bad = (why: string) => untrusted("Object key", key, `${why}; it cannot become a local path`);
  if (typeof key !== "string" || key === "") throw bad("it is empty");
  if (key.includes("\0")) throw bad("it contains a NUL character");
  if (key.startsWith("/")) throw bad("it is absolute");
  const segments = key.split("/");
  for (const segment of segments) {
    if (segment === "") throw bad("it has an empty path segment");
    if (segment === "." || segment === "..") throw bad(`it has a \`${segment}\` segment`);
    if (windows) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what Windows refuses.
      if (/[\\:*?"<>|\u0000-\u001f]/.test(segment))
        throw bad("it has a character Windows does not allow in file names");
      if (WINDOWS_RESERVED.test(segment)) throw bad(`\`${segment}\` is a reserved file name on Windows`);
      if (/[. ]$/.test(segment)) throw bad("a segment ends in `.` or a space, which Windows drops");
    }
  }
  const relative = paths.join(...segments);
  const absolute = paths.resolve(root, relative);
  const rel = paths.relative(paths.resolve(root), absolute);
  // Belt and braces: the checks above already make this impossible.
  if (rel === "" || rel.startsWith("..") || paths.isAbsolute(rel)) throw bad("it resolves outside the target folder");
  return { relative: relative as SafeRelativePath, absolute };
}

/**
 * A pass-through stream that fails as soon as more than `limitBytes` pass (a decompression bomb, a body
 * longer than its declared size), before the excess is written anywhere.
 * @param what names the data in the error, e.g. `s3://b/x.delta decoded`.
 */
export function createSizeLimit(limitBytes: number, what: string): Transform {
  const count = createSizeCounter(limitBytes, what);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        count(chunk.length);
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback(null, chunk);
    },
  });
}

/**
 * The check of {@link createSizeLimit} for a loop that reads a body itself (no stream layer per chunk): call it
 * with each chunk's length before using the chunk; it throws `invalidRemoteData` once more than `limitBytes`
 * arrived, so the excess is never written.
 */
export function createSizeCounter(limitBytes: number, what: string): (chunkBytes: number) => void {
  let seen = 0;
  return (chunkBytes) => {
    seen += chunkBytes;
    if (seen > limitBytes) {
      throw new ObjectStoreError(
        "invalidRemoteData",
        `${what} is larger than its declared ${limitBytes} bytes; the data is corrupt or hostile and was not written.`,
      );
    }
  };
}
