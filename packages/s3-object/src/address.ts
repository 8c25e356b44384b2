import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseLocation, validateKey } from "@toolkit/shared";
import { S3ObjectError } from "./errors.ts";

/** Where one object lives: the store that holds it and its key in that store. */
export interface ObjectAddress {
  /** The normalised URL, `s3://bucket/key` or `file:///abs/path`. */
  url: string;
  kind: "s3" | "file";
  /** The bucket (S3) or the parent directory (file). */
  container: string;
  /** URL of the store the object is read through: `s3://bucket/` or `file:///abs/dir`. */
  storeUrl: string;
  /** Key in that store. */
  key: string;
  /** Path segments of the default cache copy under the cache directory. */
  cacheSegments: string[];
}

const bad = (input: string, why: string) =>
  new S3ObjectError(
    "object.invalidUrl",
    `Invalid object URL ${JSON.stringify(input)}: ${why}. Use s3://bucket/path/to/key or file:///abs/path.`,
  );

/** The "why" of a shared location/key error, without its own prefix and advice. */
const reason = (error: unknown) =>
  (error as Error).message
    .replace(/^Invalid (?:location `[^`]*`|object key "(?:[^"\\]|\\.)*"): /, "")
    .replace(/\. Use .*$/, "")
    .replace(/\.$/, "");

/** Parse `s3://bucket/key` or `file:///abs/path` into an {@link ObjectAddress}. */
export function parseObjectUrl(input: string): ObjectAddress {
  if (typeof input !== "string" || input === "") throw bad(String(input), "it is empty");
  if (input.startsWith("s3://")) {
    const rest = input.slice("s3://".length);
    const slash = rest.indexOf("/");
    if (slash === -1 || slash === rest.length - 1) throw bad(input, "the object key is missing");
    const bucket = rest.slice(0, slash);
    const key = rest.slice(slash + 1);
    if (key.endsWith("/")) throw bad(input, "a key ending in `/` is a folder, not an object");
    try {
      parseLocation(`s3://${bucket}/`);
      validateKey(key);
    } catch (error) {
      throw bad(input, reason(error));
    }
    return {
      url: `s3://${bucket}/${key}`,
      kind: "s3",
      container: bucket,
      storeUrl: `s3://${bucket}/`,
      key,
      cacheSegments: [bucket, ...key.split("/")],
    };
  }
  if (input.startsWith("file:")) {
    let path: string;
    try {
      parseLocation(input);
      path = fileURLToPath(input);
    } catch (error) {
      throw bad(input, reason(error));
    }
    if (path.endsWith("/") || basename(path) === "") throw bad(input, "it names a directory, not a file");
    const dir = dirname(path);
    return {
      url: pathToFileURL(path).href,
      kind: "file",
      container: dir,
      storeUrl: pathToFileURL(dir).href,
      key: basename(path),
      cacheSegments: [".file", ...path.split(sep).filter((s) => s !== "")],
    };
  }
  throw bad(input, "the scheme is not s3:// or file://");
}

/** `$XDG_CACHE_HOME/s3kit/objects`, else `~/.cache/s3kit/objects`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  return join(base, "s3kit", "objects");
}

/**
 * `join(root, ...segments)`, refusing a result outside `root` (a key such as `a/../../x` from a listing).
 * @throws S3ObjectError `object.invalidUrl`
 */
export function pathInside(root: string, segments: string[], what: string): string {
  const base = resolve(root);
  const path = resolve(base, ...segments);
  const rel = relative(base, path);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new S3ObjectError(
      "object.invalidUrl",
      `${what} would be stored outside ${base} (at ${path}); rename the object or choose another local path.`,
    );
  }
  return path;
}
