import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ObjectStoreError } from "./errors.ts";

/** Where objects live: a prefix in an S3 bucket, or a directory on the local disk. */
export type Location =
  | {
      kind: "s3";
      bucket: string;
      /** Key prefix, empty or ending in `/` (the prefix is always a folder boundary). */
      prefix: string;
    }
  | {
      kind: "file";
      /** Absolute path of the directory that holds the objects. */
      root: string;
    };

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function invalid(input: string, why: string): ObjectStoreError {
  return new ObjectStoreError(
    "invalidLocation",
    `Invalid location \`${input}\`: ${why}. Use s3://bucket/prefix or file:///absolute/dir.`,
  );
}

function checkSegments(input: string, path: string): void {
  for (const segment of path.split("/")) {
    if (segment === ".." || segment === ".") throw invalid(input, `\`${segment}\` path segments are not allowed`);
  }
  if (path.includes("\0")) throw invalid(input, "it contains a NUL character");
}

/**
 * Parse `s3://bucket/prefix` or `file:///abs/dir` into a {@link Location}.
 * The S3 prefix is normalised to end in `/` so that `s3://b/Lightroom` never reaches `Lightroom Backups/`.
 * @throws ObjectStoreError with code `invalidLocation` naming the input.
 */
export function parseLocation(input: string): Location {
  if (typeof input !== "string" || input.trim() === "") throw invalid(String(input), "it is empty");
  if (input.startsWith("s3://")) {
    const rest = input.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    let prefix = slash === -1 ? "" : rest.slice(slash + 1);
    if (bucket === "") throw invalid(input, "the bucket name is missing");
    if (!BUCKET_NAME.test(bucket) || bucket.includes("..")) {
      throw invalid(input, `\`${bucket}\` is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-')`);
    }
    if (prefix.startsWith("/")) throw invalid(input, "the prefix starts with `/`");
    // A query or fragment is never part of a location (and may carry a signature): refuse it, do not keep it.
    if (/[?#]/.test(rest)) {
      throw invalid(input.replace(/[?#].*$/, "?…"), "it has a query or fragment (`?` or `#`), which is not shown here");
    }
    if (prefix.includes("//")) throw invalid(input, "the prefix contains an empty segment (`//`)");
    checkSegments(input, prefix);
    if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
    return { kind: "s3", bucket, prefix };
  }
  if (input.startsWith("file:")) {
    if (!input.startsWith("file:///")) {
      throw invalid(input, "a file URL must be absolute (three slashes, e.g. file:///home/me/data)");
    }
    let root: string;
    try {
      // Check the raw text too: the URL parser would silently resolve `..` segments away.
      checkSegments(input, decodeURIComponent(new URL(input).pathname.replace(/\/+$/, "")));
      checkSegments(input, input.slice("file://".length));
      root = fileURLToPath(input);
    } catch (error) {
      if (error instanceof ObjectStoreError) throw error;
      throw invalid(input, "it is not a valid file URL");
    }
    if (!isAbsolute(root)) throw invalid(input, "the path is not absolute");
    if (root.length > 1 && root.endsWith("/")) root = root.replace(/\/+$/, "");
    return { kind: "file", root };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw invalid(input, `the scheme \`${input.split(":")[0]}\` is not supported`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/?(?!\/)/i.exec(input);
  if (scheme) {
    throw invalid(input, `\`${scheme[1]}:\` is followed by two slashes`);
  }
  throw invalid(input, "it has no scheme");
}

/**
 * Like {@link parseLocation}, but also accepts a plain local path (`./backup`, `/srv/data`), as a CLI would.
 */
export function parseLocationOrPath(input: string, cwd: string = process.cwd()): Location {
  if (/^[a-z][a-z0-9+.-]*:/i.test(input)) return parseLocation(input);
  if (input.trim() === "") throw invalid(input, "it is empty");
  return parseLocation(pathToFileURL(resolve(cwd, input)).href);
}

/** The URL of a location (and optionally of a key in it), e.g. `s3://bucket/prefix/key`. */
export function formatLocation(location: Location, key = ""): string {
  if (location.kind === "s3") return `s3://${location.bucket}/${location.prefix}${key}`;
  return pathToFileURL(location.root).href + (key === "" ? "" : `/${key}`);
}
