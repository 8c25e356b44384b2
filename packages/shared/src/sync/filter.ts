import picomatch from "picomatch";

const PROBE = "\u0001s3kit-probe";

/**
 * Which relative paths take part in a sync. Paths and keys are POSIX-style and NFC-normalised.
 *
 * The one filter dialect of every s3kit sync (photo-sync, object sync, delta sync), rclone-like; the table
 * of examples is in `@toolkit/shared`'s README. Pattern rules:
 * - a pattern matches the whole relative path; one that does not start with `/` matches at any depth
 *   (`*.tmp` matches `a/b/c.tmp`, `*.lrdata/**` matches everything in `2024/Cat Previews.lrdata/`);
 * - a leading `/` anchors the pattern at the source root (`/Exports/**`);
 * - a directory is skipped whole (not even read) when a pattern matches the directory itself or
 *   any name directly in it, so `*.lrdata` and `*.lrdata/**` both exclude preview folders.
 * - with includes, a file takes part only when it matches one of them (and no exclude).
 */
export interface PathFilter {
  /** True when the file at this relative path is excluded (by a pattern on it or on a folder above it). */
  isExcluded(relativePath: string): boolean;
  /** True when this relative directory path is excluded as a whole. */
  isDirectoryExcluded(relativeDirectory: string): boolean;
  /** True when the file takes part (not excluded, and included when includes are given). */
  accepts(relativePath: string): boolean;
}

function normalisePattern(pattern: string): string {
  let p = pattern.normalize("NFC").replaceAll("\\", "/");
  if (p.startsWith("./")) p = p.slice(2);
  if (p.startsWith("/")) return p.slice(1);
  if (p.startsWith("**/")) return p;
  return `**/${p}`;
}

/**
 * A matcher for any of `patterns`, as `picomatch(patterns, { dot: true })` decides (a non-empty path equal to a
 * pattern, or matched by its regular expression), but as one regular expression: picomatch's matcher allocates
 * and checks options on every call, ~5 µs per path and pattern (a sync tests each file and each listed key;
 * issue 15 (b): ~20 ms of a 2,000-file no-change backup with the 7 default excludes).
 */
function matcherOf(patterns: readonly string[]): (path: string) => boolean {
  const globs = patterns.map(normalisePattern);
  const regexps = globs.map((glob) => picomatch.makeRe(glob, { dot: true }));
  const flags = regexps[0]?.flags ?? "";
  const one = regexps.every((r) => r.flags === flags)
    ? [new RegExp(regexps.map((r) => `(?:${r.source})`).join("|"), flags)]
    : regexps;
  const literal = new Set(globs);
  return (path) => path !== "" && (literal.has(path) || one.some((r) => r.test(path)));
}

/** Build the filter for the given exclude and include globs. */
export function createPathFilter(exclude: readonly string[], include: readonly string[] = []): PathFilter {
  const never = () => false;
  const excludeMatch = exclude.length > 0 ? matcherOf(exclude) : never;
  const includeMatch = include.length > 0 ? matcherOf(include) : undefined;
  const directoryCache = new Map<string, boolean>();

  function isDirectoryExcluded(dir: string): boolean {
    if (dir === "") return false;
    const cached = directoryCache.get(dir);
    if (cached !== undefined) return cached;
    const slash = dir.lastIndexOf("/");
    const excluded =
      (slash !== -1 && isDirectoryExcluded(dir.slice(0, slash))) ||
      excludeMatch(dir) ||
      excludeMatch(`${dir}/${PROBE}`);
    // Bounded: remote keys can name many folders; the cache only helps within one folder run.
    if (directoryCache.size > 10_000) directoryCache.clear();
    directoryCache.set(dir, excluded);
    return excluded;
  }

  function isExcluded(path: string): boolean {
    if (excludeMatch(path)) return true;
    const slash = path.lastIndexOf("/");
    return slash !== -1 && isDirectoryExcluded(path.slice(0, slash));
  }

  return {
    isExcluded,
    isDirectoryExcluded,
    accepts: (path) => !isExcluded(path) && (includeMatch === undefined || includeMatch(path)),
  };
}
